"""cnnkit: the helper library every notebook of the course imports.

Small modules, each with one job:

- ``gradcheck``: numerical gradients (centred differences) and ``rel_error``.
- ``layers``: numpy layers in the ``forward -> (out, cache)`` / ``backward(dout, cache)`` style.
- ``data``: the course data sets (real handwritten digits, ...).
- ``device``: choosing CUDA, then Apple MPS, then the CPU; seeding.
- ``plots``: activation curves, loss and accuracy curves.
- ``grading``: checks used by assignment test cells, with helpful messages.

Import what you need, e.g. ``from cnnkit.gradcheck import rel_error``.
"""

__version__ = "0.1.0"
