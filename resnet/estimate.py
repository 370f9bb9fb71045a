"""How long a sweep will take on this device, projected from a short calibration.

Each distinct net is timed for a few bare training steps on random batches of the data's shape,
compiled when the runs are (so compiling happens here, and the runs reuse the compiled code);
a run's projection adds its evaluations (forward passes only, about a third of a training
step's work per image) and the training loop's own overhead over the bare step, as measured by
experiments/benchmark.py.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from resnet.config import RunConfig
from resnet.data import Dataset
from resnet.train import build_model, compile_for_training, resolve_device, train_step

WARMUP_STEPS, TIMED_STEPS = 1, 3
COMPILED_WARMUP_STEPS = 3  # compiling, then CUDA graphs' warm-up and recording calls
EVAL_SPEEDUP = 3.0  # images per second of evaluation over training: forward only
LOOP_OVERHEAD = 1.05  # the full training loop over the bare step (benchmark: (b)/(a) ~ 0.95)


def seconds_per_step(config: RunConfig, dataset: Dataset) -> float:
    """Wall time of one training step of this cell's net on random batches of the data's shape."""
    device = resolve_device(config.device)
    model = build_model(config, dataset, device)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    forward = compile_for_training(model, device) if config.compile else model
    warmup = COMPILED_WARMUP_STEPS if config.compile else WARMUP_STEPS
    shape = (config.batch_size, dataset.in_channels, *dataset.image_size)
    x = torch.randn(shape, device=device)
    if config.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, dataset.num_classes, (config.batch_size,), device=device)
    for step in range(warmup + TIMED_STEPS):
        if step == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
        train_step(forward, optimizer, x, y, config, device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) / TIMED_STEPS


def run_seconds(config: RunConfig, dataset: Dataset, step_seconds: float, splits=2) -> float:
    """One run: its training steps, plus its evaluations of `splits` splits (val, test)."""
    evaluations = math.ceil(config.iterations / config.eval_every)
    eval_images = evaluations * (len(dataset.val) + (len(dataset.test) if splits > 1 else 0))
    eval_seconds = eval_images / config.batch_size * step_seconds / EVAL_SPEEDUP
    return LOOP_OVERHEAD * step_seconds * config.iterations + eval_seconds


@dataclass
class Projection:
    training: float  # seconds for the cells still to run
    tuning: float  # seconds for the trials still to run, at most (pruning cuts it short)
    runs: int
    trials: int

    @property
    def seconds(self) -> float:
        return self.training + self.tuning


class Calibration:
    """Seconds per training step of each distinct net, measured once."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.measured: dict[tuple, float] = {}

    def step(self, config: RunConfig) -> float:
        key = (config.arch, config.depth, config.batch_size, config.precision, config.device,
               config.channels_last, config.shortcut, config.compile)  # fmt: skip
        if key not in self.measured:
            self.measured[key] = seconds_per_step(config, self.dataset)
        return self.measured[key]


def project(cells: list[RunConfig], trials: list[RunConfig], dataset: Dataset) -> Projection:
    """`cells`: the runs to train; `trials`: one config per tuning trial still to run (each with
    the trial budget). Trials evaluate the validation split only."""
    calibration = Calibration(dataset)
    training = sum(run_seconds(c, dataset, calibration.step(c)) for c in cells)
    tuning = sum(run_seconds(t, dataset, calibration.step(t), splits=1) for t in trials)
    return Projection(training, tuning, len(cells), len(trials))


def human_duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
