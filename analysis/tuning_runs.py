"""A tuned sweep's studies as the report reads them: each study's best values, every trial,
and the params tuned, from the tuning and trial runs in MLflow."""

from __future__ import annotations

import pandas as pd

from analysis.frames import KIND, PARENT, column, columns, kinds, with_kinds
from resnet.tracking.schema import (
    LEGACY_TUNED_PARAMS,
    Kind,
    Metric,
    Tag,
    best_metric,
    join_names,
    metric_column,
    param_column,
    split_names,
    tag_column,
)


def tuning_tables(
    runs: pd.DataFrame, sweep: pd.Series, cells: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, bool]]:
    """The studies this sweep ran or took its values from, their trials, and the params they
    tuned (each with whether it was sampled on a log scale)."""
    tuned_from = Tag.TUNED_FROM
    studies = set(cells[tuned_from].dropna()) - {""} if tuned_from in cells else set()
    study = tag_column(Tag.STUDY)
    tuning = runs[runs[KIND] == Kind.TUNING]
    tuning = tuning[(tuning[PARENT] == sweep["run_id"]) | column(tuning, study).isin(studies)]
    tuned = tuned_params(tuning)
    net = {"study": study, "arch": tag_column(Tag.ARCH), "depth": tag_column(Tag.DEPTH)}
    best = columns(
        tuning,
        **net,
        **{best_metric(name): metric_column(best_metric(name)) for name in tuned},
        best_val_error=metric_column(Metric.BEST_VAL_ERROR),
        best_trial=tag_column(Tag.BEST_TRIAL),
        run_id="run_id",
    )
    trials = runs[runs[KIND] == Kind.TRIAL]
    trials = trials[column(trials, study).isin(set(best["study"].dropna()))]
    trial_rows = columns(
        trials,
        **net,
        **{name: param_column(name) for name in tuned},
        val_error=metric_column(Metric.VAL_ERROR),
        state=tag_column(Tag.OPTUNA_STATE),
        number=tag_column(Tag.TRIAL_NUMBER),
        untuned=tag_column(Tag.UNTUNED_TRIAL),
    )
    trial_rows["untuned"] = trial_rows["untuned"] == "true"
    known = kinds(cells)
    return with_kinds(best, known), with_kinds(trial_rows, known), tuned


def tuned_params(tuning: pd.DataFrame) -> dict[str, bool]:
    """{param: sampled on a log scale} over the tuning runs, in the order they name them; a
    run from before its study's space was tagged tuned lr and weight decay, both on a log scale."""
    found: dict[str, bool] = {}
    names = column(tuning, tag_column(Tag.TUNED_PARAMS))
    logged = column(tuning, tag_column(Tag.LOG_SCALED_PARAMS))
    for tuned, log_scaled in zip(names, logged, strict=True):
        if not isinstance(tuned, str):
            tuned = log_scaled = join_names(LEGACY_TUNED_PARAMS)
        for name in split_names(tuned):
            found[name] = found.get(name, False) or name in split_names(log_scaled)
    return found


def with_settings(cells: pd.DataFrame, runs: pd.DataFrame, params) -> pd.DataFrame:
    """The cells with a column for each tuned param they lack yet: their runs' values."""
    for name in [p for p in params if p not in cells and "run_id" in cells]:
        values = column(runs, param_column(name), numeric=True)
        cells[name] = cells["run_id"].map(dict(zip(runs["run_id"], values, strict=True)))
    return cells
