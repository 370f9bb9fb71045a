"""Run and sweep configuration: one dataclass per training run, validated on creation.

A `RunConfig` is everything that decides what one training run computes; it is logged whole as
MLflow params. A `SweepConfig` is the grid (archs x depths x seeds) plus the fields every cell
shares, so plain and residual nets of one sweep differ only in the block kind.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from resnet.core import models
from resnet.core.data import DEFAULT_DATA_DIR, LOADERS
from resnet.core.device import device_problem
from resnet.core.precision import precision_problem

NORMALIZATIONS = ("channel", "pixel")
PLAIN_ARCHS = tuple(name for name, spec in models.ARCHS.items() if not spec.residual)
SCHEDULES = ("step", "cosine", "constant")
# Upper bounds on counts: far above any real study (the paper: 64k iterations of batch 128),
# low enough that a typo is refused before it starts weeks of compute or a huge allocation.
MAX_ITERATIONS = 10_000_000
MAX_BATCH = 65_536
# Fields that change where or how fast a run computes, not what: not part of a run's identity.
NON_IDENTITY_FIELDS = ("data_dir", "device", "eval_batch_size", "compile", "checkpoint_every")


class ConfigError(ValueError):
    """Bad input: the message is one line saying what is wrong and what is allowed."""


def _section(name: str, default: Any, **kw) -> Any:
    return field(default=default, metadata={"section": name}, **kw)


@dataclass(frozen=True)
class RunConfig:
    arch: str = _section("cell", "residual")
    depth: int = _section("cell", 20)
    seed: int = _section("cell", 0)
    # model
    shortcut: str = _section("model", "A")  # A: zero-pad identity (paper's CIFAR); B: projection
    # batch-norm statistics over groups of this many images of a batch, as on the paper's two
    # GPUs (64 of each 128); 0 (or the batch size or more): over the whole batch
    bn_group: int = _section("model", 0)
    # data
    dataset: str = _section("data", "synthetic")
    data_dir: str = _section("data", DEFAULT_DATA_DIR)
    # None: 5000 for cifar10/fashion-mnist, else 10%; 0: no validation split (train on all)
    val_size: int | None = _section("data", None)
    train_subset: int | None = _section("data", None)  # train on the first N of the shuffled split
    image_size: int | None = _section("data", None)  # resize to this (synthetic: generate at it)
    crop_pad: int = _section("data", 4)  # random crop after zero padding by this many pixels
    flip: bool = _section("data", True)  # random horizontal flips
    # channel: per-channel mean and std; pixel: subtract the per-pixel mean (the paper's)
    normalization: str = _section("data", "channel")
    # optimisation
    iterations: int = _section("train", 64000)
    batch_size: int = _section("train", 128)
    lr: float = _section("train", 0.1)
    momentum: float = _section("train", 0.9)
    weight_decay: float = _section("train", 1e-4)
    schedule: str = _section("train", "step")  # step: lr x gamma at milestones; cosine; constant
    milestones: tuple[int, ...] = _section("train", (32000, 48000))
    gamma: float = _section("train", 0.1)
    warmup_iterations: int = _section("train", 0)  # linear warm-up from ~0 to lr, then schedule
    error_warmup_lr: float | None = _section("train", None)  # paper's ResNet-110 warm-up lr
    error_warmup_until: float = _section("train", 0.8)  # ... held until train error < this
    error_warmup_min_depth: int = _section("train", 110)  # ... for nets at least this deep
    # a step's loss above this times chance-level loss, ln(classes), or non-finite: diverged
    divergence_factor: float = _section("train", 10.0)
    precision: str = _section("train", "fp32")
    device: str = _section("train", "auto")
    channels_last: bool = _section("train", True)
    # torch.compile the training step's model (eval stays eager), with CUDA graphs on a GPU:
    # pays off on long runs only, as each net compiles first (about 40 s for ResNet-20 on a
    # 2-core CPU)
    compile: bool = _section("train", False)
    log_every: int = _section("train", 100)  # train_loss / train_error / lr / images_per_sec
    eval_every: int = _section("train", 1000)  # plus val and test metrics
    # images of each split evaluated at the evaluations during training (None: all); the
    # evaluation at the end always takes every image
    eval_subset: int | None = _section("train", None)
    eval_batch_size: int = _section("train", 1000)
    checkpoint_every: int = _section("train", 1000)  # iterations between resumable checkpoints

    def __post_init__(self) -> None:
        problem = run_config_problem(self)
        if problem:
            raise ConfigError(problem)

    @property
    def name(self) -> str:
        return f"{self.arch}-{self.depth}-s{self.seed}"

    @property
    def residual(self) -> bool:
        return models.arch_spec(self.arch).residual

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
    for rules in (_choice_rules, _optimiser_rules, _cadence_rules, _schedule_rules, _data_rules):
        for ok, message in rules(c):
            if not ok:
                return message
    return models.depth_error(c.arch, c.depth)


Rules = list[tuple[bool, str]]


def _choice_rules(c: RunConfig) -> Rules:
    """Names picked from a list; each list's rule lives with what it names."""
    problems = [
        models.arch_problem(c.arch),
        _choice_problem("dataset", c.dataset, LOADERS),
        precision_problem(c.precision),
        _choice_problem("schedule", c.schedule, SCHEDULES),
        models.shortcut_problem(c.shortcut, plain_allowed=c.arch in PLAIN_ARCHS),
        device_problem(c.device),
        _choice_problem("normalization", c.normalization, NORMALIZATIONS),
    ]
    return [(p is None, p or "") for p in problems]


