"""Whether the autograder can isolate student code here, for the tests that grade.

The round trips and the Dask test grade submissions that the tests themselves wrote, so where
bubblewrap is missing or cannot create namespaces they grade them without isolation
(`unsafe=True`) and the test run says so once at the end (see conftest.py). Only the tests that
check the isolation itself need it: they are marked `needs_sandbox` and skip with the reason.
"""
import pytest

from autograder import sandbox

WHY_NOT = sandbox.check()       # None where bubblewrap works here
UNSAFE = WHY_NOT is not None    # grade the tests' own submissions without isolation
needs_sandbox = pytest.mark.skipif(UNSAFE, reason=f"checks the sandbox, which is unavailable here: {WHY_NOT}")
