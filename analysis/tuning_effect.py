"""Tuned against untuned: what each net's tuned values did to its training error.

A tuned sweep's cells train with each (arch, depth)'s best values from its study; the untuned
sweep of the same grid trains them with the preset's own. Both on the same seeds, so the
comparison pairs them seed by seed (analysis/net_change.py): per seed, tuned minus untuned final
training error, in points, with a two-sided 90 % interval. A net whose whole interval lies above
0 trained worse tuned than untuned by more than the seed-to-seed noise: tuning failed for that
net, and its tuned error is not a result about depth.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import pandas as pd

from analysis.net_change import NetChange, net_changes


class TuningOutcome(StrEnum):
    FAILED = "tuning failed for this net"  # tuned trains worse, beyond the seed noise
    BETTER = "better tuned"
    NO_CLEAR_CHANGE = "no clear change"
    UNTESTED = "untested (one seed)"


@dataclass(frozen=True)
class TuningEffect(NetChange):
    """A net's change from its untuned sweep (first) to its tuned one (later)."""

    @property
    def tuned(self) -> float:
        return self.later

    @property
    def untuned(self) -> float:
        return self.first

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


def tuning_effects(tuned: pd.DataFrame, untuned: pd.DataFrame) -> list[TuningEffect]:
    """One effect per net that both sweeps finished on at least one common seed."""
    return [
        TuningEffect(c.arch, c.depth, c.later, c.first, c.change)
        for c in net_changes(tuned, untuned)
    ]


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
