"""The cells of a sweep as the trials of one Optuna study, enqueued once and pulled by workers.

Each cell is enqueued with its arch, depth and seed as fixed params and its name as a user attr.
A worker pops a waiting trial (the same atomic WAITING -> RUNNING step as Optuna's own `ask`,
without `ask`'s fallback of sampling a new trial when the queue is empty), trains the cell with
a heartbeat running, and tells the outcome:
- COMPLETE, valued at the final training error, for a trained cell (or one FINISHED earlier);
- PRUNED for a net that diverged: a result, not to be rerun;
- FAIL for a crash (rerunning the sweep enqueues the cell again), or for an interruption, with
  a copy enqueued at once, so that another worker, or the rerun, resumes it.
A worker that dies leaves its trial RUNNING until its heartbeat goes stale. Optuna then fails
the trial and enqueues a copy, which resumes the cell's MLflow run from its checkpoint.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict

import optuna
from optuna.trial import FrozenTrial, TrialState

from resnet.core.config import RunConfig
from resnet.runner.storage import mark_trial_owned, open_shared_study, requeue, wait_for_attr
from resnet.tracking.schema import Metric

DONE = (TrialState.COMPLETE, TrialState.PRUNED)
TAKEN = (TrialState.WAITING, TrialState.RUNNING, *DONE)  # a cell with one needs no new trial
READY_ATTR = "sweep_run_id"  # study user attr, set once the cells are enqueued
CELL_ATTR, BATCH_ATTR, ROW_ATTR = "cell", "batch", "row"
# Set on the cells a tuned sweep's rerun enqueues again: copies of one round are duplicates of
# each other, not of the cells the earlier rounds trained (maybe with other tuned values).
ROUND_ATTR = "round"
COPY_OF = (BATCH_ATTR, ROUND_ATTR)  # what two copies of one enqueued cell share ("" if unset)
TELL = {
    "finished": TrialState.COMPLETE,
    "skipped": TrialState.COMPLETE,
    "diverged": TrialState.PRUNED,
}  # any other status: FAIL


def queue_name(experiment: str, sweep_identity: str) -> str:
    return f"{experiment}/sweep-{sweep_identity}"


class CellQueue:
    """The sweep's study; `created` tells whether this process created it (and so enqueues)."""

    def __init__(self, storage: optuna.storages.BaseStorage, name: str):
        self.storage, self.name = storage, name
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # MLflow has every cell
        self.study, self.created = open_shared_study(name, storage)

    def trials(self, states=None) -> list[FrozenTrial]:
        return self.study.get_trials(deepcopy=False, states=states)

    def by_cell(self) -> dict[str, list[FrozenTrial]]:
        cells = defaultdict(list)
        for trial in self.trials():
            cells[trial.user_attrs.get(CELL_ATTR)].append(trial)
        return cells

    def enqueue(self, cells: list[RunConfig], force: bool = False, again: bool = False) -> int:
        """Enqueue the cells with no trial waiting, running or done (all of them, as a new
        batch, with `force`; those done too with `again`: a tuned sweep's values may have
        changed since, and its workers find the cells that have a FINISHED run of the same
        config without training them); returns how many."""
        batch = uuid.uuid4().hex[:8] if force else ""
        round_ = uuid.uuid4().hex[:8] if again else ""
        holds = (TrialState.WAITING, TrialState.RUNNING) if again else TAKEN
        taken = {name for name, ts in self.by_cell().items() if any(t.state in holds for t in ts)}
        wanted = [c for c in cells if force or c.name not in taken]
        for cell in wanted:
            self.study.enqueue_trial(
                {"arch": cell.arch, "depth": cell.depth, "seed": cell.seed},
                user_attrs={CELL_ATTR: cell.name, BATCH_ATTR: batch, ROUND_ATTR: round_},
            )
        return len(wanted)

    def mark_ready(self, sweep_run_id: str) -> None:
        self.study.set_user_attr(READY_ATTR, sweep_run_id)

    def wait_ready(self, timeout: float) -> str | None:
        """The sweep's MLflow run id, once the creator has enqueued the cells; None if that
        does not happen in time (the creator died: then this process enqueues them)."""
        return wait_for_attr(self.study, READY_ATTR, timeout)

    def pop(self) -> optuna.Trial | None:
        """A waiting cell, now RUNNING and owned by this process; None when none waits."""
        for frozen in self.trials((TrialState.WAITING,)):
            try:
                if not self.storage.set_trial_state_values(frozen._trial_id, TrialState.RUNNING):
                    continue  # another worker popped it first
            except optuna.exceptions.UpdateFinishedTrialError:
                continue
            trial = optuna.Trial(self.study, frozen._trial_id)
            try:
                mark_trial_owned(trial)
            except optuna.exceptions.UpdateFinishedTrialError:
                continue  # failed by another worker in the instant between
            return trial
        return None

    def busy(self) -> bool:
        """Cells still waiting or running (a running one may yet be retried)."""
        return bool(self.trials((TrialState.WAITING, TrialState.RUNNING)))

    def duplicate_of(self, trial: optuna.Trial) -> int | None:
        """An earlier trial of the same cell, batch and round that waits for it, runs it or ran
        it (two processes enqueued a missing cell at the same moment): its number, else None.
        Of such copies, the lowest-numbered one that has not failed trains the cell."""
        me = self.storage.get_trial(trial._trial_id)
        for other in self.by_cell()[me.user_attrs[CELL_ATTR]]:
            if (
                other.number < me.number
                and other.state in TAKEN
                and all(other.user_attrs.get(a, "") == me.user_attrs.get(a, "") for a in COPY_OF)
            ):
                return other.number
        return None

    def tell(self, trial: optuna.Trial, row: dict, again: bool = False) -> None:
        """Close the cell's trial with its summary row (kept for the sweep's table); `again`:
        as FAIL, with a copy enqueued (an interrupted cell, which a worker then resumes)."""
        try:
            trial.set_user_attr(ROW_ATTR, row)
        except optuna.exceptions.UpdateFinishedTrialError:
            return  # found stale meanwhile: the retry has the cell
        if again:
            requeue(self.study, trial._trial_id)
            return
        state = TELL.get(row["status"], TrialState.FAIL)
        value = row.get(Metric.TRAIN_ERROR)
        if state == TrialState.COMPLETE and (value is None or not math.isfinite(value)):
            state = TrialState.FAIL
        if state == TrialState.COMPLETE:
            self.study.tell(trial, value, skip_if_finished=True)
        else:
            self.study.tell(trial, state=state, skip_if_finished=True)

    def done_count(self) -> int:
        return len({t.user_attrs.get(CELL_ATTR) for t in self.trials(DONE)})

    def rows(self, cells: list[RunConfig], since: float | None = None) -> list[dict]:
        """Each cell's row from its newest trial that has one, in grid order; cells done before
        `since` (a time.time()) are marked as such, and cells with no row are "not run"."""
        found = self.by_cell()
        rows = []
        for cell in cells:
            trials = [t for t in found.get(cell.name, []) if ROW_ATTR in t.user_attrs]
            if not trials:
                rows.append(
                    {
                        "run": cell.name,
                        "arch": cell.arch,
                        "depth": cell.depth,
                        "seed": cell.seed,
                        "status": "not run",
                    }
                )
                continue
            # The newest, unless it only found another trial on the cell.
            newest = max(
                trials, key=lambda t: (t.user_attrs[ROW_ATTR]["status"] != "duplicate", t.number)
            )
            row = dict(newest.user_attrs[ROW_ATTR])
            complete = newest.datetime_complete
            if since is not None and complete is not None and complete.timestamp() < since:
                row.update(status="skipped", note=f"{row['status']} earlier")
            rows.append(row)
        return rows
