"""The depth sweep: every (arch, depth, seed) cell trained once and tracked in MLflow.

Cells that already have a FINISHED run with the same config are skipped (`force` reruns them).
A diverged or crashed cell ends FAILED with its reason, and the sweep goes on. A cell whose
earlier run was killed, or abandoned by a dead process, resumes from its checkpoint in that run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import sys
import traceback
from dataclasses import dataclass
from typing import Any

from tqdm.auto import tqdm

from resnet import checkpoint as checkpoint_lib
from resnet.checkpoint import checkpoint_path
from resnet.config import RunConfig, SweepConfig
from resnet.data import Dataset
from resnet.interrupt import StopRequest
from resnet.responses import RESPONSES_FILE, layer_response_stds
from resnet.tracking import CellRun, Store, SweepRun, owner_alive
from resnet.train import Checkpointing, TrainResult, load_data, resolve_device, train
from resnet.tuning import StudyRunner, TuneConfig, open_storage

SUMMARY_METRICS = ("train_error", "val_error", "test_error", "train_loss")


@dataclass
class SweepResult:
    experiment_id: str
    parent_run_id: str
    rows: list[dict[str, Any]]

    @property
    def crashed(self) -> list[dict[str, Any]]:
        """Cells that broke (not those that diverged: divergence is a result)."""
        return [r for r in self.rows if r["status"] == "failed"]


def row(config: RunConfig, status: str, run_id: str, metrics: dict[str, float], **extra) -> dict:
    values = {k: metrics.get(k) for k in SUMMARY_METRICS}
    return {
        "run": config.name, "arch": config.arch, "depth": config.depth, "seed": config.seed,
        "status": status, **values, **extra, "run_id": run_id,
    }  # fmt: skip


def run_cell(
    sweep_run: SweepRun,
    config: RunConfig,
    dataset: Dataset,
    progress: bool,
    tags=None,
    stop: StopRequest | None = None,
) -> dict:
    """Train one cell: resume its earlier unfinished run from its checkpoint, else start a new
    child run. Never raises but for an interrupt (the run is then KILLED, and resumable)."""
    cell, busy = claim(sweep_run, config, tags)
    if cell is None:
        return row(config, "running elsewhere", busy, {}, note="its owner process is alive")
    try:
        with stop.deferred() if stop else contextlib.nullcontext():
            try:
                result = train_cell(cell, config, dataset, progress, stop)
            except checkpoint_lib.CheckpointError as exc:  # unreadable, or does not fit the run
                abandon(sweep_run.store, cell.run_id, str(exc), config.name)
                cell = CellRun(sweep_run, config, resolve_device(config.device), extra_tags=tags)
                result = train_cell(cell, config, dataset, progress, stop)
            return record(cell, config, dataset, result)
    except KeyboardInterrupt:
        if not cell.closed:  # a run that already finished stays FINISHED
            cell.fail("interrupted; rerun the sweep to resume from its checkpoint", "KILLED")
        raise
    except Exception as exc:  # a crash in one cell must not end the sweep
        traceback.print_exc(file=sys.stderr)
        reason = f"{type(exc).__name__}: {exc}"
        cell.fail(reason)
        return row(config, "failed", cell.run_id, {}, note=reason)


def train_cell(cell: CellRun, config: RunConfig, dataset: Dataset, progress: bool, stop):
    path = checkpoint_path(cell.store.checkpoint_folder, cell.run_id)
    checkpointing = Checkpointing(path, config.checkpoint_every, stop or (lambda: False))
    return train(config, dataset, cell, progress, checkpointing=checkpointing)


def abandon(store: Store, run_id: str, problem: str, name: str | None = None) -> None:
    """Close a run that cannot be resumed (saying so when `name` is given)."""
    if name is not None:
        print(f"{name}: {problem}; starting it again", file=sys.stderr)
    store.set_tags(run_id, {"failure_reason": f"abandoned: {problem}"})
    store.end(run_id, "FAILED")
    shutil.rmtree(checkpoint_path(store.checkpoint_folder, run_id).parent, True)


def claim(sweep_run: SweepRun, config: RunConfig, tags) -> tuple[CellRun | None, str | None]:
    """(the run to train the cell in, None), or (None, run id) when a live process runs it.

    Earlier runs of the same config that were killed, or left RUNNING by a dead process, are
    resumed from their checkpoint; one without a usable checkpoint is closed FAILED with the
    reason (one line on stderr) and the cell starts again in a new run."""
    store = sweep_run.store
    unfinished = store.unfinished_runs(sweep_run.experiment_id, config)
    for run in unfinished:  # first: is any of them still being run by a live process?
        if run.info.status == "RUNNING" and owner_alive(run):
            return None, run.info.run_id
    resumed = None
    for run in unfinished:  # newest first
        run_id = run.info.run_id
        problem = "superseded by a newer attempt" if resumed else checkpoint_problem(store, run_id)
        if problem is None:
            resumed = CellRun.reopen(store, run)
            print(f"{config.name}: resuming run {run_id} from its checkpoint", file=sys.stderr)
            if run.data.tags.get("mlflow.parentRunId") != sweep_run.run_id:
                sweep_run.note_reused(config.name, run_id)  # another sweep's child
        else:  # the cell starts again (said once), or a newer attempt was resumed (quietly)
            abandon(store, run_id, problem, config.name if resumed is None else None)
    if resumed is not None:
        return resumed, None
    return CellRun(sweep_run, config, resolve_device(config.device), extra_tags=tags), None


def checkpoint_problem(store, run_id: str) -> str | None:
    """Why the run cannot be resumed, or None. (A checkpoint that is there but unreadable, or
    does not fit, is found when training loads it: `run_cell` then starts the cell again.)"""
    if not checkpoint_path(store.checkpoint_folder, run_id).exists():
        return "no checkpoint (stopped before its first one)"
    return None


def record(cell: CellRun, config: RunConfig, dataset: Dataset, result: TrainResult) -> dict:
    """Close the cell's run with what training gave; its checkpoint is no longer needed."""
    cell.log_num_params(result.num_params)
    if not result.finished:
        cell.fail(result.failure or result.status)
        outcome = row(config, result.status, cell.run_id, result.metrics, note=result.failure)
    else:
        cell.log_weights(result.model)
        log_responses(cell, result, dataset, config)
        cell.finish()
        outcome = row(config, "finished", cell.run_id, result.metrics, minutes=result.seconds / 60)
    shutil.rmtree(checkpoint_path(cell.store.checkpoint_folder, cell.run_id).parent, True)
    return outcome


