"""cnnkit: the helper library every notebook of the course imports.

Small modules, each with one job:

- ``gradcheck``: numerical gradients (centred differences) and ``rel_error``.
- ``layers``: numpy layers in the ``forward -> (out, cache)`` / ``backward(dout, cache)`` style.
- ``conv``: convolution (naive and im2col) and pooling layers in the same style.
- ``data``: the course data sets (real digits, procedural shapes, CIFAR-10), batches on the device.
- ``models``: the architectures of the course in PyTorch (LeNet-5 ... ResNeXt, DenseNet, SqueezeNet).
- ``inspect``: layer tables, parameters, activation memory, multiply-adds, receptive fields.
- ``train``: a plain training loop (device, mixed precision, time budget, checkpoints).
- ``device``: choosing CUDA, then Apple MPS, then the CPU; seeding.
- ``plots``: activation curves, loss and accuracy curves.
- ``diagrams``: architecture diagrams drawn from the model objects (torch.fx graph, meta-device shapes).
- ``grading``: checks used by assignment test cells, with helpful messages.
- ``modcheck``: checking a torch module by what it computes, against a reference (``reference``:
  assignment 3's modules as its parts specify them).
- ``bench``: timing the naive, im2col and PyTorch convolutions (``benchmarks/conv_bench.py``).

Import what you need, e.g. ``from cnnkit.gradcheck import rel_error``.
"""

__version__ = "0.1.0"
