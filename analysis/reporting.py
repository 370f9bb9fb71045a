"""The report of a sweep: figures, table and verdict (its command line: `analysis.report`).

Writes reports/<experiment>/ (report.md, table.csv, cells.csv, figures/*.png and *.svg) and logs
the same files under `report/` to the sweep's parent run, so they show in the MLflow UI.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure
from mlflow import entities

from analysis import figures
from analysis.collect import Study, collect, open_client
from analysis.frames import arch_order
from analysis.markdown import markdown_table
from analysis.reference import Mine, consistency_line, read_references
from analysis.report_figures import draw, figure_lines, save_figures
from analysis.report_folder import DRAFT, make_folder, remove_abandoned_drafts, replace_folder
from analysis.run_records import log_search_figure, summary_metrics, verdict_tags
from analysis.stats import (
    PAPER_DATASET,
    Contrast,
    Verdict,
    contrast,
    figure6_halves,
    summary_table,
    verdicts,
)
from analysis.tuning_section import effects_of, failed_line, tuning_section
from resnet.tracking.address import masked, tracking_address
from resnet.tracking.client import absolute_uri
from resnet.tracking.schema import (
    DEFAULT_TRACKING_URI,
    LEGACY_TUNED_PARAMS,
    MAX_TAG_LENGTH,
    Metric,
    Param,
    Tag,
)

ARTIFACT_DIR = "report"


def folder_name(experiment: str) -> str:
    """The experiment's name as one safe folder name."""
    return re.sub(r"[^A-Za-z0-9._ -]", "_", experiment).lstrip(".") or "experiment"


def result_table(study: Study) -> pd.DataFrame:
    """The summary table with the n/a cells blank and mean ± std in one column per metric."""
    table = summary_table(study.cells, study.dataset)
    shown = pd.DataFrame({"net": table["arch"] + "-" + table["depth"].astype(str), "n": table["n"]})
    nets = list(zip(table["arch"], table["depth"], strict=True))
    for column in settings_shown(study):
        shown[figures.param_label(column)] = [
            setting(study.cells, arch, depth, column) for arch, depth in nets
        ]
    errors = ((Metric.TRAIN_ERROR, "train error %"), (Metric.TEST_ERROR, "test error %"))
    for metric, label in errors:
        pairs = zip(table[f"{metric}_mean"], table[f"{metric}_std"], strict=True)
        shown[label] = [plus_minus(mean, std) for mean, std in pairs]
    if "paper_test_error" in table:
        shown["He et al. Table 6 test error %"] = table["paper_test_error"]
    shown["not finished"] = table["not_finished"]
    return shown


def settings_shown(study: Study) -> list[str]:
    """The hyper-parameters of the table: lr and weight decay, and any other param tuned."""
    return list(dict.fromkeys([Param.LR, Param.WEIGHT_DECAY, *study.tuned_params]))


def setting(cells: pd.DataFrame, arch: str, depth: int, column: str) -> str:
    """The values of a hyper-parameter that an (arch, depth)'s runs used, e.g. '0.1'."""
    if column not in cells:
        return ""
    mine = cells[(cells["arch"] == arch) & (cells["depth"] == depth)][column].dropna()
    return ", ".join(f"{value:g}" for value in sorted(mine.unique()))


def tuned_note(study: Study) -> list[str]:
    """A warning under the table when hyper-parameters were tuned per (arch, depth)."""
    if not study.cells.get(Tag.TUNED_FROM, pd.Series(dtype=str)).fillna("").astype(bool).any():
        return []
    names = [figures.param_label(p) for p in study.tuned_params or LEGACY_TUNED_PARAMS]
    listed = " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
    return [
        f"The {listed} {'were' if len(names) > 1 else 'was'} tuned for each (arch, depth) (see "
        f"the table's columns and the `{Tag.TUNED_FROM}` tag), so nets of one depth may differ "
        "in them as well as in the shortcut.",
        "",
    ]


def plus_minus(mean: float, std: float) -> str:
    if pd.isna(mean):
        return ""
    return f"{mean:.2f}" if pd.isna(std) else f"{mean:.2f} ± {std:.2f}"


def incomplete_lines(study: Study) -> list[str]:
    lines = []
    for cell in study.incomplete.itertuples():
        why = f": {cell.note}" if cell.note else ""
        lines.append(f"- `{cell.cell}` is {cell.status}{why}")
    return lines


