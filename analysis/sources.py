"""How analysis.compare names a sweep: `[LABEL=]SOURCE[#SEEDS]` (no heavy imports, so that a bad
source is answered before pandas or MLflow load).

SOURCE is a CSV of a sweep's cells, an MLflow experiment (its newest sweep) or
EXPERIMENT@SWEEP_RUN_ID; LABEL names it in the comparison; #SEEDS (e.g. `#0,1,2`) keeps only
those seeds' runs, so that one committed file can stand for several seed sets.
"""

from __future__ import annotations

from dataclasses import dataclass

from resnet.command_line import InputError


@dataclass(frozen=True)
class Source:
    label: str  # "" when not given
    spec: str  # the CSV path or the MLflow experiment (and sweep run)
    seeds: tuple[int, ...]  # () for every seed

    @property
    def is_csv(self) -> bool:
        return self.spec.endswith(".csv")


def parse_source(text: str) -> Source:
    label, _, rest = text.rpartition("=") if "=" in text else ("", "", text)
    spec, _, seeds = rest.partition("#")
    return Source(label, spec, parse_seeds(seeds, text) if seeds else ())


def parse_seeds(seeds: str, text: str) -> tuple[int, ...]:
    try:
        found = tuple(int(s) for s in seeds.split(","))
    except ValueError:
        raise InputError(
            f"{text}: the seeds after # must be whole numbers separated by commas, e.g. #0,1,2"
        ) from None
    if len(set(found)) != len(found):
        raise InputError(f"{text}: a seed is named twice after #")
    return found
