"""Shared test setup. It sits at the root so it also applies to notebooks that nbval collects.
Notebooks and kernels started by the tests run on the CPU so that their outputs can be compared with the stored ones, also on a machine that has a GPU."""
import os
from pathlib import Path

os.environ["CNNKIT_DEVICE"] = "cpu"
os.environ["CUDA_VISIBLE_DEVICES"] = ""
os.environ["PYTHONHASHSEED"] = "0"
os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")

ROOT = Path(__file__).resolve().parent