def compose(
    study: Study,
    found: list[Verdict],
    eval_metric: str,
    drawn: dict[str, Figure],
    uri: str,
    contrasted: Contrast | None = None,
    reference: str = "",
) -> str:
    finished, total = len(study.finished), len(study.cells)
    sentences = [f"- {line}" for line in verdict_lines(study, found, contrasted)]
    sentences += [f"- {reference}"] if reference else []
    sentences = [bold_label(line) for line in sentences]
    data = study.dataset or "unknown data"
    parts = [
        f"# Depth study: {study.experiment}",
        "",
        f"Sweep run `{study.sweep_run_id}` ({study.sweep_name}) on {data},"
        f" {finished} of {total} cells finished. Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
        f" from {masked(uri)}.",
        "",
        "## Verdict: is deeper worse?",
        "",
        *sentences,
        "",
        "### How each was judged",
        "",
        *[f"- **{v.arch}**: {v.details}" for v in found if v.details],
        "",
        METHODS_NOTE,
        "",
        *stability_lines(study),
        "## Final errors",
        "",
        markdown_table(result_table(study)),
        "",
        *tuned_note(study),
        *tuning_section(study),
    ]
    if study.dataset == PAPER_DATASET:
        parts += [
            "He et al. 2016 give single runs for ResNet-20 to -56 and the best of 5 runs for "
            "ResNet-110 (mean 6.61 ± 0.16 %); ours are mean ± std over seeds. Their nets trained "
            "on all 50k training images, as the paper preset's do (val_size = 0); a sweep that "
            "holds out a validation split trains on fewer, which is expected to cost a little "
            "test error.",
            "",
        ]
    if len(study.incomplete):
        parts += ["## Cells not finished", "", *incomplete_lines(study), ""]
    return "\n".join([*parts, *figure_lines(drawn, eval_metric)])


METHODS_NOTE = (
    "Each seed's runs are a block (the seed fixes the batch order and the shared initial "
    "weights): each seed gets its own depth penalty, the least-squares slope of its final "
    "training error on depth times the depth range, and the verdict reads the mean of those "
    "penalties with a 90 % t interval on seeds - 1 degrees of freedom, against the margin: "
    "degradation when the whole interval lies above it, a small penalty below the margin when "
    "it lies between 0 and the margin, no degradation when it covers 0 and stays below the "
    "margin, deeper is better when it lies below 0, inconclusive otherwise; one seed is untested. "
    "The plain-vs-residual contrast pairs the two archs' penalties seed by seed (two-sided 95 % "
    "interval and p), judged against the same margin. Supporting: a paired t-test deepest vs "
    "shallowest and Kendall's τ-b trend over every run. Assumptions: docs/ANALYSIS.md."
)


def stability_lines(study: Study) -> list[str]:
    """How many finished runs trained stably (their `stable` tag), naming those that did not."""
    done = study.finished
    if Tag.STABLE not in done or done[Tag.STABLE].isna().all():
        return []
    unstable = done[done[Tag.STABLE] == "false"]
    lines = [
        f"Training stability: {len(done) - len(unstable)} of {len(done)} finished runs never "
        "logged a training loss above their first logged one.",
        "",
    ]
    lines += [f"- `{cell.cell}` did: {cell.loss_rise}" for cell in unstable.itertuples()]
    return [*lines, ""] if len(unstable) else lines


def verdict_sentences(study: Study, found: list[Verdict]) -> list[tuple[str, str]]:
    """(arch, headline) for every arch of the study, those without a verdict included."""
    judged = {v.arch: v.headline for v in found}
    archs = arch_order(study.cells)
    none = "fewer than two of its depths have a finished seed: no verdict."
    return [(arch, judged.get(arch, none)) for arch in archs]


@dataclass
class Written:
    path: Path  # report.md
    verdicts: list[str]  # one sentence per arch


@dataclass(frozen=True)
class ReportOptions:
    eval_metric: str = Metric.TEST_ERROR  # the figures' solid curves
    log: bool = True  # log the report to the sweep run
    margin: float | None = None  # the verdict's margin, points; None: the sweep's own