def _choice_problem(what: str, value: str, allowed) -> str | None:
    return None if value in allowed else f"unknown {what} {value!r} (allowed: {', '.join(allowed)})"


def _optimiser_rules(c: RunConfig) -> Rules:
    return [
        (c.lr > 0 and math.isfinite(c.lr), f"lr must be positive and finite, got {c.lr}"),
        (
            0 < c.batch_size <= MAX_BATCH,
            f"batch size must be in [1, {MAX_BATCH}], got {c.batch_size}",
        ),
        (
            0 < c.iterations <= MAX_ITERATIONS,
            f"iterations must be in [1, {MAX_ITERATIONS}], got {c.iterations}",
        ),
        (
            c.weight_decay >= 0 and math.isfinite(c.weight_decay),
            f"weight decay must be zero or positive and finite, got {c.weight_decay}",
        ),
        (0 <= c.momentum < 1, f"momentum must be in [0, 1), got {c.momentum}"),
        (c.divergence_factor > 1, f"divergence_factor must be above 1, got {c.divergence_factor}"),
        (0 < c.gamma <= 1, f"gamma must be in (0, 1], got {c.gamma}"),
        # Generators keep 32 bits of a seed: 2**32 would silently repeat seed 0.
        (0 <= c.seed < 2**32, f"seed must be in [0, 2**32), got {c.seed}"),
    ]


def _cadence_rules(c: RunConfig) -> Rules:
    return [
        (c.log_every > 0, f"log_every must be positive, got {c.log_every}"),
        (c.eval_every > 0, f"eval_every must be positive, got {c.eval_every}"),
        (
            0 < c.eval_batch_size <= MAX_BATCH,
            f"eval_batch_size must be in [1, {MAX_BATCH}], got {c.eval_batch_size}",
        ),
        (c.checkpoint_every > 0, f"checkpoint_every must be positive, got {c.checkpoint_every}"),
        (c.crop_pad >= 0, f"crop_pad must be zero or positive, got {c.crop_pad}"),
    ]


def _schedule_rules(c: RunConfig) -> Rules:
    return [
        (
            0 <= c.warmup_iterations < c.iterations,
            f"warmup_iterations must be in [0, {c.iterations}), got {c.warmup_iterations} "
            "(set --warmup-iterations)",
        ),
        (
            c.error_warmup_lr is None or c.error_warmup_lr > 0,
            f"error_warmup_lr must be positive, got {c.error_warmup_lr}",
        ),
        (
            0 < c.error_warmup_until <= 1,
            f"error_warmup_until must be in (0, 1], got {c.error_warmup_until}",
        ),
        (
            list(c.milestones) == sorted(set(c.milestones)),
            f"milestones must be increasing, got {list(c.milestones)}",
        ),
        (
            c.schedule != "step" or all(0 < m < c.iterations for m in c.milestones),
            f"lr milestones {list(c.milestones)} must lie inside the {c.iterations} iterations "
            "(set --milestones)",
        ),
    ]


