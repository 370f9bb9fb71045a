"""A tuned sweep's first phase: one Optuna study per net (`resnet.runner.tuning`), every
worker helping with every study, then each cell with its net's best values."""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass

from tqdm.auto import tqdm

from resnet.core.config import RunConfig
from resnet.core.tune_config import TuneConfig
from resnet.runner.tuning import StudyRunner
from resnet.tracking.schema import Tag
from resnet.tracking.store import SweepRun


@dataclass(frozen=True)
class Tuning:
    """How a sweep takes the values of its tuned fields from Optuna studies."""

    tune: TuneConfig
    run_trials: bool  # False: only read the studies' best values (--use-tuned)


def study_runners(sweep_run: SweepRun, cells, tuning: Tuning, storage, worker: str) -> dict:
    """{(arch, depth): its StudyRunner}, one per net of the cells."""
    runners = {}
    for cell in cells:
        if (cell.arch, cell.depth) not in runners:
            runners[cell.arch, cell.depth] = StudyRunner(
                sweep_run, cell, tuning.tune, storage, worker, tuning.run_trials
            )
    return runners


def tuned_values(
    runners: dict, tuning: Tuning, dataset, poll: float, progress: bool = True
) -> dict:
    """{(arch, depth): (best value of each field of the space, study name)}, after running the
    missing trials. Every worker of the sweep helps with every study, and waits until all of
    them are done, so all workers train the cells with the same values."""
    if tuning.run_trials:
        with trials_bar(runners, tuning.tune.trials, progress) as bar:
            run_every_trial(runners, tuning, dataset, poll, bar)
    values = {}
    for key, runner in runners.items():
        if runner.record_best():
            values[key] = (runner.best_params(), runner.name)
        else:
            print(
                f"warning: {runner.name} has no completed trial (every trial diverged or was "
                f"pruned); its cells keep the preset's {', '.join(tuning.tune.names)}",
                file=sys.stderr,
            )
    return values


def trials_bar(runners: dict, trials: int, progress: bool) -> tqdm:
    """A bar over every study's trials, counted in all workers (those already there too)."""
    done = sum(min(trials, runner.counted()) for runner in runners.values())
    total = trials * len(runners)
    return tqdm(total=total, initial=done, desc="tuning", unit="trial", disable=not progress)


def run_every_trial(runners: dict, tuning: Tuning, dataset, poll: float, bar: tqdm) -> None:
    """Run trials until every study has its total, waiting for other workers' trials."""

    def count() -> None:
        bar.n = sum(min(tuning.tune.trials, r.counted()) for r in runners.values())
        bar.refresh()

    while True:
        for runner in runners.values():
            runner.run(dataset, on_trial_done=count)
        if not any(runner.busy() for runner in runners.values()):
            if all(runner.counted() >= tuning.tune.trials for runner in runners.values()):
                return
        else:
            time.sleep(poll)  # other workers' trials are still running
            count()


def with_tuned(config: RunConfig, values: dict) -> tuple[RunConfig, dict | None]:
    """The cell with its net's tuned values, and the tag naming their study."""
    if (config.arch, config.depth) not in values:
        return config, None
    params, study = values[(config.arch, config.depth)]
    return dataclasses.replace(config, **params), {Tag.TUNED_FROM: study}
