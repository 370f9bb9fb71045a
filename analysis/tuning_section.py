"""The report's words on a tuned sweep: how far each search reached, and each net tuned
against untuned (analysis/tuning_effect.py), with the nets where tuning failed named."""

from __future__ import annotations

from analysis.collect import Study
from analysis.markdown import markdown_table
from analysis.tuning_effect import (
    TuningEffect,
    TuningOutcome,
    effect_table,
    failed_nets,
    tuning_effects,
)


def effects_of(study: Study) -> list[TuningEffect]:
    """Each net tuned against untuned; none for an untuned sweep or one without a twin."""
    if study.tuning.empty or study.untuned.empty:
        return []
    return tuning_effects(study.finished, study.untuned)


def failed_line(effects: list[TuningEffect]) -> str | None:
    """The verdict's line when tuning left a net worse, else None."""
    failed = failed_nets(effects)
    if not failed:
        return None
    return (
        f"failed for {', '.join(failed)}: tuned trains worse than untuned beyond the seed noise, "
        "so the verdict does not say how those nets fare when tuned"
    )


def reach_lines(study: Study) -> list[str]:
    """Per tuned field, the lowest and highest value its trials tried, against the space."""
    if study.trials.empty:
        return ["No trial of these studies has a run yet."]
    counts = study.trials.groupby("study").size()
    completed = int((study.trials["state"] == "COMPLETE").sum())
    low, high = int(counts.min()), int(counts.max())
    each = f"{low} trials" if low == high else f"{low} to {high} trials"
    studies = f"{len(counts)} {'study' if len(counts) == 1 else 'studies'}"
    lines = [f"{studies}, {each} each ({completed} completed in all); {untuned_guarantee(study)}"]
    searched = study.trials[~study.trials["untuned"].astype(bool)]
    for name in study.tuned_params:
        if name not in searched:
            continue
        tried = searched[name].dropna()
        if tried.empty:
            continue
        reach = f"{name.replace('_', ' ')} tried from {tried.min():.3g} to {tried.max():.3g}"
        if name in study.space:
            low, high = study.space[name]
            reach += f" of the space's {low:g} to {high:g}"
        lines.append(reach + ".")
    return lines


def untuned_guarantee(study: Study) -> str:
    """Whether every study completed a trial of the preset's own values, which makes its
    choice no worse than untuned on the trial seed."""
    complete = study.trials[study.trials["untuned"].astype(bool)]
    complete = complete[complete["state"] == "COMPLETE"]
    if set(complete["study"]) >= set(study.trials["study"]):
        return (
            "every study completed a trial of the preset's own values, so the chosen values "
            "are never worse than untuned on the trial seed."
        )
    return (
        "not every study completed a trial of the preset's own values (a study from before "
        "that rule, or its untuned trial pruned or failed), so a chosen value may be worse "
        "than untuned even on the trial seed."
    )


def untuned_missing_line(study: Study) -> str:
    return (
        f"No untuned sweep of this grid in experiment `{study.experiment}`: the same command "
        "without `--tune` trains it (cells it already has are reused), and the report then puts "
        "each net's tuned and untuned runs side by side."
    )


def tuning_section(study: Study) -> list[str]:
    """The report's section on a tuned sweep; nothing for an untuned one."""
    if study.tuning.empty:
        return []
    lines = ["## Tuned against untuned", "", " ".join(reach_lines(study)), ""]
    effects = effects_of(study)
    if study.untuned.empty:
        return [*lines, untuned_missing_line(study), ""]
    if not effects:
        return [*lines, "The untuned sweep has no finished net on this sweep's seeds.", ""]
    return [*lines, *comparison_lines(study, effects)]


def comparison_lines(study: Study, effects: list[TuningEffect]) -> list[str]:
    failed = failed_nets(effects)
    if failed:
        verdict = (
            f"**Tuning failed for {', '.join(failed)}**: tuned, it trains worse than untuned by "
            "more than the seed-to-seed noise; its tuned error is not a result about depth."
        )
    elif all(e.outcome == TuningOutcome.UNTESTED for e in effects):
        verdict = "One seed tests no net's change; more seeds (`--seeds`) would."
    else:
        verdict = "No net trains worse tuned than untuned beyond the seed-to-seed noise."
    return [
        f"Final training error with each net's tuned values and with the preset's own (untuned "
        f"sweep `{study.untuned_run_id}`), paired seed by seed (tuned - untuned, with its 90 % "
        "interval, each end a one-sided 5 % test):",
        "",
        markdown_table(effect_table(effects)),
        "",
        verdict,
        "",
    ]