def _data_rules(c: RunConfig) -> Rules:
    return [
        (
            c.train_subset is None or c.train_subset > 0,
            f"train_subset must be positive, got {c.train_subset}",
        ),
        (
            c.val_size is None or c.val_size >= 0,
            f"val_size must be zero or positive, got {c.val_size}",
        ),
        (
            c.bn_group >= 0
            and (c.bn_group == 0 or c.bn_group >= c.batch_size or c.batch_size % c.bn_group == 0),
            f"bn_group must divide the batch size {c.batch_size} (or be 0 or at least the batch "
            f"size: ordinary batch norm), got {c.bn_group}",
        ),
        (
            c.eval_subset is None or c.eval_subset > 0,
            f"eval_subset must be positive, got {c.eval_subset}",
        ),
        (
            c.image_size is None or c.image_size >= 8,
            f"image_size must be at least 8, got {c.image_size}",
        ),
    ]


CELL_FIELDS = ("arch", "depth", "seed")
# At most 200 characters: the name is also a folder name (reports/<experiment>), and MLflow
# refuses names over 500.
EXPERIMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\- ]{0,199}")


@dataclass(frozen=True)
class SweepConfig:
    """The grid archs x depths x seeds; `run` holds the RunConfig fields every cell shares."""

    archs: tuple[str, ...] = ("plain", "residual")
    depths: tuple[int, ...] = (20, 32, 44, 56)
    seeds: tuple[int, ...] = (0,)
    preset: str = "custom"
    experiment: str | None = None
    exclude: tuple[str, ...] = ()  # cells left out of the grid, by "arch-depth" (e.g. plain-110)
    # The verdict's margin, points of training error: a depth penalty counts as degradation
    # only when its confidence interval lies above it (docs/ANALYSIS.md). The analysis takes
    # the same default for sweeps logged without one (analysis/effects.py).
    margin: float = 2.0
    run: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("archs", "depths", "seeds"):
            values = getattr(self, name)
            if not values:
                raise ConfigError(f"{name} must not be empty")
            if len(set(values)) != len(values):
                raise ConfigError(f"{name} has repeated values: {list(values)}")
        problem = models.shortcut_problem(self.run.get("shortcut", RunConfig.shortcut), False)
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
        if not 0 < self.margin < 100:
            raise ConfigError(
                f"margin must be between 0 and 100 points of training error, got {self.margin:g}"
            )
        if not self.cells():  # every cell must be a valid run, and there must be one
            raise ConfigError("the sweep has no cells left: every (arch, depth) is excluded")

    @property
    def dataset(self) -> str:
        return self.run.get("dataset", RunConfig.dataset)

    @property
    def experiment_name(self) -> str:
        return self.experiment or f"depth-{self.preset}-{self.dataset}"

    def cells(self) -> list[RunConfig]:
        """One run per (seed, depth, arch): shallow nets and seed 0 first."""
        grid = []
        for seed in self.seeds:
            for depth in sorted(self.depths):
                for arch in self.archs:
                    fixed = models.arch_spec(arch).fixed_depth if arch in models.ARCHS else None
                    if fixed is not None and depth != sorted(self.depths)[0]:
                        continue  # fixed-depth archs: one cell per seed
                    if f"{arch}-{fixed or depth}" not in self.exclude:
                        grid.append(self._cell(arch, fixed or depth, seed))
        return grid

    def _cell(self, arch: str, depth: int, seed: int) -> RunConfig:
        run = dict(self.run)
        if arch in PLAIN_ARCHS:
            run["shortcut"] = "none"  # a plain net has none, whatever the sweep's choice
        return RunConfig(arch=arch, depth=depth, seed=seed, **run)

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
        shared = dataclasses.asdict(RunConfig(**self.run))
        params.update({k: _param_str(v) for k, v in shared.items() if k not in CELL_FIELDS})
        return params
