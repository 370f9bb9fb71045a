"""Where the eager training step's CPU time goes: torch.profiler over a few steps of one net on
generated images of the quick preset's shape, the ops with the most self time; and the
trainer's SGD against fused SGD, interleaved.

    .venv/bin/python scripts/profile_step.py                         # residual-56, bf16
    .venv/bin/python scripts/profile_step.py --precision fp32 --depth 20
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from resnet.core import models
from resnet.core.step import make_optimizer

BATCH = 128


def stepper(model, optimizer, x, labels, bf16: bool):
    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(model(x).float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def ms_per_step(step, steps: int) -> float:
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - started) / steps * 1000


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arch", default="residual", choices=["plain", "residual"])
    p.add_argument("--depth", type=int, default=56)
    p.add_argument("--precision", default="bf16", choices=["bf16", "fp32"])
    p.add_argument("--image-size", type=int, default=14)
    p.add_argument("--rows", type=int, default=8)
    args = p.parse_args()
    bf16, size = args.precision == "bf16", args.image_size
    torch.manual_seed(0)
    model = models.build(args.arch, args.depth, "A", 1, 10, 0)
    model = model.to(memory_format=torch.channels_last)
    x = torch.randn(BATCH, 1, size, size).contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 10, (BATCH,))
    trainers = make_optimizer(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    fused = torch.optim.SGD(
        model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4, fused=True
    )
    steps = {
        "the trainer's SGD": stepper(model, trainers, x, labels, bf16),
        "fused SGD": stepper(model, fused, x, labels, bf16),
    }
    for step in steps.values():
        ms_per_step(step, 3)
    times = {name: [] for name in steps}
    for _ in range(5):
        for name, step in steps.items():
            times[name].append(ms_per_step(step, 10))
    name = f"{args.arch}-{args.depth}, {args.precision}, {size}x{size}, batch {BATCH}"
    print(f"{name}, {torch.get_num_threads()} threads, channels-last")
    for label, measured in times.items():
        print(f"- {label}: {statistics.median(measured):.1f} ms a step (median of 5 rounds)")
    step = steps["the trainer's SGD"]
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(10):
            step()
    total = sum(e.self_cpu_time_total for e in prof.key_averages())
    print("\n| op | self CPU % |\n| --- | ---: |")
    for event in sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[: args.rows]:
        print(f"| `{event.key}` | {100 * event.self_cpu_time_total / total:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
