"""Answer cells of A2 written independently, for tests/test_similarity.py: one module per honest
author, each a dict grade id -> the code of that answer cell (the rest of the notebook as released)."""
