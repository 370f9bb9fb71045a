"""Run and sweep configuration: one dataclass per training run, validated on creation.

A `RunConfig` is everything that decides what one training run computes; it is logged whole as
MLflow params. A `SweepConfig` is the grid (archs x depths x seeds) plus the fields every cell
shares, so plain and residual nets of one sweep differ only in the block kind.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from resnet.core import archs
from resnet.core.bounds import (
    DEFAULT_MARGIN,
    MARGIN_RANGE,
    MAX_BATCH,
    MAX_CELLS,
    MAX_IMAGE_SIZE,
    MAX_IMAGES,
    MAX_ITERATIONS,
    MAX_LIST,
    MAX_RATE,
    NOT_NEGATIVE,
    POSITIVE,
    Bounds,
)
from resnet.core.datasets import DATASETS, DEFAULT_DATA_DIR, dataset_problem
from resnet.core.device import DEVICES, device_problem
from resnet.core.precision import precision_problem
from resnet.core.settings import bound_problems, setting

NORMALIZATIONS = ("channel", "pixel")
SCHEDULES = ("step", "cosine", "constant")
# Fields that change where or how fast a run computes, not what: not part of a run's identity.
NON_IDENTITY_FIELDS = ("data_dir", "device", "eval_batch_size", "compile", "checkpoint_every")
# What an lr may be: positive, and small enough for the optimizer's float32 scalars (bounds.py).
RATE = Bounds(low=0, high=MAX_RATE, low_open=True)


class ConfigError(ValueError):
    """Bad input: the message is one line saying what is wrong and what is allowed."""


@dataclass(frozen=True)
class RunConfig:
    arch: str = setting("cell", "residual", "the net's kind, from the model registry")
    depth: int = setting("cell", 20, "layers with weights")
    seed: int = setting("cell", 0, "seeds the weights, the data split and the batches")
    # model
    shortcut: str = setting(
        "model",
        "A",
        "residual shortcuts: A zero-pads the identity (the paper's CIFAR nets), "
        "B projects where the shape changes; a plain net has none",
    )
    bn_group: int = setting(
        "model",
        0,
        "batch-norm statistics over groups of this many images of a batch, as on "
        "the paper's two GPUs (64 of each 128); 0 or the batch size or more: the whole batch",
    )
    # data
    dataset: str = setting("data", "synthetic", f"the data set: {', '.join(DATASETS)}")
    data_dir: str = setting("data", DEFAULT_DATA_DIR, "where data sets are read or downloaded")
    val_size: int | None = setting(
        "data",
        None,
        "validation images held out of the training set (none: 5000 for cifar10 "
        "and fashion-mnist, else 10 %; 0: no validation split, train on all)",
        NOT_NEGATIVE,
    )
    train_subset: int | None = setting(
        "data",
        None,
        "train on the first N of the shuffled training split",
        Bounds(low=1, high=MAX_IMAGES),
    )
    image_size: int | None = setting(
        "data",
        None,
        "resize images to this size, square (synthetic: generate at it)",
        Bounds(low=8, high=MAX_IMAGE_SIZE),
    )
    crop_pad: int = setting(
        "data",
        4,
        "random crops after zero padding by this many pixels (0: no crops)",
        Bounds(low=0, high=MAX_IMAGE_SIZE),
    )
    flip: bool = setting("data", True, "random horizontal flips of the training images")
    normalization: str = setting(
        "data",
        "channel",
        "channel: per-channel mean and std; pixel: subtract the per-pixel mean (the paper's)",
    )
    # optimisation
    iterations: int = setting(
        "train", 64000, "training iterations", Bounds(low=1, high=MAX_ITERATIONS)
    )
    batch_size: int = setting("train", 128, "images a step", Bounds(low=1, high=MAX_BATCH))
    lr: float = setting("train", 0.1, "SGD's learning rate", RATE)
    momentum: float = setting("train", 0.9, "SGD's momentum", Bounds(low=0, high=1, high_open=True))
    weight_decay: float = setting("train", 1e-4, "SGD's weight decay", Bounds(low=0, high=MAX_RATE))
    schedule: str = setting("train", "step", "step: lr x gamma at the milestones; cosine; constant")
    milestones: tuple[int, ...] = setting(
        "train", (32000, 48000), "iterations where the step schedule multiplies the lr by gamma"
    )
    gamma: float = setting(
        "train", 0.1, "the step schedule's factor", Bounds(low=0, high=1, low_open=True)
    )
    warmup_iterations: int = setting(
        "train", 0, "linear warm-up from about 0 to lr, then the schedule"
    )
    error_warmup_lr: float | None = setting(
        "train",
        None,
        "the paper's ResNet-110 warm-up: this lr until the training error is "
        "below error_warmup_until",
        RATE,
    )
    error_warmup_until: float = setting(
        "train",
        0.8,
        "the error warm-up ends below this training error",
        Bounds(low=0, high=1, low_open=True),
    )
    error_warmup_min_depth: int = setting(
        "train", 110, "the error warm-up is for nets at least this deep"
    )
    divergence_factor: float = setting(
        "train",
        10.0,
        "a step's loss above this times the chance-level loss, ln(classes), or "
        "not finite: the run diverged",
        Bounds(low=1, high=MAX_RATE, low_open=True),
    )
    precision: str = setting(
        "train", "fp32", "fp32, bf16 (autocast) or auto (bf16 where the device has it natively)"
    )
    device: str = setting("train", "auto", f"the device: {DEVICES}")
    channels_last: bool = setting(
        "train", True, "channels-last memory layout (faster convolutions on most devices)"
    )
    compile: bool = setting(
        "train",
        False,
        "torch.compile the training step (eval stays eager), with CUDA graphs "
        "on a GPU: pays off on long runs only, as each net compiles first",
    )
    log_every: int = setting(
        "train",
        100,
        "iterations between logs of the training loss, error, lr and speed",
        POSITIVE,
    )
    eval_every: int = setting(
        "train",
        1000,
        "iterations between evaluations on the validation and test sets",
        POSITIVE,
    )
    eval_subset: int | None = setting(
        "train",
        None,
        "images of each split evaluated during training (none: all); the last "
        "evaluation takes every image",
        POSITIVE,
    )
    eval_batch_size: int = setting(
        "train", 1000, "images a step of evaluation", Bounds(low=1, high=MAX_BATCH)
    )
    checkpoint_every: int = setting(
        "train", 1000, "iterations between resumable checkpoints", POSITIVE
    )

    def __post_init__(self) -> None:
        problem = run_config_problem(self)
        if problem:
            raise ConfigError(problem)

    @property
    def name(self) -> str:
        return f"{self.arch}-{self.depth}-s{self.seed}"

    @property
    def residual(self) -> bool:
        return archs.arch_spec(self.arch).residual

    @property
    def uses_error_warmup(self) -> bool:
        return self.error_warmup_lr is not None and self.depth >= self.error_warmup_min_depth

    def to_params(self) -> dict[str, str]:
        """Every field as a string, for MLflow params."""
        return {k: _param_str(v) for k, v in dataclasses.asdict(self).items()}

    def identity(self) -> str:
        """A hash of the fields that decide what the run computes: equal hash, same run."""
        ignored = set(NON_IDENTITY_FIELDS)
        if self.dataset == "imagefolder":
            ignored.discard("data_dir")  # the folder is the data set
        fields = {k: v for k, v in dataclasses.asdict(self).items() if k not in ignored}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def _param_str(value: Any) -> str:
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value)
    return str(value)


def run_config_problem(c: RunConfig) -> str | None:
    """The first thing wrong with a run config, as one line, or None."""
    for rules in (_choice_rules, _bound_rules, _relation_rules):
        for ok, message in rules(c):
            if not ok:
                return message
    return archs.depth_error(c.arch, c.depth)


Rules = list[tuple[bool, str]]


def _choice_rules(c: RunConfig) -> Rules:
    """Names picked from a list; each list's rule lives with what it names."""
    problems = [
        archs.arch_problem(c.arch),
        dataset_problem(c.dataset),
        precision_problem(c.precision),
        _choice_problem("schedule", c.schedule, SCHEDULES),
        archs.shortcut_problem(c.shortcut, plain_allowed=archs.is_plain(c.arch)),
        device_problem(c.device),
        _choice_problem("normalization", c.normalization, NORMALIZATIONS),
    ]
    return [(p is None, p or "") for p in problems]


