"""How long a sweep will take on this device, projected from a short calibration.

The shallowest and the deepest net of each family (nets that differ only in depth and
shortcut) are timed for a few bare training steps on random batches of the data's shape, and
the depths between are interpolated: a step's work grows linearly with the number of blocks.
Compiled runs time every net compiled (so compiling happens here, and the runs reuse the code);
a run's projection adds its evaluations (forward passes only, about a third of a training
step's work per image) and the training loop's own overhead over the bare step, as measured by
experiments/benchmark.py.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch

from resnet.core import archs
from resnet.core.config import RunConfig
from resnet.core.data import Dataset
from resnet.core.step import BareSteps

WARMUP_STEPS, TIMED_STEPS = 1, 3
COMPILED_WARMUP_STEPS = 3  # compiling, then CUDA graphs' warm-up and recording calls
EVAL_SPEEDUP = 3.0  # images per second of evaluation over training: forward only
# The full training loop over the bare step: the benchmark measured (b)/(a) at 0.98-1.01
# (docs/BENCHMARKS.md); the margin covers log points and checkpoints.
LOOP_OVERHEAD = 1.05


def seconds_per_step(config: RunConfig, dataset: Dataset) -> float:
    """Wall time of one training step of this cell's net on random batches of the data's shape."""
    steps = BareSteps(config, dataset)
    steps.run(COMPILED_WARMUP_STEPS if config.compile else WARMUP_STEPS)
    return steps.run(TIMED_STEPS) / TIMED_STEPS


def run_seconds(config: RunConfig, dataset: Dataset, step_seconds: float, splits=2) -> float:
    """One run: its training steps, plus its evaluations of `splits` splits (val, test): the
    last one of every image, those during training of `eval_subset` images."""
    evaluated = [len(dataset.val), len(dataset.test)][:splits]
    during = math.ceil(config.iterations / config.eval_every) - 1
    subset = config.eval_subset
    eval_images = sum(n + during * (n if subset is None else min(n, subset)) for n in evaluated)
    eval_seconds = eval_images / config.batch_size * step_seconds / EVAL_SPEEDUP
    return LOOP_OVERHEAD * step_seconds * config.iterations + eval_seconds


@dataclass
class Projection:
    training: float  # seconds for the cells still to run
    tuning: float  # seconds for the trials still to run, at most (pruning cuts it short)
    runs: int
    trials: int
    longest: float = 0.0  # seconds of the net (arch and depth) that trains longest, all seeds
    deepest: RunConfig | None = None  # the deepest net to train, which sets most of the time

    @property
    def seconds(self) -> float:
        return self.training + self.tuning


def family(config: RunConfig) -> tuple:
    """What sets a step's cost apart but the depth: plain and residual twins cost the same."""
    spec = archs.arch_spec(config.arch)
    return (
        spec.stem_width,
        spec.widths,
        spec.blocks,
        config.batch_size,
        config.precision,
        config.device,
        config.channels_last,
        config.bn_group,
        config.compile,
    )


class Calibration:
    """Seconds per training step of each net: measured at the shallowest and deepest depth of
    its family and interpolated between (every net measured when compiled)."""

    def __init__(self, dataset: Dataset, configs: list[RunConfig]):
        self.dataset = dataset
        self.measured: dict[tuple, float] = {}
        self.depths: dict[tuple, list[int]] = {}
        for config in configs:
            self.depths.setdefault(family(config), []).append(config.depth)

    def step(self, config: RunConfig) -> float:
        depths = self.depths.get(family(config), [config.depth])
        low, high = min(depths), max(depths)
        if config.compile or low == high or not low <= config.depth <= high:
            return self.measure(config)
        at_low = self.measure(dataclasses.replace(config, depth=low))
        at_high = self.measure(dataclasses.replace(config, depth=high))
        return at_low + (at_high - at_low) * (config.depth - low) / (high - low)

    def measure(self, config: RunConfig) -> float:
        key = (*family(config), config.depth)
        if key not in self.measured:
            self.measured[key] = seconds_per_step(config, self.dataset)
        return self.measured[key]


def project(cells: list[RunConfig], trials: list[RunConfig], dataset: Dataset) -> Projection:
    """`cells`: the runs to train; `trials`: one config per tuning trial still to run (each with
    the trial budget). Trials evaluate the validation split only."""
    calibration = Calibration(dataset, [*cells, *trials])
    per_net: dict[tuple[str, int], float] = {}
    for cell in cells:  # one compilation serves every seed of a net in a process
        seconds = run_seconds(cell, dataset, calibration.step(cell))
        per_net[cell.arch, cell.depth] = per_net.get((cell.arch, cell.depth), 0.0) + seconds
    tuning = sum(run_seconds(t, dataset, calibration.step(t), splits=1) for t in trials)
    training = sum(per_net.values())
    longest = max(per_net.values(), default=0)
    deepest = max([*cells, *trials], key=lambda config: config.depth, default=None)
    return Projection(training, tuning, len(cells), len(trials), longest, deepest)


# A compilation takes tens of seconds on 2-core CPUs (40-62 s with an empty compiler cache,
# docs/BENCHMARKS.md), and timing a compiled step costs one: only a net that trains for 20
# minutes in a sweep is worth the question (runner/compile_choice.py answers it).
COMPILE_PAYS_BACK_SECONDS = 1200


def compile_may_pay_back(projection: Projection, device: torch.device) -> bool:
    """Whether a sweep that did not say is worth timing compiled: on a CPU, when one of its nets
    (all seeds, which share one compilation) trains for COMPILE_PAYS_BACK_SECONDS or more eager.
    On a GPU compiling also captures CUDA graphs, a choice left to the user (--compile)."""
    return device.type == "cpu" and projection.longest >= COMPILE_PAYS_BACK_SECONDS


def human_duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")
