"""Tuned against untuned: what each net's tuned values did to its training error.

A tuned sweep's cells train with each (arch, depth)'s best values from its study; the untuned
sweep of the same grid trains them with the preset's own. Both on the same seeds, so the
comparison pairs them seed by seed (the seed fixes the batch order and the initial weights of
both): per seed, tuned minus untuned final training error, in points, with a two-sided 90 %
interval on seeds - 1 degrees of freedom (each end a one-sided 5 % test, as the verdict's). A net
whose whole interval lies above 0 trained worse tuned than untuned by more than the seed-to-seed
noise: tuning failed for that net, and its tuned error is not a result about depth.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import pandas as pd

from analysis.effects import ALPHA, Difference
from analysis.frames import arch_order
from resnet.tracking.schema import Metric

TWO_SIDED = 2 * ALPHA  # a 90 % interval: each end a one-sided 5 % test


class TuningOutcome(StrEnum):
    FAILED = "tuning failed for this net"  # tuned trains worse, beyond the seed noise
    BETTER = "better tuned"
    NO_CLEAR_CHANGE = "no clear change"
    UNTESTED = "untested (one seed)"


@dataclass(frozen=True)
class TuningEffect:
    arch: str
    depth: int
    tuned: float  # mean final training error (%) over the paired seeds
    untuned: float
    change: Difference  # tuned - untuned per seed, points

    def interval(self) -> tuple[float, float] | None:
        return self.change.interval(TWO_SIDED)

    @property
    def outcome(self) -> TuningOutcome:
        bounds = self.interval()
        if bounds is None:
            return TuningOutcome.UNTESTED
        low, high = bounds
        if low > 0:
            return TuningOutcome.FAILED
        if high < 0:
            return TuningOutcome.BETTER
        return TuningOutcome.NO_CLEAR_CHANGE


def errors_by_seed(cells: pd.DataFrame, arch: str, depth: int) -> dict[int, float]:
    """{seed: final training error (%)} of a net's finished cells."""
    done = cells[
        (cells["status"] == "finished") & (cells["arch"] == arch) & (cells["depth"] == depth)
    ]
    return {
        int(s): 100 * float(e) for s, e in zip(done["seed"], done[Metric.TRAIN_ERROR], strict=True)
    }


def tuning_effects(tuned: pd.DataFrame, untuned: pd.DataFrame) -> list[TuningEffect]:
    """One effect per net that both sweeps finished on at least one common seed."""
    effects = []
    nets = tuned[["arch", "depth"]].drop_duplicates()
    order = {arch: i for i, arch in enumerate(arch_order(tuned))}
    for arch, depth in sorted(nets.itertuples(index=False), key=lambda n: (order[n[0]], n[1])):
        mine, theirs = errors_by_seed(tuned, arch, depth), errors_by_seed(untuned, arch, depth)
        common = sorted(set(mine) & set(theirs))
        if not common:
            continue
        change = Difference(tuple(mine[s] - theirs[s] for s in common))
        tuned_mean = sum(mine[s] for s in common) / len(common)
        untuned_mean = sum(theirs[s] for s in common) / len(common)
        effects.append(TuningEffect(arch, int(depth), tuned_mean, untuned_mean, change))
    return effects


def effect_table(effects: list[TuningEffect]) -> pd.DataFrame:
    """The report's side-by-side table: one row per net."""
    rows = []
    for e in effects:
        bounds = e.interval()
        interval = "" if bounds is None else f"{bounds[0]:+.1f} to {bounds[1]:+.1f}"
        rows.append(
            {
                "net": f"{e.arch}-{e.depth}",
                "seeds": e.change.n,
                "untuned train error %": f"{e.untuned:.2f}",
                "tuned train error %": f"{e.tuned:.2f}",
                "tuned - untuned (points)": f"{e.change.estimate:+.2f}",
                "90 % CI": interval,
                "outcome": str(e.outcome),
            }
        )
    return pd.DataFrame(rows)


def failed_nets(effects: list[TuningEffect]) -> list[str]:
    return [f"{e.arch}-{e.depth}" for e in effects if e.outcome == TuningOutcome.FAILED]
