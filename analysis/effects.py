"""Depth penalties with seed-blocked confidence intervals, judged against a margin.

An arch's *depth penalty* is how many points of training error its deepest net loses against
its shallowest. The runs of one seed are a block: the seed fixes the batch order, the crops and
the initial weights of the layers the nets share, so they rise and fall together. Each seed
therefore gets its own penalty (the slope of its training error on depth, least squares over
its depths, times the depth range), and the arch's penalty is their mean, with the standard
deviation of the per-seed penalties over √n as its standard error and n - 1 degrees of
freedom. That is the exact t interval for a random-slope model with balanced seeds, and it
needs no variance components estimated from a handful of seeds. The seed-to-seed spread of the
penalty is about twice what the scatter of one seed's depths around its line suggests (nine
seeds of the four-depth quick preset's residual nets; docs/ANALYSIS.md), so one seed carries no
interval at all.

The outcome reads the 90 % interval [low, high] (its ends are one-sided 5 % tests) against the
margin δ: degradation when low > +δ, a small penalty below the margin when 0 < low and high < +δ,
no degradation when it covers 0 and high < +δ, deeper is better when high < 0 (a superiority
test with no margin), inconclusive otherwise (it straddles +δ), untested with one seed.

The contrast (plain penalty - residual penalty) pairs the two archs' penalties seed by seed, so
what a seed does to both cancels; the per-seed differences give a two-sided 95 % interval and
p with n - 1 degrees of freedom, judged against the same margin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from scipy import stats

from resnet.core import bounds

ALPHA = 0.05
# The margin, points of training error (resnet/core/bounds.py, where the sweep takes it too). The
# paper's plain-56 trains several points worse than plain-20 and the quick study's plain nets
# lose 20 points or more, while one residual net's seeds spread by a point or two: a penalty below
# 2 points is the size of that noise, one above it a real loss of depth. Set after the summary of
# the first measured runs had been read (docs/ANALYSIS.md).
DEFAULT_MARGIN = bounds.DEFAULT_MARGIN
MOST_SEEDS = 50  # the seeds-needed estimate gives up beyond this


class Outcome(StrEnum):
    DEGRADATION = "degradation"
    SMALL_PENALTY = "a small penalty below the margin"
    NO_DEGRADATION = "no degradation"
    DEEPER_IS_BETTER = "deeper is better"
    INCONCLUSIVE = "inconclusive"
    UNTESTED = "untested"


@dataclass(frozen=True)
class SeedMean:
    """The mean of one value per seed (points), with its spread across seeds."""

    per_seed: tuple[float, ...]

    @property
    def estimate(self) -> float:
        return float(np.mean(self.per_seed))

    @property
    def n(self) -> int:
        return len(self.per_seed)

    @property
    def dof(self) -> int:
        return self.n - 1

    @property
    def sd(self) -> float | None:
        """The seed-to-seed standard deviation; None with one seed."""
        return float(np.std(self.per_seed, ddof=1)) if self.n >= 2 else None

    @property
    def se(self) -> float | None:
        return None if self.sd is None else self.sd / math.sqrt(self.n)


@dataclass(frozen=True)
class Penalty(SeedMean):
    """The mean of per-seed depth penalties."""

    seeds: tuple[int, ...] = ()
    depths: tuple[int, ...] = ()
    runs: int = 0

    @property
    def shallow(self) -> int:
        return self.depths[0]

    @property
    def deep(self) -> int:
        return self.depths[-1]

    def interval(self, alpha: float = ALPHA) -> tuple[float, float] | None:
        """The two-sided (1 - 2 alpha) interval, whose ends are one-sided (1 - alpha) bounds."""
        if self.se is None:
            return None
        half = float(stats.t.ppf(1 - alpha, self.dof)) * self.se
        return self.estimate - half, self.estimate + half


def seed_penalty(depths, errors, span: float) -> float:
    """One seed's penalty: the least-squares slope of its errors (%) on depth, times `span`."""
    x, y = np.asarray(depths, float), np.asarray(errors, float)
    centred = x - x.mean()
    return float(np.sum(centred * (y - y.mean())) / np.sum(centred**2) * span)


def fit_penalty(depths, errors, seeds) -> Penalty | None:
    """The seed-blocked penalty of runs (depth, training error %, seed). A seed counts when it
    has runs at the shallowest and the deepest depth; None when no seed has both."""
    x, y, s = np.asarray(depths, int), np.asarray(errors, float), np.asarray(seeds, int)
    levels = tuple(sorted(int(d) for d in set(x)))
    span = levels[-1] - levels[0]
    per_seed, kept, runs = [], [], 0
    for seed in sorted(set(s.tolist())):
        mine = s == seed
        if not {levels[0], levels[-1]} <= set(x[mine].tolist()):
            continue
        per_seed.append(seed_penalty(x[mine], y[mine], span))
        kept.append(seed)
        runs += int(mine.sum())
    if not per_seed:
        return None
    return Penalty(tuple(per_seed), tuple(kept), levels, runs)


