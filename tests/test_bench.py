"""cnnkit.bench: the convolution benchmark's helpers, on a tiny layer."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cnnkit import bench

ROOT = Path(__file__).resolve().parents[1]


def test_bench_layer_times_and_ratios_on_a_tiny_layer():
    row = bench.bench_layer((2, 3, 9, 9), (4, 3, 3, 3), 1, 1, dtype=np.float64, repeats=1, naive_filters=2)
    for impl in ("naive", "im2col", "torch"):
        assert len(row[impl]) == 2 and all(t > 0 for t in row[impl])
    assert row["naive_scale"] == 4.0  # 1 of 2 images, 2 of 4 filters
    assert row["im2col/torch fwd"] == pytest.approx(row["im2col"][0] / row["torch"][0])
    assert row["dtype"] == "float64"


def test_unknown_implementation_is_a_clear_error():
    x, w, b = np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3, 3)), np.zeros(1)
    with pytest.raises(ValueError, match="unknown implementation 'fast'"):
        bench.time_conv("fast", x, w, b, {"stride": 1, "pad": 0})


def test_set_threads_reports_torch_threads():
    before = torch.get_num_threads()
    try:
        assert bench.set_threads(1)["torch"] == 1
    finally:
        torch.set_num_threads(before)


def test_geomean():
    assert bench.geomean([1, 4, 16]) == pytest.approx(4.0)


def test_script_runs_without_path_tricks():
    assert "sys.path" not in (ROOT / "benchmarks" / "conv_bench.py").read_text()
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "conv_bench.py"), "--help"],
                         capture_output=True, text=True, check=True, cwd="/")
    assert "--quick" in out.stdout