def _choice_problem(what: str, value: str, allowed) -> str | None:
    return None if value in allowed else f"unknown {what} {value!r} (allowed: {', '.join(allowed)})"


def _bound_rules(c: RunConfig) -> Rules:
    """Each field's own range, as its `setting` gives it (None: not set, always allowed)."""
    return [(False, problem) for problem in bound_problems(c)]


def _relation_rules(c: RunConfig) -> Rules:
    """Rules that tie a field to another: the seed's generators, the batch, the schedule."""
    return [
        # Generators keep 32 bits of a seed: 2**32 would silently repeat seed 0.
        (0 <= c.seed < 2**32, f"seed must be in [0, 2**32), got {c.seed}"),
        (
            c.bn_group >= 0
            and (c.bn_group == 0 or c.bn_group >= c.batch_size or c.batch_size % c.bn_group == 0),
            f"bn_group must divide the batch size {c.batch_size} (or be 0 or at least the batch "
            f"size: ordinary batch norm), got {c.bn_group}",
        ),
        (
            0 <= c.warmup_iterations < c.iterations,
            f"warmup_iterations must be in [0, {c.iterations}), got {c.warmup_iterations} "
            "(set --warmup-iterations)",
        ),
        (
            list(c.milestones) == sorted(set(c.milestones)),
            f"milestones must be increasing, got {list(c.milestones)}",
        ),
        (
            len(c.milestones) <= MAX_LIST,
            f"milestones may hold at most {MAX_LIST} values, got {len(c.milestones)}",
        ),
        (
            c.schedule != "step" or all(0 < m < c.iterations for m in c.milestones),
            f"lr milestones {list(c.milestones)} must lie inside the {c.iterations} iterations "
            "(set --milestones)",
        ),
    ]