def judge(penalty: Penalty, margin: float, alpha: float = ALPHA) -> Outcome:
    bounds = penalty.interval(alpha)
    if bounds is None:
        return Outcome.UNTESTED
    return outcome_of(*bounds, margin)


def outcome_of(low: float, high: float, margin: float) -> Outcome:
    """The words for an interval [low, high] of a depth penalty, against the margin."""
    if low > margin:
        return Outcome.DEGRADATION
    if high < 0:
        return Outcome.DEEPER_IS_BETTER
    if high < margin:
        return Outcome.SMALL_PENALTY if low > 0 else Outcome.NO_DEGRADATION
    return Outcome.INCONCLUSIVE


def outcomes_of_rows(per_seed: np.ndarray, margin: float, alpha: float = ALPHA) -> list[Outcome]:
    """The outcome of each row of per-seed penalties, as `judge` gives it for one: for the
    simulated studies that plan a design."""
    seeds = per_seed.shape[1]
    half = stats.t.ppf(1 - alpha, seeds - 1) * per_seed.std(axis=1, ddof=1) / math.sqrt(seeds)
    centre = per_seed.mean(axis=1)
    bounds = zip(centre - half, centre + half, strict=True)
    return [outcome_of(low, high, margin) for low, high in bounds]


def outcome_at(penalty: Penalty, seeds: int, margin: float, alpha: float = ALPHA) -> Outcome:
    """The outcome `seeds` seeds would get if the penalty's mean and spread held as measured."""
    half = float(stats.t.ppf(1 - alpha, seeds - 1)) * penalty.sd / math.sqrt(seeds)
    return outcome_of(penalty.estimate - half, penalty.estimate + half, margin)


def seeds_to_decide(penalty: Penalty, margin: float, alpha: float = ALPHA) -> int | None:
    """How many seeds would decide an inconclusive penalty if its mean and seed-to-seed spread
    held as measured (about even odds, then: the next seeds' mean is as likely to come out
    lower as higher). None beyond MOST_SEEDS or with one seed (no spread measured)."""
    if penalty.sd is None:
        return None
    for seeds in range(penalty.n + 1, MOST_SEEDS + 1):
        if outcome_at(penalty, seeds, margin, alpha) != Outcome.INCONCLUSIVE:
            return seeds
    return None


class ContrastOutcome(StrEnum):
    LARGER = "larger, beyond the margin"  # the first arch loses more with depth, by > margin
    SMALLER = "smaller, beyond the margin"  # the second arch does
    WITHIN = "within the margin"  # the whole interval lies inside (-margin, +margin)
    INCONCLUSIVE = "inconclusive"
    UNTESTED = "untested"


@dataclass(frozen=True)
class Difference(SeedMean):
    """First penalty - second penalty, paired by seed, with a two-sided test and interval."""

    @property
    def p(self) -> float | None:
        """Two-sided: the penalties differ. None with one seed; 0 or 1 without spread."""
        if self.se is None:
            return None
        if self.se == 0:
            return float(self.estimate == 0)
        return float(2 * stats.t.sf(abs(self.estimate) / self.se, self.dof))

    def interval(self, alpha: float = ALPHA) -> tuple[float, float] | None:
        """The two-sided (1 - alpha) interval."""
        if self.se is None:
            return None
        half = float(stats.t.ppf(1 - alpha / 2, self.dof)) * self.se
        return self.estimate - half, self.estimate + half


def paired_difference(first: Penalty, second: Penalty) -> Difference | None:
    """Per-seed differences over the seeds both penalties have; None when they share none."""
    mine = dict(zip(first.seeds, first.per_seed, strict=True))
    theirs = dict(zip(second.seeds, second.per_seed, strict=True))
    common = sorted(set(mine) & set(theirs))
    if not common:
        return None
    return Difference(tuple(mine[s] - theirs[s] for s in common))


def judge_difference(difference: Difference, margin: float) -> ContrastOutcome:
    bounds = difference.interval()
    if bounds is None:
        return ContrastOutcome.UNTESTED
    low, high = bounds
    if low > margin:
        return ContrastOutcome.LARGER
    if high < -margin:
        return ContrastOutcome.SMALLER
    if -margin < low and high < margin:
        return ContrastOutcome.WITHIN
    return ContrastOutcome.INCONCLUSIVE
