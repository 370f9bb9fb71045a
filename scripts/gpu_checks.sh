#!/usr/bin/env bash
# The GPU numbers of docs/BENCHMARKS.md in one go, offline (generated CIFAR-shaped data), most
# important first. Each step has its own time limit and all of them end by TOTAL_S seconds
# (default 540), so a short stay on a GPU machine still brings back the first ones:
#   1. the speed table for ResNet-20/56/110, eager;
#   2. the paper sweep's projected wall time (one seed, eager, bf16 and fp32);
#   3. the speed table of ResNet-20 with --compile (CUDA graphs): the net compiles first;
#   4. sweep throughput with 1, 2, 4 and 8 workers sharing the GPU;
#   5. the compiled speed table of ResNet-56, then of ResNet-110.
# Usage: bash scripts/gpu_checks.sh OUT_DIR   (after bash scripts/setup.sh)
# DRY_RUN=1 runs every step at toy sizes on the CPU, to check the script itself (3 minutes).
# PY=python3 uses another interpreter than .venv's, e.g. one with PyTorch preinstalled (MLflow,
# Optuna and the rest of pyproject.toml's dependencies must be importable by it too).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: bash scripts/gpu_checks.sh OUT_DIR}
mkdir -p "$OUT"
LOG=$OUT/log.txt  # all output in one file, and the numbers in JSON files beside it
PY=${PY:-.venv/bin/python}
if [[ "${DRY_RUN:-}" == 1 ]]; then
  DEVICE=cpu
  BENCH=(--rounds 1 --steps 2 --images 512)
  DEPTHS=(8 14 20)
  PAPER_DEPTHS=8
  WORKERS=(--workers 1,2 --cells 2 --iterations 10)
else
  DEVICE=cuda
  BENCH=(--rounds 5 --steps 50)
  DEPTHS=(20 56 110)
  PAPER_DEPTHS=
  WORKERS=(--workers 1,2,4,8 --cells 16 --iterations 300)
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee -a "$LOG"
fi
export DEVICE PAPER_DEPTHS
failed=0
deadline=$((SECONDS + ${TOTAL_S:-540}))

# step NAME SECONDS COMMAND...: run it under a time limit (cut to the time left), its output
# added to OUT/log.txt; skipped when less than 20 s are left
step() {
  local name=$1 limit=$2
  shift 2
  local left=$((deadline - SECONDS))
  ((limit > left)) && limit=$left
  if ((limit < 20)); then
    echo "== $name: skipped, $left s left" | tee -a "$LOG"
    failed=1
    return
  fi
  echo "== $name (at most $limit s)" | tee -a "$LOG"
  timeout "$limit" "$@" 2>&1 | tee -a "$LOG"
  local status=${PIPESTATUS[0]}
  if [[ $status -ne 0 ]]; then
    echo "== $name: exit $status" | tee -a "$LOG"
    failed=1
  fi
}

$PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' \
  | tee -a "$LOG"

all_depths=$(IFS=,; echo "${DEPTHS[*]}")
step benchmark-bf16 120 $PY experiments/benchmark.py --device "$DEVICE" "${BENCH[@]}" \
  --depths "$all_depths" --json "$OUT/benchmark-bf16.json"

step paper-projection 60 $PY - <<'PY'
# The paper preset's 9 nets, timed on this device as depth_sweep.py does before a sweep; the
# evaluations are those of generated data (4,000 images), a few % less than CIFAR-10's 15,000.
import dataclasses, os
from resnet.core.data import load
from resnet.runner.estimate import human_duration, project
from resnet.core.presets import build_sweep
dataset = load("synthetic", image_size=32)
depths = {"depths": [int(os.environ["PAPER_DEPTHS"])]} if os.environ["PAPER_DEPTHS"] else {}
for precision in ("bf16", "fp32"):
    cells = [dataclasses.replace(c, device=os.environ["DEVICE"], precision=precision)
             for c in build_sweep("paper", depths, {}).cells()]
    p = project(cells, [], dataset)
    print(f"paper sweep, 1 seed, {len(cells)} nets, {precision}: {human_duration(p.seconds)}"
          f" ({p.seconds:.0f} s)", flush=True)
PY

compiled() {  # compiled speed table of one net, in files of their own: each may time out
  step "compiled-$1" "$2" $PY experiments/benchmark.py --device "$DEVICE" "${BENCH[@]}" \
    --depths "$1" --compile --json "$OUT/compiled-$1.json"
}
compiled "${DEPTHS[0]}" 90

step workers 120 $PY experiments/worker_throughput.py --device "$DEVICE" "${WORKERS[@]}" \
  --json "$OUT/workers.json"

compiled "${DEPTHS[1]}" 100
compiled "${DEPTHS[2]}" 120

exit $failed
