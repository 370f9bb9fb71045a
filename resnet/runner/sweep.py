"""The depth sweep: every (arch, depth, seed) cell trained once and tracked in MLflow.

The cells are trials of an Optuna study (`resnet.runner.cell_queue`), so any number of workers, on
this machine or others, can pull them from one shared sweep. Cells that already have a FINISHED
run with the same config are not trained again (`force` reruns them). A diverged or crashed cell
ends FAILED with its reason, and the sweep goes on. A cell whose earlier run was killed, or
abandoned by a dead worker, resumes from its checkpoint in that run.

A store that refuses a trained cell's artifacts (a read-only folder, a full disk) stops the
sweep instead: every further cell would train only to meet the same refusal. The cell's run is
left KILLED with its checkpoint, which holds the trained net, and the sweep's run ends FAILED
with the reason; the rerun resumes the cell at its last iteration and logs what is missing.
"""

from __future__ import annotations

import contextlib
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any

from tqdm.auto import tqdm

from resnet.core import checkpoint as checkpoint_lib
from resnet.core.checkpoint import checkpoint_path
from resnet.core.config import RunConfig, SweepConfig
from resnet.core.data import Dataset
from resnet.core.device import resolve_device
from resnet.core.train import ClaimLost, Supervision, TrainResult, load_data, train
from resnet.runner.cell_attempt import Attempt, abandon, new_cell_run, open_cell_run
from resnet.runner.cell_queue import BATCH_ATTR, CELL_ATTR, CellQueue, queue_name
from resnet.runner.cell_record import drop_checkpoint, record, row
from resnet.runner.interrupt import StopRequest
from resnet.runner.storage import (
    POLL_SECONDS,
    PREVIOUS_OWNER_ATTR,
    READY_TIMEOUT,
    RUN_ATTR,
    Claim,
    open_storage,
    requeue_dead_owners,
)
from resnet.runner.sweep_tuning import Tuning, study_runners, tuned_values, with_tuned
from resnet.tracking.cell_run import CellRun
from resnet.tracking.client import answering_quickly
from resnet.tracking.failures import store_failure
from resnet.tracking.store import (
    ArtifactWriteError,
    Store,
    SweepRun,
    sweep_identity,
)

RESULTS = ("finished", "skipped", "diverged", "duplicate")  # rows that are a cell's result
NOT_LOGGED = "artifacts not logged"  # the row status of a cell whose artifacts were refused


class SweepHalted(Exception):
    """The store refused a trained cell's artifacts, or failed underneath it (a server that
    stopped answering, a full disk): the sweep stops (said on stderr already), with the cell's
    summary row. `store_down`: the store itself may not take the sweep run's closing."""

    def __init__(self, reason: str, cell_row: dict, store_down: bool = False):
        super().__init__(reason)
        self.reason, self.row, self.store_down = reason, cell_row, store_down


@dataclass
class SweepResult:
    experiment_id: str
    parent_run_id: str
    rows: list[dict[str, Any]]
    halted: str | None = None  # why the sweep stopped before its cells were done

    @property
    def crashed(self) -> list[dict[str, Any]]:
        """Cells that broke (not those that diverged: divergence is a result)."""
        return crashed(self.rows)


