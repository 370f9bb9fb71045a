"""What torch.compile costs and saves at the quick preset's shapes: each net's eager step, its
compiled step, and its first (compiling) step with an empty compiler cache and with the cache
a first process left (Inductor's FX graph and AOT autograd caches, on by default, in
TORCHINDUCTOR_CACHE_DIR): does a warm compile pay back within a quick-study net?

    .venv/bin/python scripts/compile_cost.py                    # residual-20 and -56, bf16
    .venv/bin/python scripts/compile_cost.py --out docs/benchmarks/compile-quick.md

Each measurement runs in its own process (a compiled net stays compiled in its process);
nothing else should run meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BATCH, SIZE, QUICK_STEPS = 128, 14, 180  # the quick preset's batch, image size, iterations


def measure(arch: str, depth: int, compiled: bool) -> dict:
    """In this process: the first step's seconds and the median ms a step after it."""
    import torch
    import torch.nn.functional as F

    sys.path.insert(0, str(ROOT))
    from resnet.core import models
    from resnet.core.step import make_optimizer

    torch.manual_seed(0)
    model = models.build(arch, depth, "A", 1, 10, 0).to(memory_format=torch.channels_last)
    x = torch.randn(BATCH, 1, SIZE, SIZE).contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 10, (BATCH,))
    optimizer = make_optimizer(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    forward = torch.compile(model) if compiled else model

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = F.cross_entropy(forward(x).float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    started = time.perf_counter()
    step()
    first = time.perf_counter() - started
    for _ in range(3):
        step()
    rounds = []
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(10):
            step()
        rounds.append((time.perf_counter() - started) / 10 * 1000)
    return {"first_s": first, "ms": statistics.median(rounds)}


def in_process(arch: str, depth: int, compiled: bool, cache: Path) -> dict:
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(cache)}
    args = [sys.executable, __file__, "--measure", f"{arch},{depth},{int(compiled)}"]
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def payback(eager_ms: float, compiled_ms: float, compile_s: float) -> str:
    saved = eager_ms - compiled_ms
    if saved <= 0:
        return "never: the compiled step is slower"
    steps = compile_s * 1000 / saved
    within = "within" if steps <= QUICK_STEPS else "beyond"
    return f"after {steps:.0f} steps ({within} a quick net's {QUICK_STEPS})"


def row(arch: str, depth: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        eager = in_process(arch, depth, False, cache)
        cold = in_process(arch, depth, True, cache)  # fills the cache
        warm = in_process(arch, depth, True, cache)
    compile_warm = warm["first_s"] - eager["first_s"]
    return {
        "net": f"{arch}-{depth}",
        "eager ms a step": f"{eager['ms']:.1f}",
        "compiled ms a step": f"{warm['ms']:.1f}",
        "first step, empty cache (s)": f"{cold['first_s']:.1f}",
        "first step, warm cache (s)": f"{warm['first_s']:.1f}",
        "a warm compile pays back": payback(eager["ms"], warm["ms"], compile_warm),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--depths", default="20,56")
    p.add_argument("--out", help="also write the table (markdown) to this file")
    p.add_argument("--measure", help=argparse.SUPPRESS)  # arch,depth,compiled: one process
    args = p.parse_args()
    if args.measure:
        arch, depth, compiled = args.measure.split(",")
        print(json.dumps(measure(arch, int(depth), compiled == "1")))
        return 0
    import torch

    rows = [row("residual", int(d)) for d in args.depths.split(",")]
    header = (
        f"residual nets, bf16 autocast, {SIZE}x{SIZE}, batch {BATCH}, channels-last, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}"
    )
    names = list(rows[0])
    lines = [
        header,
        "",
        "| " + " | ".join(names) + " |",
        "|" + "---|" * len(names),
        *("| " + " | ".join(r[n] for n in names) + " |" for r in rows),
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