def log_responses(cell: CellRun, result: TrainResult, dataset: Dataset, config: RunConfig) -> None:
    """Figure 7's layer responses; a failure here must not fail the trained cell."""
    try:
        rows = layer_response_stds(result.model, dataset, config)
    except Exception as exc:
        print(f"warning: {config.name}: layer responses not logged ({type(exc).__name__}: {exc})",
              file=sys.stderr)  # fmt: skip
        return
    cell.log_table(RESPONSES_FILE, rows)


@dataclass(frozen=True)
class Tuning:
    """How a sweep takes its lr and weight decay from Optuna studies."""

    tune: TuneConfig
    storage: str
    run_trials: bool  # False: only read the studies' best values (--use-tuned)


def tuned_values(sweep_run: SweepRun, cells: list[RunConfig], tuning: Tuning, dataset) -> dict:
    """{(arch, depth): (best params, study name)}, after running the missing trials."""
    storage = open_storage(tuning.storage)
    values = {}
    for cell in cells:
        key = (cell.arch, cell.depth)
        if key in values:
            continue
        runner = StudyRunner(sweep_run, cell, tuning.tune, storage)
        if tuning.run_trials:
            print(f"tuning {runner.name}: {tuning.tune.trials} trials", file=sys.stderr)
            runner.run(dataset)
        if runner.record_best():
            values[key] = (runner.best().params, runner.name)
        else:
            print(
                f"warning: {runner.name} has no completed trial (every trial diverged or was "
                "pruned); its cells keep the preset's lr and weight decay",
                file=sys.stderr,
            )
    return values


def with_tuned(config: RunConfig, values: dict) -> tuple[RunConfig, dict | None]:
    if (config.arch, config.depth) not in values:
        return config, None
    params, study = values[(config.arch, config.depth)]
    tuned = dataclasses.replace(config, lr=params["lr"], weight_decay=params["weight_decay"])
    return tuned, {"tuned_from": study}


def run_sweep(
    sweep: SweepConfig,
    store: Store,
    dataset: Dataset | None = None,
    force: bool = False,
    progress: bool = True,
    tuning: Tuning | None = None,
    stop: StopRequest | None = None,
) -> SweepResult:
    """Run every cell of the sweep that has no FINISHED run yet (all of them with `force`);
    with `tuning`, first tune each (arch, depth) and train the cells with the best values."""
    cells = sweep.cells()
    dataset = dataset or load_data(cells[0])
    dataset = dataset.to(resolve_device(cells[0].device))  # once for all cells
    experiment_id = store.experiment_id(sweep.experiment_name)
    sweep_run = SweepRun(store, experiment_id, sweep, tuned=tuning is not None)
    rows = []
    try:
        values = tuned_values(sweep_run, cells, tuning, dataset) if tuning else {}
        for plain_config in tqdm(cells, desc="sweep", unit="run", disable=not progress):
            config, tags = with_tuned(plain_config, values)
            done = None if force else store.finished_run(experiment_id, config)
            if done is not None:
                sweep_run.note_reused(config.name, done.info.run_id)
                rows.append(row(config, "skipped", done.info.run_id, done.data.metrics,
                                note="FINISHED earlier"))  # fmt: skip
                continue
            if stop is not None and stop.requested:
                raise KeyboardInterrupt
            rows.append(run_cell(sweep_run, config, dataset, progress, tags, stop))
    except BaseException as exc:
        sweep_run.finish(rows, status="KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
        raise
    sweep_run.finish(rows)
    return SweepResult(experiment_id, sweep_run.run_id, rows)
