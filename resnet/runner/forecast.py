"""What a job has left to run, and how long it will take here (`resnet.runner.estimate` times
the nets), with what would shorten it when that is long."""

from __future__ import annotations

from pathlib import Path

import optuna
import torch

from resnet.core.config import RunConfig, SweepConfig
from resnet.core.device import device_name
from resnet.core.tune_config import trial_budget
from resnet.runner.estimate import Projection, human_duration, plural
from resnet.runner.launch import Ready
from resnet.runner.storage import is_database, open_storage
from resnet.runner.sweep import Tuning
from resnet.runner.tuning import study_name
from resnet.tracking.store import Store

LONG_SWEEP_SECONDS = 3600  # a projection above this says what would shorten it


def cells_to_run(sweep: SweepConfig, store: Store, force: bool) -> list[RunConfig]:
    """The cells without a FINISHED run (all with `force`); read only, nothing is created."""
    cells = sweep.cells()
    experiment = store.client.get_experiment_by_name(sweep.experiment_name)
    if force or experiment is None:
        return cells
    return [c for c in cells if store.finished_run(experiment.experiment_id, c) is None]


def trials_to_run(sweep: SweepConfig, tuning: Tuning | None, storage: str) -> list[RunConfig]:
    """One config (with the trial budget) per tuning trial still wanted."""
    if tuning is None or not tuning.run_trials:
        return []
    done = {}
    if is_database(storage) or Path(storage).is_file():
        summaries = optuna.get_all_study_summaries(open_storage(storage))
        done = {s.study_name: s.n_trials for s in summaries}
    trials, seen = [], set()
    for cell in sweep.cells():
        if (cell.arch, cell.depth) in seen:
            continue
        seen.add((cell.arch, cell.depth))
        name = study_name(sweep.experiment_name, cell.arch, cell.depth)
        wanted = max(0, tuning.tune.trials - done.get(name, 0))
        trials += [trial_budget(cell, tuning.tune)] * wanted
    return trials


def remaining(ready: Ready) -> tuple[list[RunConfig], list[RunConfig]]:
    """The job's runs and tuning trials still to train (each trial in its budget)."""
    job = ready.job
    trials = trials_to_run(job.sweep, job.options.tuning, job.stores.storage)
    if trials:  # the cells' tuned values are not known yet: no finished run can be theirs
        return job.sweep.cells(), trials
    return cells_to_run(job.sweep, ready.store, job.options.force), trials


def forecast_lines(ready: Ready, projection: Projection) -> list[str]:
    """The projection as the user reads it: the time in one process, shared by the workers,
    and what would shorten it where it is long."""
    device, workers = ready.job.device, len(ready.placements or [1])
    runs = f"{human_duration(projection.training)} for {plural(projection.runs, 'run')}"
    if projection.trials:
        tuning = (
            f"up to {human_duration(projection.tuning)} for {plural(projection.trials, 'trial')}"
        )
        runs = f"{human_duration(projection.seconds)}: {tuning} of tuning + {runs}"
    shared = ""
    if workers > 1:
        at_best = human_duration(projection.seconds / workers)
        shared = f"; {workers} workers share it: at best {at_best}"
    lines = [
        f"Projected on {device_name(device)}: {runs} in one process (from a few timed steps "
        f"per net){shared}"
    ]
    shorter = advice(ready.job.sweep, device, projection.seconds / workers, workers)
    return lines + ([shorter] if shorter else [])


def advice(sweep: SweepConfig, device: torch.device, seconds: float, workers: int) -> str | None:
    """What would shorten a long sweep, from what it does not use yet: never the preset that
    is running, nor a flag it already has."""
    if seconds <= LONG_SWEEP_SECONDS:
        return None
    ideas = []
    if device.type == "cpu":
        ideas.append("a GPU (--device cuda)")
    elif workers == 1:
        ideas.append("several workers on the GPU (--jobs-per-gpu 4)")
    if len(sweep.seeds) > 1:
        ideas.append("fewer seeds (--seeds)")
    if len(sweep.depths) > 2:
        shallow, deep = min(sweep.depths), max(sweep.depths)
        ideas.append(f"fewer depths (--depths {shallow},{deep})")
    if sweep.preset != "quick":
        ideas.append("the short study (--preset quick)")
    if not ideas:
        return None
    return f"That is long for {device_name(device)}. What would shorten it: {'; '.join(ideas)}."
