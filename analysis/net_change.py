"""One net in two sweeps of the same grid, paired seed by seed: the later minus the first final
training error, in points, per seed both ran (the seed fixes the batch order and the initial
weights of both), with a two-sided 90 % interval on seeds - 1 degrees of freedom (each end a
one-sided 5 % test, as the verdict's). The comparison of sweeps and the tuned-against-untuned
table both read it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis.effects import ALPHA, Difference
from analysis.frames import arch_order
from resnet.tracking.schema import Metric

TWO_SIDED = 2 * ALPHA  # a 90 % interval: each end a one-sided 5 % test


@dataclass(frozen=True)
class NetChange:
    arch: str
    depth: int
    later: float  # mean final training error (%) over the paired seeds
    first: float
    change: Difference  # later - first per seed, points

    def interval(self) -> tuple[float, float] | None:
        return self.change.interval(TWO_SIDED)


def errors_by_seed(cells: pd.DataFrame, arch: str, depth: int) -> dict[int, float]:
    """{seed: final training error (%)} of a net's finished cells."""
    done = cells[
        (cells["status"] == "finished") & (cells["arch"] == arch) & (cells["depth"] == depth)
    ]
    return {
        int(s): 100 * float(e) for s, e in zip(done["seed"], done[Metric.TRAIN_ERROR], strict=True)
    }


def net_changes(later: pd.DataFrame, first: pd.DataFrame) -> list[NetChange]:
    """One change per net of `later` that both sweeps finished on at least one common seed."""
    changes = []
    nets = later[["arch", "depth"]].drop_duplicates()
    order = {arch: i for i, arch in enumerate(arch_order(later))}
    for arch, depth in sorted(nets.itertuples(index=False), key=lambda n: (order[n[0]], n[1])):
        mine, theirs = errors_by_seed(later, arch, depth), errors_by_seed(first, arch, depth)
        common = sorted(set(mine) & set(theirs))
        if not common:
            continue
        change = Difference(tuple(mine[s] - theirs[s] for s in common))
        later_mean = sum(mine[s] for s in common) / len(common)
        first_mean = sum(theirs[s] for s in common) / len(common)
        changes.append(NetChange(arch, int(depth), later_mean, first_mean, change))
    return changes
