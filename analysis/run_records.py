"""What a report records in MLflow besides its files: each arch's verdict as tags of the
sweep's run, the final errors and the verdict's numbers as its metrics (to compare sweeps in
the runs table), and the picture of the searches on each tuning run."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
from mlflow import entities

from analysis.collect import Study
from analysis.stats import Contrast, Verdict, summary_table
from resnet.tracking.schema import Artifact, Metric, net_metric, verdict_metric, verdict_tag


def log_search_figure(client, study: Study, path: Path) -> None:
    """Each tuning run gets the picture of the searches too, beside Optuna's own figures."""
    if not path.exists():
        return
    for run_id in study.tuning["run_id"].dropna():
        client.log_artifact(run_id, str(path), Artifact.FIGURES)


def verdict_tags(found: list[Verdict]) -> list[entities.RunTag]:
    """Each arch's outcome and the seeds it was judged on, for a later sweep to know when it
    is a second look."""
    tags = []
    for v in found:
        seeds = ",".join(str(s) for s in v.penalty.seeds) if v.penalty is not None else ""
        tags += [
            entities.RunTag(verdict_tag(v.arch, "outcome"), str(v.outcome)),
            entities.RunTag(verdict_tag(v.arch, "seeds"), seeds),
        ]
    return tags


def summary_metrics(
    study: Study, found: list[Verdict], contrasted: Contrast | None
) -> list[entities.Metric]:
    """The final errors of every net (mean over seeds, a fraction) and the verdict's numbers,
    as metrics of the sweep run, to compare sweeps in the runs table and its charts."""
    values = net_means(study)
    for v in found:
        values[verdict_metric(v.arch, "paired_p")] = v.paired_p
        values[verdict_metric(v.arch, "trend_p")] = v.trend_p
        if v.penalty is not None:
            values[verdict_metric(v.arch, "fitted_penalty")] = v.penalty.estimate
        if v.interval is not None:
            values[verdict_metric(v.arch, "penalty_low")] = v.interval[0]
            values[verdict_metric(v.arch, "penalty_high")] = v.interval[1]
    if contrasted is not None:
        values[verdict_metric("contrast", "difference")] = contrasted.difference
        values[verdict_metric("contrast", "p")] = contrasted.p
        values[verdict_metric("plain", "depth_penalty")] = contrasted.plain_penalty
        values[verdict_metric("residual", "depth_penalty")] = contrasted.residual_penalty
    now = int(time.time() * 1000)
    return [
        entities.Metric(key, float(value), now, 0)
        for key, value in values.items()
        if value is not None and not pd.isna(value)
    ]


def net_means(study: Study) -> dict[str, float]:
    """{plain_20_train_error: mean over the net's finished seeds, ...}, as fractions."""
    table = summary_table(study.cells, study.dataset)
    values = {}
    for net in table.itertuples():
        for metric in (Metric.TRAIN_ERROR, Metric.TEST_ERROR):
            values[net_metric(net.arch, net.depth, metric)] = getattr(net, f"{metric}_mean") / 100
    return values
