"""Is this sweep's run consistent with the project's committed reference runs of its design?

The reference runs are listed in docs/reference-runs.toml, each set with the settings it trained
with. A sweep is held against a set when it trained with every one of those settings (precision,
device and the like may differ). Then each net's mean training error over the sweep's seeds,
and each arch's mean per-seed depth penalty, should lie within the reference seeds' 99 %
prediction interval for a mean of that many new seeds: reference mean ± t · SD · √(1/m + 1/n),
m reference seeds, n of the sweep's. Of six such checks of a run whose numbers do come from
the same distribution, at least one fails in about 6 % of runs (fewer, as they are
correlated): a failure says "look", not "wrong".
"""

from __future__ import annotations

import math
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from analysis.effects import fit_penalty
from analysis.net_change import errors_by_seed
from analysis.stats import CONTRAST_PAIR
from resnet.tracking.schema import Metric

ROOT = Path(__file__).resolve().parents[1]
REFERENCES = ROOT / "docs" / "reference-runs.toml"
LEVEL = 0.99
# Settings that change how a run is watched or how fast it goes, not what it learns.
NOT_DESIGN = (
    "archs",
    "depths",
    "seeds",
    "exclude",
    "preset",
    "data_dir",
    "precision",
    "device",
    "channels_last",
    "compile",
    "log_every",
    "eval_every",
    "eval_subset",
    "eval_batch_size",
    "checkpoint_every",
)


@dataclass(frozen=True)
class Reference:
    name: str
    preset: str
    machine: str
    runs: tuple[str, ...]  # CSV paths, relative to the project's root
    settings: dict[str, str]

    def cells(self) -> pd.DataFrame:
        frames = [pd.read_csv(ROOT / path) for path in self.runs]
        cells = pd.concat(frames, ignore_index=True)
        if "status" not in cells:  # a file of finished runs only
            cells = cells.assign(status="finished")
        return cells[cells["status"] == "finished"]


def design_settings(params: dict[str, str]) -> dict[str, str]:
    """The settings of a sweep's params that decide what its nets learn."""
    return {k: v for k, v in params.items() if k not in NOT_DESIGN}


def read_references(path: Path = REFERENCES) -> list[Reference]:
    if not path.exists():
        return []
    with path.open("rb") as f:
        listed = tomllib.load(f).get("reference", [])
    return [
        Reference(r["name"], r["preset"], r["machine"], tuple(r["runs"]), dict(r["settings"]))
        for r in listed
    ]


def differences(reference: Reference, settings: dict[str, str]) -> list[str]:
    return [
        f"{key} {settings.get(key, 'unset')} (reference {value})"
        for key, value in reference.settings.items()
        if settings.get(key) != value
    ]


@dataclass(frozen=True)
class Check:
    what: str  # "residual-56" or "residual penalty"
    value: float  # points
    low: float
    high: float

    @property
    def inside(self) -> bool:
        return self.low <= self.value <= self.high


def prediction_check(what: str, mine: np.ndarray, reference: np.ndarray) -> Check | None:
    """Is the mean of `mine` within the reference's prediction interval for such a mean?"""
    m, n = len(reference), len(mine)
    if m < 2 or n < 1:
        return None
    half = stats.t.ppf(0.5 + LEVEL / 2, m - 1) * reference.std(ddof=1) * math.sqrt(1 / m + 1 / n)
    centre = float(reference.mean())
    return Check(what, float(mine.mean()), centre - half, centre + half)


def per_seed_penalties(cells: pd.DataFrame, arch: str) -> np.ndarray:
    """The verdict's own per-seed depth penalties (points) of an arch's runs."""
    mine = cells[cells["arch"] == arch]
    if mine["depth"].nunique() < 2:
        return np.array([])
    fitted = fit_penalty(mine["depth"], 100 * mine[Metric.TRAIN_ERROR], mine["seed"])
    return np.array(fitted.per_seed if fitted else [])


def checks(cells: pd.DataFrame, reference: pd.DataFrame) -> list[Check]:
    found = []
    for (arch, depth), _ in cells.groupby(["arch", "depth"]):
        mine, theirs = errors_by_seed(cells, arch, depth), errors_by_seed(reference, arch, depth)
        found.append(
            prediction_check(
                f"{arch}-{depth}", np.array([*mine.values()]), np.array([*theirs.values()])
            )
        )
    for arch in CONTRAST_PAIR:
        mine, theirs = per_seed_penalties(cells, arch), per_seed_penalties(reference, arch)
        found.append(prediction_check(f"{arch} penalty", mine, theirs))
    return [c for c in found if c is not None]


@dataclass(frozen=True)
class Mine:
    """The sweep held against the reference: its finished cells, its run's params, how
    analysis.compare names it (EXPERIMENT@SWEEP_RUN_ID, and a --tracking-uri flag if any), and
    the settings its tuning chose per net (none for an untuned sweep)."""

    cells: pd.DataFrame
    params: dict[str, str]
    source: str
    uri_flag: str = ""
    tuned: tuple[str, ...] = ()


def compare_command(reference: Reference, mine: Mine) -> str:
    sources = [f"this run={mine.source}"]
    sources += [f"reference {Path(p).parent.name}={p}" for p in reference.runs]
    words = ["python -m analysis.compare", *(shlex.quote(s) for s in sources), mine.uri_flag]
    return " ".join(w for w in words if w)


def consistency_line(mine: Mine, references: list[Reference]) -> str:
    """One line: is this sweep's run consistent with the reference runs of its design?"""
    preset = mine.params.get("preset", "")
    ours = [r for r in references if r.preset == preset]
    if not ours:
        return f"Reference runs: none for preset {preset or 'unknown'}, so no comparison."
    reference = ours[0]
    if mine.tuned:
        return (
            f"Reference runs: this sweep tuned {', '.join(mine.tuned)} per net and "
            f"{reference.name}'s committed runs are untuned, so no comparison."
        )
    changed = differences(reference, design_settings(mine.params))
    if changed:
        return (
            f"Reference runs: this sweep's settings differ from those of {reference.name}'s "
            f"committed runs ({'; '.join(changed)}), so no comparison."
        )
    theirs = reference.cells()
    found = checks(mine.cells, theirs)
    seeds = theirs["seed"].nunique()
    head = f"Against the reference runs ({reference.name}: {seeds} seeds, {reference.machine})"
    outside = [c for c in found if not c.inside]
    if not found:
        return f"{head}: nothing to compare (no net in common)."
    if outside:
        shown = "; ".join(
            f"{c.what} {c.value:.1f} (expected {c.low:.1f} to {c.high:.1f})" for c in outside
        )
        verdict = f"not consistent: {shown} (points of training error)"
    else:
        verdict = (
            "consistent: every net's training error and each depth penalty lie within the "
            f"reference seeds' {100 * LEVEL:.0f} % prediction intervals"
        )
    return f"{head}: {verdict}. In full: `{compare_command(reference, mine)}`"
