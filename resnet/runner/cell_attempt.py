"""Which run a cell trains in: an earlier run of the same config that was killed, or left by a
dead process, resumed from its checkpoint; else a new one. A run that cannot be resumed is
closed FAILED with why."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

from resnet.core.checkpoint import checkpoint_path
from resnet.core.config import RunConfig
from resnet.runner.cell_record import drop_checkpoint
from resnet.tracking.cell_run import CellRun
from resnet.tracking.liveness import owner_alive
from resnet.tracking.schema import Tag
from resnet.tracking.store import Store, SweepRun


@dataclass
class Attempt:
    """What the sweep's queue tells a cell's training: the worker it found dead before this
    attempt (whose runs may be reopened at once), who hears the run's id first thing, whether
    this worker's claim on the cell was lost meanwhile, and the run's extra tags."""

    dead_owner: str | None = None
    on_run: Callable[[str], None] = lambda run_id: None
    claim_lost: Callable[[], bool] = lambda: False
    earlier: str | None = None  # a retry's: the run of the attempt that died
    tags: dict[str, str] | None = None  # extra tags of the cell's run (tuned_from)


def abandon(store: Store, run_id: str, problem: str, name: str | None = None) -> None:
    """Close a run that cannot be resumed (saying so when `name` is given)."""
    if name is not None:
        print(f"{name}: {problem}; starting it again", file=sys.stderr)
    store.set_tags(run_id, {Tag.FAILURE_REASON: f"abandoned: {problem}"})
    store.end(run_id, "FAILED")
    drop_checkpoint(store, run_id)


def checkpoint_problem(store, run_id: str) -> str | None:
    """Why the run cannot be resumed, or None. (A checkpoint that is there but unreadable, or
    does not fit, is found when training loads it: `SweepWorker.train` then starts the cell
    again.)"""
    if not checkpoint_path(store.checkpoint_folder, run_id).exists():
        return "no checkpoint (stopped before its first one)"
    return None


def open_cell_run(
    sweep_run: SweepRun, config: RunConfig, attempt: Attempt
) -> tuple[CellRun | None, str | None]:
    """(the run to train the cell in, None), or (None, run id) when a live process runs it.

    Earlier runs of the same config that were killed, or left RUNNING by a dead process, are
    resumed from their checkpoint; one without a usable checkpoint is closed FAILED with the
    reason (one line on stderr) and the cell starts again in a new run."""
    store = sweep_run.store
    unfinished = store.unfinished_runs(sweep_run.experiment_id, config)
    for run in unfinished:  # first: is any of them still being run by a live process?
        if run.info.status == "RUNNING" and owner_alive(run, attempt.dead_owner):
            return None, run.info.run_id
    resumed = None
    for run in unfinished:  # newest first
        run_id = run.info.run_id
        problem = "superseded by a newer attempt" if resumed else checkpoint_problem(store, run_id)
        if problem is None:
            resumed = CellRun.reopen(store, run)
            print(f"{config.name}: resuming run {run_id} from its checkpoint", file=sys.stderr)
            if run.data.tags.get(Tag.PARENT_RUN_ID) != sweep_run.run_id:
                sweep_run.note_reused(config.name, run_id)  # another sweep's child
        else:  # the cell starts again (said once), or a newer attempt was resumed (quietly)
            abandon(store, run_id, problem, config.name if resumed is None else None)
    if resumed is not None:
        return resumed, None
    return new_cell_run(sweep_run, config, attempt), None


def new_cell_run(sweep_run: SweepRun, config: RunConfig, attempt: Attempt) -> CellRun:
    return CellRun.create(sweep_run, config, extra_tags=attempt.tags)
