"""What `--tune` tunes, and with what budget: the preset's [tune] section as typed config.

A study tunes the RunConfig fields of its search space (`[tune.space]` in the preset: each
field's low, high and scale) for each (arch, depth), with a shortened budget per trial
(`trial_budget`). The studies themselves (Optuna) live in `resnet.runner.tuning`.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from dataclasses import dataclass

from resnet.core.bounds import MAX_TRIALS, POSITIVE, Bounds
from resnet.core.config import CELL_FIELDS, NON_IDENTITY_FIELDS, ConfigError, RunConfig
from resnet.core.settings import NO_FLAG, bound_problems, setting

PRUNERS = ("median", "hyperband", "none")
RANGE_EXAMPLE = "{ low = 0.001, high = 1.0, log = true }"


@functools.cache
def tunable_fields() -> dict[str, type]:
    """RunConfig's numeric fields that a study may tune, {name: int or float}: all but the
    grid's (arch, depth, seed), which every study holds fixed, and those that change how fast
    a run computes but not what (its score would not move)."""
    hints = typing.get_type_hints(RunConfig)
    found = {}
    for field in dataclasses.fields(RunConfig):
        hint = hints[field.name]
        kinds = {t for t in typing.get_args(hint) or (hint,) if t is not type(None)}
        fixed = field.name in CELL_FIELDS or field.name in NON_IDENTITY_FIELDS
        if not fixed and kinds in ({int}, {float}):
            found[field.name] = kinds.pop()
    return found


@dataclass(frozen=True)
class ParamRange:
    """One tuned RunConfig field, sampled from low to high (on a log scale with `log`)."""

    name: str
    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        problem = range_problem(self)
        if problem:
            raise ConfigError(problem)

    @property
    def integer(self) -> bool:
        return tunable_fields()[self.name] is int


def range_problem(r: ParamRange) -> str | None:
    """What is wrong with a tuned range, as one line, or None."""
    fields = tunable_fields()
    if r.name not in fields:
        allowed = f"(allowed: {', '.join(fields)})"
        if r.name in CELL_FIELDS:
            return f"tune.space: {r.name!r} is set by the sweep's grid {allowed}"
        if r.name in NON_IDENTITY_FIELDS:
            return f"tune.space: {r.name!r} changes how fast a run computes, not what {allowed}"
        if r.name in {f.name for f in dataclasses.fields(RunConfig)}:
            return f"tune.space: {r.name!r} is not a numeric field {allowed}"
        return f"tune.space: unknown parameter {r.name!r} {allowed}"
    where = f"tune.space.{r.name}"
    if not r.low < r.high:
        return f"{where}: low must be below high, got low = {r.low:g}, high = {r.high:g}"
    if r.log and r.low <= 0:
        return f"{where}: log = true needs low > 0, got low = {r.low:g}"
    if fields[r.name] is int and not all(float(v).is_integer() for v in (r.low, r.high)):
        return f"{where}: {r.name} is an integer, so low and high must be whole numbers"
    return None


@dataclass(frozen=True)
class TuneConfig:
    """A preset's [tune] keys, each with its flag of depth_sweep.py (used with --tune)."""

    trials: int = setting(
        "tune", 8, "trials per study, in total (not extra trials)", Bounds(low=1, high=MAX_TRIALS)
    )
    iterations: int | None = setting(
        "tune",
        None,
        "iterations of a trial (default: the run's own)",
        POSITIVE,
        flag="--trial-iterations",
    )
    pruner: str = setting("tune", "median", f"early stopping of trials: {', '.join(PRUNERS)}")
    seed: int = setting(
        "tune", 0, "the TPE sampler's seed, offset by each study's name", flag="--tune-seed"
    )
    # Few, so that the model guides most of a small study's trials.
    startup_trials: int = setting(
        "tune",
        4,
        "trials drawn at random before TPE models the others (the untuned trial counts)",
        Bounds(low=0, high=MAX_TRIALS),
    )
    # The RunConfig fields tuned: the preset's [tune.space], written there and nowhere else.
    space: tuple[ParamRange, ...] = setting(
        "tune", (), "the tuned fields' ranges, [tune.space]", flag=NO_FLAG
    )
    # A seed no report uses keeps the values chosen apart from the runs judged with them.
    train_seed: int | None = setting(
        "tune",
        None,
        "the seed trials train with (default: the cell's own)",
        Bounds(low=0),
        flag="--trial-seed",
    )

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.space)

    def __post_init__(self) -> None:
        allowed = ", ".join(tunable_fields())
        checks = [(False, problem) for problem in bound_problems(self, prefix="tune.")]
        checks += [
            (
                self.pruner in PRUNERS,
                f"unknown pruner {self.pruner!r} (allowed: {', '.join(PRUNERS)})",
            ),
            (
                bool(self.space),
                f"the preset's [tune.space] names no parameter to tune: add one line a field "
                f"({allowed}), e.g. lr = {RANGE_EXAMPLE}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)


def trial_budget(cell: RunConfig, tune: TuneConfig) -> RunConfig:
    """The cell with the tuning budget: milestones, warm-up and the log and evaluation
    intervals scaled to the shorter run (as many validation reports for the pruner), and the
    tuning's own seed if it has one. A cell that trains on every image (val_size 0) is tuned on
    the default validation split: tuning needs one, and the test set never chooses anything."""
    if cell.val_size == 0:
        cell = dataclasses.replace(cell, val_size=None)
    if tune.train_seed is not None:
        cell = dataclasses.replace(cell, seed=tune.train_seed)
    if tune.iterations is None or tune.iterations == cell.iterations:
        return cell
    scale = tune.iterations / cell.iterations
    return dataclasses.replace(
        cell,
        iterations=tune.iterations,
        milestones=tuple(max(1, round(m * scale)) for m in cell.milestones),
        warmup_iterations=round(cell.warmup_iterations * scale),
        log_every=max(1, round(cell.log_every * scale)),
        eval_every=max(1, round(cell.eval_every * scale)),
    )


def space_problem(tune: TuneConfig, cell: RunConfig, run_trials: bool = True) -> str | None:
    """A bound that the cell's config refuses (momentum 1, say), in a trial's budget or the
    cell's own, or, when trials will run, a value of the cell's that its untuned trial cannot
    take (0 on a log scale), as one line; found before any trial draws it."""
    for r in tune.space:
        own = getattr(cell, r.name)
        if run_trials and r.log and own <= 0:
            return (
                f"tune.space.{r.name} is on a log scale, which cannot hold the run's own "
                f"{r.name} = {own:g} (every study's first trial is the untuned values): give "
                f"{r.name} a value above 0, or log = false"
            )
    for config in (trial_budget(cell, tune), cell):
        for r in tune.space:
            for side, value in (("low", r.low), ("high", r.high)):
                value = int(value) if r.integer else value
                try:
                    dataclasses.replace(config, **{r.name: value})
                except ConfigError as exc:
                    return f"tune.space.{r.name}: {side} = {value:g} does not fit: {exc}"
    return None