def crashed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cells without a result: failed, not run, interrupted, or left to a live process."""
    return [r for r in rows if r["status"] not in RESULTS]


@dataclass(frozen=True)
class SweepOptions:
    """How one process works on a sweep, beside what the sweep trains."""

    force: bool = False  # rerun cells that already finished
    progress: bool = True  # progress bars
    tuning: Tuning | None = None  # take the tuned fields' values from Optuna studies
    join: bool = False  # one of several workers of a launch, which owns the sweep's run
    worker: str = ""  # sets this worker's tuning samples apart from the others'
    poll: float = POLL_SECONDS  # how often an idle worker looks for cells again
    system_metrics: bool = True  # CPU, memory (and GPU) use logged to each net's run


def open_sweep(
    store: Store, sweep: SweepConfig, queue: CellQueue, options: SweepOptions
) -> SweepRun:
    """The sweep's MLflow run, with its cells enqueued. The process that created the queue
    enqueues every cell; the others wait for it, then enqueue the cells that an earlier attempt
    left failed (a launch's workers, `options.join`, only wait)."""
    tuned = options.tuning is not None
    experiment_id = store.experiment_id(sweep.experiment_name)
    run_id = None if queue.created else queue.wait_ready(READY_TIMEOUT)
    sweep_run = SweepRun(store, experiment_id, sweep, tuned=tuned, run_id=run_id)
    if run_id is None or not options.join:
        queue.enqueue(sweep.cells(), options.force, again=tuned)  # tuned values may have changed
    if run_id is None:
        queue.mark_ready(sweep_run.run_id)
    return sweep_run


def depth_choices(grid: SweepConfig) -> list[int]:
    """The sweep's depths, then those of its fixed-depth nets (resnet18 is 18 whatever
    `depths` says)."""
    fixed = sorted({c.depth for c in grid.cells()} - set(grid.depths))
    return [*grid.depths, *fixed]


def prepare_sweep(
    sweep: SweepConfig, store: Store, storage: str, options: SweepOptions
) -> tuple[CellQueue, SweepRun]:
    """The sweep's queue of cells in the Optuna storage, and its MLflow run."""
    name = queue_name(sweep.experiment_name, sweep_identity(sweep, options.tuning is not None))
    queue = CellQueue(open_storage(storage), name)
    return queue, open_sweep(store, sweep, queue, options)


class SweepWorker:
    """One process's share of a sweep: pulls cells from the queue and trains them in the
    sweep's run, with the data set, tuned values, progress bars and stop flag they all need."""

    def __init__(self, queue: CellQueue, sweep_run: SweepRun, dataset: Dataset, options, stop):
        self.queue, self.sweep_run, self.dataset = queue, sweep_run, dataset
        self.options: SweepOptions = options
        self.stop: StopRequest | None = stop
        self.cells = {cell.name: cell for cell in sweep_run.sweep.cells()}
        self.tuned: dict = {}

    @property
    def store(self) -> Store:
        return self.sweep_run.store

    def tune(self) -> None:
        """Every (arch, depth)'s best values, after the missing trials (all workers help)."""
        o = self.options
        cells = list(self.cells.values())
        runners = study_runners(self.sweep_run, cells, o.tuning, self.queue.storage, o.worker)
        self.tuned = tuned_values(runners, o.tuning, self.dataset, o.poll, o.progress)

    def work(self) -> None:
        """Pull cells and train them until none waits or runs anywhere: a worker that died is
        found by its heartbeat, and its cell is retried here."""
        queue, done = self.queue, self.queue.done_count()
        total, hidden = len(self.cells), not self.options.progress
        with tqdm(total=total, initial=done, desc="sweep", unit="run", disable=hidden) as bar:
            while True:
                if self.stop is not None and self.stop.requested:
                    raise KeyboardInterrupt
                requeue_dead_owners(queue.study)
                trial = queue.pop()
                if trial is None:
                    if not queue.busy():
                        return
                    time.sleep(self.options.poll)
                    continue
                with Claim(queue.storage, trial._trial_id, trial.user_attrs[CELL_ATTR]) as held:
                    self.take(trial, held)
                bar.n = queue.done_count()
                bar.refresh()

    def take(self, trial, held: Claim) -> None:
        """One cell of the queue, told back to it with its summary row."""
        config, tags = with_tuned(self.cells[trial.user_attrs[CELL_ATTR]], self.tuned)
        record_grid_params(trial, self.sweep_run.sweep)
        attempt = Attempt(
            dead_owner=trial.user_attrs.get(PREVIOUS_OWNER_ATTR),
            on_run=lambda run_id: trial.set_user_attr(RUN_ATTR, run_id),
            claim_lost=held.lost,
            earlier=trial.user_attrs.get(RUN_ATTR),  # only a retry's: the attempt that died
            tags=tags,
        )
        try:
            outcome = self.outcome(trial, config, attempt)
        except KeyboardInterrupt:  # another worker, or the rerun, resumes it
            run_id = trial.user_attrs.get(RUN_ATTR) or ""
            self.queue.tell(trial, row(config, "interrupted", run_id, {}), again=True)
            raise
        except ClaimLost as lost:
            print(
                f"{config.name}: {lost} (this worker stalled past the heartbeat's grace period)",
                file=sys.stderr,
            )
            return
        except SweepHalted as halted:  # enqueued again: the rerun resumes the cell
            self.queue.tell(trial, halted.row, again=True)
            raise
        self.queue.tell(trial, outcome)

    def outcome(self, trial, config: RunConfig, attempt: Attempt) -> dict:
        """The cell's summary row: trained now, or found done already."""
        duplicate = self.queue.duplicate_of(trial)
        if duplicate is not None:
            return row(config, "duplicate", "", {}, note=f"trial {duplicate} has this cell")
        done = self.finished_earlier(config, bool(trial.user_attrs.get(BATCH_ATTR)), attempt)
        if done is not None:
            self.sweep_run.note_reused(config.name, done.info.run_id)
            metrics = done.data.metrics
            return row(config, "skipped", done.info.run_id, metrics, note="FINISHED earlier")
        return self.train(config, attempt)

    def finished_earlier(self, config: RunConfig, forced: bool, attempt: Attempt):
        """The cell's FINISHED run, if one can stand for it: not for a forced rerun, unless
        that rerun's own earlier attempt finished just before its worker died."""
        if not forced:
            return self.store.finished_run(self.sweep_run.experiment_id, config)
        if attempt.earlier is None:
            return None
        run = self.store.client.get_run(attempt.earlier)
        return run if run.info.status == "FINISHED" else None

    def train(self, config: RunConfig, attempt: Attempt) -> dict:
        """Train one cell: resume its earlier unfinished run from its checkpoint, else start a
        new child run. Never raises but for an interrupt (the run is then KILLED, and
        resumable), a lost claim (the run is left to the worker that has it now) and
        `SweepHalted` (the store refused the trained cell's artifacts: its run is KILLED,
        resumable without training)."""
        cell, busy = open_cell_run(self.sweep_run, config, attempt)
        if cell is None:
            return row(config, "running elsewhere", busy, {}, note="its owner process is alive")
        attempt.on_run(cell.run_id)
        try:
            with self.stop.deferred() if self.stop else contextlib.nullcontext():
                try:
                    result = self.fit(cell, config, attempt)
                except checkpoint_lib.CheckpointError as exc:  # unreadable, foreign, misfit
                    abandon(self.store, cell.run_id, str(exc), config.name)
                    cell = new_cell_run(self.sweep_run, config, attempt)
                    attempt.on_run(cell.run_id)
                    result = self.fit(cell, config, attempt)
                return record(cell, config, self.dataset, result)
        except KeyboardInterrupt:
            if not cell.closed:  # a run that already finished stays FINISHED
                cell.fail("interrupted; rerun the sweep to resume from its checkpoint", "KILLED")
            raise
        except ClaimLost:
            raise  # the run is another worker's now: leave it as it is
        except ArtifactWriteError as exc:  # the store's fault, which every cell would meet
            print(
                f"{config.name}: {exc}; its trained state is kept in its checkpoint; the sweep "
                "stops here: rerun the same command once the folder is writable",
                file=sys.stderr,
            )
            kept = row(config, NOT_LOGGED, cell.run_id, {}, note=f"{exc}; kept in its checkpoint")
            raise SweepHalted(str(exc), kept) from exc
        except Exception as exc:  # a crash in one cell must not end the sweep
            failure = store_failure(exc)
            if failure is not None:  # not the cell's: every cell would meet it
                raise halted_by(failure, cell, config) from exc
            traceback.print_exc(file=sys.stderr)
            reason = f"{type(exc).__name__}: {exc}"
            cell.fail(reason)
            drop_checkpoint(self.store, cell.run_id)  # a FAILED run is never resumed
            return row(config, "failed", cell.run_id, {}, note=reason)

    def fit(self, cell: CellRun, config: RunConfig, attempt: Attempt) -> TrainResult:
        watch = Supervision(
            path=checkpoint_path(self.store.checkpoint_folder, cell.run_id),
            every=config.checkpoint_every,
            run_id=cell.run_id,
            should_stop=self.stop or (lambda: False),
            claim_lost=attempt.claim_lost,
        )
        cell.log_datasets(self.dataset)
        with cell.system_metrics(self.options.system_metrics):
            return train(config, self.dataset, cell, self.options.progress, supervision=watch)


def halted_by(failure: str, cell: CellRun, config: RunConfig) -> SweepHalted:
    """The sweep's stop when what keeps the runs failed under a cell: one line, and the run
    KILLED where the store still takes it (else a rerun finds it RUNNING with its owner gone);
    either way the rerun resumes it from its last checkpoint."""
    print(
        f"{config.name}: {failure}; the sweep stops here: rerun the same command once that is "
        "fixed, and this cell resumes from its last checkpoint",
        file=sys.stderr,
    )
    with contextlib.suppress(Exception), answering_quickly():  # the store may be what failed
        cell.fail(f"stopped: {failure}", "KILLED")
    stopped = row(config, "stopped", cell.run_id, {}, note=failure)
    return SweepHalted(failure, stopped, store_down=True)


def record_grid_params(trial, grid: SweepConfig) -> None:
    """The trial's arch, depth and seed as Optuna params, with the same choices in every trial
    (as Optuna requires)."""
    for name, choices in (
        ("arch", grid.archs),
        ("depth", depth_choices(grid)),
        ("seed", grid.seeds),
    ):
        trial.suggest_categorical(name, list(choices))  # the enqueued value, now a param


def stopped(halted: SweepHalted, sweep_run: SweepRun, rows: list[dict], join: bool):
    """The result of a sweep that stopped early, its run FAILED with why where the store
    still takes it (a store that is down leaves it to the rerun, which takes the sweep over)."""
    if not join:
        with (
            contextlib.suppress(Exception) if halted.store_down else contextlib.nullcontext(),
            answering_quickly() if halted.store_down else contextlib.nullcontext(),
        ):
            sweep_run.finish(rows, status="FAILED", reason=f"stopped: {halted.reason}")
    return SweepResult(sweep_run.experiment_id, sweep_run.run_id, rows, halted.reason)


def run_sweep(
    sweep: SweepConfig,
    store: Store,
    storage: str,
    dataset: Dataset | None = None,
    options: SweepOptions = SweepOptions(),
    stop: StopRequest | None = None,
) -> SweepResult:
    """Work on the sweep until every cell is done: those with no FINISHED run yet (all of them
    with `force`); with tuning, first tune each (arch, depth) and train the cells with the best
    values."""
    started, cells, o = time.time(), sweep.cells(), options
    dataset = (dataset or load_data(cells[0])).to(resolve_device(cells[0].device))  # once
    queue, sweep_run = prepare_sweep(sweep, store, storage, o)
    worker = SweepWorker(queue, sweep_run, dataset, options, stop)
    try:
        if o.tuning is not None:
            worker.tune()
        worker.work()
    except SweepHalted as halted:  # said on stderr; the cells not done are the rerun's
        return stopped(halted, sweep_run, queue.rows(cells, started), o.join)
    except Exception as exc:
        failure = store_failure(exc)  # met outside a cell's training: between cells, say
        if failure is None:
            if not o.join:
                sweep_run.finish(queue.rows(cells, started), status="FAILED")
            raise
        print(
            f"{failure}; the sweep stops here: rerun the same command once that is fixed",
            file=sys.stderr,
        )
        halted = SweepHalted(failure, {}, store_down=True)
        return stopped(halted, sweep_run, queue.rows(cells, started), o.join)
    except BaseException as exc:
        if not o.join:
            status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
            sweep_run.finish(queue.rows(cells, started), status=status)
        raise
    rows = queue.rows(cells, started)
    if not o.join:
        sweep_run.finish(rows)
    return SweepResult(sweep_run.experiment_id, sweep_run.run_id, rows)
