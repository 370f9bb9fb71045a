"""MLflow's search_runs frames as the analysis reads them: a column that may be missing, typed
columns picked by name, and the kind of net (plain or residual) of each arch of a frame."""

from __future__ import annotations

import pandas as pd

from resnet.tracking.schema import Tag, residual_by_name, tag_column

# The search_runs columns of the tags read most
KIND, PARENT = tag_column(Tag.KIND), tag_column(Tag.PARENT_RUN_ID)
RESIDUAL = "residual"  # the column of a row's kind of net: residual (True) or plain (False)


def column(frame: pd.DataFrame, name: str, numeric: bool = False) -> pd.Series:
    """A column of a search_runs frame; all-missing when no run has that param, tag or metric."""
    values = frame[name] if name in frame else pd.Series(None, index=frame.index, dtype=object)
    return pd.to_numeric(values, errors="coerce") if numeric else values


TEXT_COLUMNS = ("study", "arch", "state", "run_id", "untuned")


def columns(frame: pd.DataFrame, **sources: str) -> pd.DataFrame:
    """New columns named as the keywords, from the search_runs columns they name; all but
    TEXT_COLUMNS as numbers."""
    picked = {
        name: column(frame, source, numeric=name not in TEXT_COLUMNS)
        for name, source in sources.items()
    }
    return pd.DataFrame(picked).reset_index(drop=True)


def kinds(frame: pd.DataFrame) -> dict[str, bool]:
    """{arch: residual?} for each arch of a frame, from its `residual` column (the runs' shortcut
    tags); by the name only where no row of the arch has a kind: a frame without the column
    (a CSV export, a hand-built frame) or an arch whose runs carry no shortcut tag."""
    if "arch" not in frame:
        return {}
    known = {}
    if RESIDUAL in frame:
        recorded = frame[["arch", RESIDUAL]].dropna()
        known = dict(zip(recorded["arch"], recorded[RESIDUAL].astype(bool), strict=True))
    return {
        arch: known.get(arch, residual_by_name(arch)) for arch in frame["arch"].dropna().unique()
    }


def arch_order(frame: pd.DataFrame) -> list[str]:
    """A frame's archs, plain nets before residual ones, in tables and figures."""
    residual = kinds(frame)
    return sorted(residual, key=lambda arch: (residual[arch], arch))


def with_kinds(frame: pd.DataFrame, known: dict[str, bool]) -> pd.DataFrame:
    """`frame` with a `residual` column from its archs' `known` kinds; a frame without its own
    kinds (tuning runs have no shortcut tag) takes those of the sweep's cells."""
    return frame.assign(**{RESIDUAL: frame["arch"].map(known)}) if "arch" in frame else frame