def write_report(
    experiment: str,
    uri: str | None = None,
    sweep_run_id: str | None = None,
    out: str | Path = "reports",
    options: ReportOptions = ReportOptions(),
) -> Written:
    """Collect, draw, write reports/<experiment>/ and log it to the sweep run; the report path."""
    uri, eval_metric = resolve_uri(uri), options.eval_metric
    study = collect(experiment, uri, sweep_run_id)
    if options.margin is not None:
        study.margin = options.margin
    folder = Path(out) / folder_name(experiment)
    found = verdicts(study.cells, study.margin, study.earlier_looks)
    contrasted = contrast(study.cells, margin=study.margin)
    # Built aside and swapped in whole: no half-written report, no files left from an older one.
    remove_abandoned_drafts(make_folder(Path(out)))
    with tempfile.TemporaryDirectory(dir=Path(out), prefix=f"{DRAFT}{os.getpid()}-") as tmp:
        draft = Path(tmp) / "report"  # made with the usual permissions, unlike `tmp`
        draft.mkdir()
        drawn = draw(study, eval_metric, contrasted)
        save_figures(drawn, draft / "figures")
        result_table(study).to_csv(draft / "table.csv", index=False, encoding="utf-8")
        study.cells.to_csv(draft / "cells.csv", index=False, encoding="utf-8")
        if not study.trials.empty:
            study.trials.to_csv(draft / "trials.csv", index=False, encoding="utf-8")
        if not study.untuned.empty:
            study.untuned.to_csv(draft / "untuned-cells.csv", index=False, encoding="utf-8")
        reference = reference_line(study, uri)
        report = compose(study, found, eval_metric, drawn, uri, contrasted, reference)
        (draft / "report.md").write_text(report, encoding="utf-8")  # whatever the locale
        replace_folder(folder, draft)
    sentences = verdict_lines(study, found, contrasted)
    if options.log:
        client = open_client(uri)
        client.log_artifacts(study.sweep_run_id, str(folder), ARTIFACT_DIR)
        log_search_figure(client, study, folder / "figures" / "search.png")
        metrics = summary_metrics(study, found, contrasted)
        description = entities.RunTag(Tag.DESCRIPTION, describe(study, sentences))
        tags = [description, *verdict_tags(found)]
        client.log_batch(study.sweep_run_id, metrics=metrics, tags=tags)
    return Written(folder / "report.md", [*sentences, reference])


def reference_line(study: Study, uri: str) -> str:
    """Whether the run agrees with the project's committed runs of its design."""
    # Against the default store itself: MLflow sets MLFLOW_TRACKING_URI once a store is read.
    default = absolute_uri(uri) == absolute_uri(DEFAULT_TRACKING_URI)
    flag = "" if default else f"--tracking-uri {shlex.quote(masked(uri))}"
    mine = Mine(
        study.finished,
        study.params,
        f"{study.experiment}@{study.sweep_run_id}",
        flag,
        tuple(study.tuned_params),
    )
    return consistency_line(mine, read_references())


def verdict_lines(study: Study, found: list[Verdict], contrasted: Contrast | None) -> list[str]:
    """One short line per arch, then the plain-vs-residual contrast's and Figure 6's."""
    lines = [f"{arch}: {sentence}" for arch, sentence in verdict_sentences(study, found)]
    if contrasted is not None:
        lines.append(f"{contrasted.plain} vs {contrasted.residual}: {contrasted.sentence}")
    halves = figure6_halves(found)
    if halves is not None:
        lines.append(f"Figure 6: {halves}")
    failed = failed_line(effects_of(study))
    if failed is not None:
        lines.append(f"tuning: {failed}")
    return lines


def bold_label(line: str) -> str:
    """'- plain: degradation ...' -> '- **plain**: degradation ...'."""
    label, rest = line[2:].split(": ", 1)
    return f"- **{label}**: {rest}"


def describe(study: Study, sentences: list[str]) -> str:
    """The sweep run's description in the MLflow UI: the verdict and the final errors."""
    text = "\n".join(
        [
            f"**Verdict** ({len(study.finished)} of {len(study.cells)} nets finished):",
            "",
            *[f"- {sentence}" for sentence in sentences],
            "",
            markdown_table(result_table(study)),
            "",
            f"Figures and the full report: artifacts, `{ARTIFACT_DIR}/report.md`.",
        ]
    )
    return text[:MAX_TAG_LENGTH]


def resolve_uri(given: str | None) -> str:
    return tracking_address(given, DEFAULT_TRACKING_URI)


def report_after_sweep(experiment: str, uri: str, sweep_run_id: str) -> None:
    """The report of the sweep just run; a failure here loses no run, so it warns."""
    try:
        written = write_report(experiment, uri, sweep_run_id)
    except Exception as exc:
        print(
            f"warning: the report could not be written ({type(exc).__name__}: {exc}); "
            f"retry with: python -m analysis.report --experiment '{experiment}'",
            file=sys.stderr,
        )
        return
    print()
    print_written(written)


def print_written(written: Written) -> None:
    for sentence in written.verdicts:
        print(sentence)
    print(f"Report (figures, table, verdict): {written.path}")