CELL_FIELDS = ("arch", "depth", "seed")
# At most 200 characters: the name is also a folder name (reports/<experiment>), and MLflow
# refuses names over 500.
EXPERIMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\- ]{0,199}")


@dataclass(frozen=True)
class SweepConfig:
    """The grid archs x depths x seeds; `base` holds the RunConfig fields every cell shares.
    Its settings are a preset's [sweep] keys and the command line's flags of the same names."""

    archs: tuple[str, ...] = setting("sweep", ("plain", "residual"), "e.g. plain,residual")
    depths: tuple[int, ...] = setting("sweep", (20, 32, 44, 56), "6n+2, e.g. 20,32,44,56")
    seeds: tuple[int, ...] = setting("sweep", (0,), "e.g. 0,1,2")
    preset: str = "custom"  # the preset's name, which --preset gives
    experiment: str | None = setting(
        "sweep", None, "MLflow experiment name (default: depth-<preset>-<data>)"
    )
    exclude: tuple[str, ...] = setting(
        "sweep", (), "cells left out of the grid, by arch-depth, e.g. plain-110"
    )
    margin: float = setting(
        "sweep",
        DEFAULT_MARGIN,
        "the verdict's margin, points of training error: a depth penalty is degradation only "
        "when its whole interval lies above it (docs/ANALYSIS.md)",
        MARGIN_RANGE,
    )
    # The settings every cell shares; its arch, depth and seed are placeholders, which each
    # cell replaces with its own.
    base: RunConfig = field(default_factory=RunConfig)

    def __post_init__(self) -> None:
        for name in ("archs", "depths", "seeds"):
            values = getattr(self, name)
            if not values:
                raise ConfigError(f"{name} must not be empty")
            if len(set(values)) != len(values):
                raise ConfigError(f"{name} has repeated values: {list(values)}")
            if len(values) > MAX_LIST:
                raise ConfigError(f"{name} may hold at most {MAX_LIST} values, got {len(values)}")
        grid = len(self.archs) * len(self.depths) * len(self.seeds)
        if grid > MAX_CELLS:
            raise ConfigError(
                f"the sweep has {grid} cells (archs x depths x seeds); at most {MAX_CELLS}"
            )
        problem = archs.shortcut_problem(self.base.shortcut, False)
        if problem:  # the option its residual nets take: "none" is only a plain net's own
            raise ConfigError(problem)
        if self.experiment is not None and not EXPERIMENT_NAME.fullmatch(self.experiment):
            shown = self.experiment if len(self.experiment) <= 60 else self.experiment[:60] + "..."
            raise ConfigError(
                f"experiment name {shown!r} may hold letters, digits, '.', '_', '-' and spaces, "
                "must start with a letter or digit, and have at most 200 characters"
            )
        for name in self.exclude:
            if not re.fullmatch(r"[a-z0-9]+-\d+", name):
                raise ConfigError(
                    f"exclude entry {name!r} must look like arch-depth, e.g. plain-110"
                )
        problems = bound_problems(self)
        if problems:
            raise ConfigError(problems[0])
        if not self.cells():  # every cell must be a valid run, and there must be one
            raise ConfigError("the sweep has no cells left: every (arch, depth) is excluded")

    @property
    def dataset(self) -> str:
        return self.base.dataset

    @property
    def experiment_name(self) -> str:
        return self.experiment or f"depth-{self.preset}-{self.dataset}"

    @property
    def shared(self) -> RunConfig:
        """The settings every cell shares (schedule, batch size, precision, device, ...), as
        the first cell's run config: only its arch, depth and seed are that cell's own."""
        first, *_ = self.cells()
        return first

    def cells(self) -> list[RunConfig]:
        """One run per (seed, depth, arch): shallow nets and seed 0 first."""
        grid = []
        for seed in self.seeds:
            for depth in sorted(self.depths):
                for arch in self.archs:
                    fixed = archs.arch_spec(arch).fixed_depth if arch in archs.ARCHS else None
                    if fixed is not None and depth != sorted(self.depths)[0]:
                        continue  # fixed-depth archs: one cell per seed
                    if f"{arch}-{fixed or depth}" not in self.exclude:
                        grid.append(self._cell(arch, fixed or depth, seed))
        return grid

    def _cell(self, arch: str, depth: int, seed: int) -> RunConfig:
        # A plain net has no shortcut, whatever the sweep's choice.
        shortcut = "none" if archs.is_plain(arch) else self.base.shortcut
        return dataclasses.replace(self.base, arch=arch, depth=depth, seed=seed, shortcut=shortcut)

    def identity(self) -> str:
        body = {"cells": sorted(c.identity() for c in self.cells()), "preset": self.preset}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]

    def to_params(self) -> dict[str, str]:
        params = {
            "archs": _param_str(self.archs),
            "depths": _param_str(self.depths),
            "seeds": _param_str(self.seeds),
            "exclude": _param_str(self.exclude),
            "preset": self.preset,
        }
        shared = dataclasses.asdict(self.base)
        params.update({k: _param_str(v) for k, v in shared.items() if k not in CELL_FIELDS})
        return params
