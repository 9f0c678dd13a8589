#!/usr/bin/env bash
# One prepared run of the GPU checks on a machine that is lent for a few minutes and has PyTorch
# but not the course's Jupyter and nbgrader packages (issue 31).
#
#   bash tools/gpu_session.sh [TIME_LIMIT_S] [verify_gpu.py options...]
#
# 1. installs the wheels in .whl/ (if any) into /tmp/site, without an index or their
#    dependencies, and puts them first on PYTHONPATH and PATH (prepare them on a machine with a
#    network: docs/GPU.md says how);
# 2. records the machine (nvidia-smi, torch, CUDA, cuDNN) in $OUT/machine.txt;
# 3. runs `python3 tools/verify_gpu.py --time-limit TIME_LIMIT_S` (default 480), its output
#    also in $OUT/verify_gpu.log, and copies the benchmarks/RESULTS.md it wrote to $OUT;
# 4. keeps the executed notebooks, their images removed, in $OUT/executed.tar.gz.
#
# $OUT (default /tmp/gpu-session) receives everything worth keeping. The exit status is
# verify_gpu.py's (0: every check passed).
set -uo pipefail
cd "$(dirname "$0")/.."
LIMIT=${1:-480}
shift || true
OUT=${OUT:-/tmp/gpu-session}
KEEP=/tmp/verify_gpu-keep
mkdir -p "$OUT"
rm -rf "$KEEP"

if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl >"$OUT/install.log" 2>&1 || { cat "$OUT/install.log"; exit 3; }
  export PYTHONPATH=/tmp/site PATH=/tmp/site/bin:$PATH
fi
# the course's cnnkit and autograder from this checkout, in every kernel and checker too
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg

{
  date -u +"%Y-%m-%d %H:%M UTC"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1
  python3 -c "import sys, torch; print('python', sys.version.split()[0], '| torch', torch.__version__, '| CUDA', torch.version.cuda,
      '| cuDNN', torch.backends.cudnn.version(), '| GPU', torch.cuda.get_device_name() if torch.cuda.is_available() else None,
      '| capability', torch.cuda.get_device_capability() if torch.cuda.is_available() else None)"
  python3 -c "import nbconvert, nbclient, nbgrader, ipykernel; print('nbconvert', nbconvert.__version__, '| nbclient',
      nbclient.__version__, '| nbgrader', nbgrader.__version__, '| ipykernel', ipykernel.__version__)"
  nproc
} >"$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt"

python3 tools/verify_gpu.py --time-limit "$LIMIT" --keep "$KEEP" "$@" 2>&1 | tee "$OUT/verify_gpu.log"
rc=${PIPESTATUS[0]}
cp benchmarks/RESULTS.md "$OUT/RESULTS.md" 2>/dev/null

# the executed notebooks and the graded one, text outputs only (images make them megabytes each)
python3 - "$KEEP" "$OUT/executed" <<'EOF'
import sys
from pathlib import Path

import nbformat

keep, dest = Path(sys.argv[1]), Path(sys.argv[2])
for path in [*keep.rglob("*.executed.ipynb"), *keep.glob("course-*/autograded/**/*.ipynb"), *keep.glob("*.json")]:
    target = dest / path.relative_to(keep)
    target.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".json":
        target.write_bytes(path.read_bytes())
        continue
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            for mime in [m for m in out.get("data", {}) if m.startswith("image/")]:
                out["data"][mime] = "(image removed)"
    nbformat.write(nb, target)
EOF
tar czf "$OUT/executed.tar.gz" -C "$OUT" executed 2>/dev/null && rm -rf "$OUT/executed"
ls -la "$OUT"
exit "$rc"
