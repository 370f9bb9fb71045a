#!/usr/bin/env bash
# The GPU numbers of docs/BENCHMARKS.md in one go, offline (generated CIFAR-shaped data):
# the speed table for ResNet-20/56/110, the paper sweep's projected wall time (one seed), and
# sweep throughput with 1, 2, 4 and 8 workers sharing the GPU. About 10 minutes on one GPU.
# Usage: bash scripts/gpu_checks.sh OUT_DIR   (after bash scripts/setup.sh)
# DRY_RUN=1 runs every step at toy sizes on the CPU, to check the script itself in a minute.
# PY=python3 uses another interpreter than .venv's, e.g. one with PyTorch preinstalled (MLflow,
# Optuna and the rest of pyproject.toml's dependencies must be importable by it too).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: bash scripts/gpu_checks.sh OUT_DIR}
mkdir -p "$OUT"
PY=${PY:-.venv/bin/python}
if [[ "${DRY_RUN:-}" == 1 ]]; then
  DEVICE=cpu
  BENCH=(--depths 8 --rounds 1 --steps 2 --images 512)
  PAPER_DEPTHS=8
  WORKERS=(--workers 1,2 --cells 2 --iterations 10)
else
  DEVICE=cuda
  BENCH=(--depths 20,56,110 --rounds 5)
  PAPER_DEPTHS=
  WORKERS=(--workers 1,2,4,8)
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.csv"
fi
export DEVICE PAPER_DEPTHS
$PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' \
  | tee "$OUT/versions.txt"

$PY experiments/benchmark.py --device "$DEVICE" "${BENCH[@]}" \
  --json "$OUT/benchmark-bf16.json" | tee "$OUT/benchmark-bf16.txt"

$PY - <<'PY' | tee "$OUT/paper-projection.txt"
# The paper preset's 9 nets, timed on this GPU as depth_sweep.py does before a sweep; the
# evaluations are those of generated data (4,000 images), a few % less than CIFAR-10's 15,000.
import dataclasses, os
from resnet.data import load
from resnet.estimate import human_duration, project
from resnet.presets import build_sweep
dataset = load("synthetic", image_size=32)
depths = {"depths": [int(os.environ["PAPER_DEPTHS"])]} if os.environ["PAPER_DEPTHS"] else {}
for precision in ("fp32", "bf16"):
    cells = [dataclasses.replace(c, device=os.environ["DEVICE"], precision=precision)
             for c in build_sweep("paper", depths, {}).cells()]
    p = project(cells, [], dataset)
    print(f"paper sweep, 1 seed, {len(cells)} nets, {precision}: {human_duration(p.seconds)}"
          f" ({p.seconds:.0f} s)")
PY

$PY experiments/worker_throughput.py --device "$DEVICE" "${WORKERS[@]}" \
  --json "$OUT/workers.json" | tee "$OUT/workers.txt"
