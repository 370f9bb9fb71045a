"""The Optuna storage that every worker of a sweep shares: the queue of cells and the studies.

One machine, by default: a JournalStorage file beside the MLflow store, no server. Several
machines: a database URL (postgresql://...) that all of them reach. Either way each running
trial records a heartbeat, and a trial whose worker died is failed and enqueued again by
Optuna's own stale-trial machinery (`fail_stale_trials` with `RetryHeartbeatStaleTrialCallback`).
A worker on the same host need not wait for the grace period: `requeue_dead_owners` fails the
trials of processes that no longer exist right away, through the same callback.
"""

from __future__ import annotations

import copy
import os
import random
import shlex
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import optuna
import sqlalchemy
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages._heartbeat import BaseHeartbeat  # the documented way to add a backend
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from resnet.runner.journal_lock import HolderNamingLock
from resnet.tracking.address import masked
from resnet.tracking.client import sqlite_path
from resnet.tracking.liveness import GRACE_SECONDS, HEARTBEAT_SECONDS, lease, process_alive
from resnet.tracking.schema import Tag
from resnet.tracking.store import executable

RUN_ATTR = "mlflow_run_id"  # user attr of a trial or study: the MLflow run that records it
READY_TIMEOUT = 60.0  # how long a worker waits for the one that sets a sweep or study up
POLL_SECONDS = 1.0  # how often a waiting process looks at the storage again
MAX_RETRIES = 3  # a cell whose worker keeps dying (out of memory, say) is not retried forever
OWNER_ATTR = "owner"  # user attr: the worker running the trial (tracking.lease)
PREVIOUS_OWNER_ATTR = "previous_owner"  # user attr of a retry: the worker that was found dead
HEARTBEAT_ATTR = "heartbeat"  # system attr of a journal trial: time of its last heartbeat
CREATE_ATTEMPTS = 5
# Seconds without a training step after which a worker stops beating: longer than anything a
# healthy worker does between steps (compiling, evaluating, saving a checkpoint).
STALL_LIMIT = 1800
EXIT_STUCK = 3  # a worker that was stuck and whose cell went to another worker
# Seconds after which a journal lock left by a killed process that cannot be judged (another
# host's) is taken over; one of this host's is taken over at once (runner/journal_lock.py). A
# healthy writer holds it for milliseconds.
JOURNAL_LOCK_GRACE = 30
LOCK_FILE_SUFFIX = ".lock"  # Optuna's name for a journal's lock file
DASHBOARD_URL = "http://127.0.0.1:8080"  # where optuna-dashboard serves by default


def default_storage(tracking_uri: str) -> str:
    """A JournalStorage file beside the SQLite store (else in ./mlruns)."""
    db = sqlite_path(tracking_uri)
    folder = db.parent if db is not None else Path("mlruns")
    return str(folder / "optuna-journal.log")


def dashboard_command(storage: str) -> str:
    """The optuna-dashboard command that opens the storage's studies, with no password in it.
    A journal goes by its absolute path: the dashboard locks it with Optuna's default symlink
    lock, which dangles when the path is relative (see `journal_backend`)."""
    where = masked(storage) if is_database(storage) else os.path.abspath(storage)
    return f"{executable('optuna-dashboard')} {shlex.quote(where)}"


class RetryWithoutOwner(optuna.storages.RetryHeartbeatStaleTrialCallback):
    """Optuna's retry of a stale trial, with its worker's `owner` moved to `previous_owner`:
    the copy belongs to whoever pops it, and must not look dead while that worker claims it."""

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        trial = copy.deepcopy(trial)  # the storage may hand out its cached object
        owner = trial.user_attrs.pop(OWNER_ATTR, None)
        if owner is not None:
            trial.user_attrs[PREVIOUS_OWNER_ATTR] = owner
        super().__call__(study, trial)


def is_database(storage: str) -> bool:
    """A database URL (postgresql://, sqlite://, ...), not a journal file path."""
    return "://" in storage


def retry_callback() -> RetryWithoutOwner:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RetryWithoutOwner(max_retry=MAX_RETRIES)


def open_storage(
    storage: str, heartbeat_interval: int = HEARTBEAT_SECONDS, grace_period: int = GRACE_SECONDS
) -> BaseStorage:
    """An Optuna storage URL (postgresql://, sqlite://, ...) or a journal file path, with
    heartbeats and the retry of stale trials."""
    if is_database(storage):
        return open_database(storage, heartbeat_interval, grace_period)
    Path(storage).parent.mkdir(parents=True, exist_ok=True)
    return HeartbeatJournalStorage(storage, heartbeat_interval, grace_period)


def open_database(url: str, heartbeat_interval: int, grace_period: int) -> RDBStorage:
    """Workers that start at once on a new database all create Optuna's tables: all but one
    fail on the duplicate, and find the tables there when they try again."""
    for attempt in range(CREATE_ATTEMPTS):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return RDBStorage(
                    url,
                    engine_kwargs={"pool_pre_ping": True},  # survive a server restart
                    heartbeat_interval=heartbeat_interval,
                    grace_period=grace_period,
                    heartbeat_stale_trial_callback=retry_callback(),
                )
        except sqlalchemy.exc.DBAPIError as exc:
            racing = not isinstance(exc, sqlalchemy.exc.OperationalError) or "deadlock" in str(exc)
            if not racing or attempt == CREATE_ATTEMPTS - 1:
                raise
            time.sleep(1 + random.random())


def journal_backend(path: str) -> JournalFileBackend:
    """The journal file with a lock that a killed writer cannot leave behind for good. Optuna's
    default lock is a symlink to the journal that dangles when the path is relative; its age
    then cannot be read and the next writer spins on it forever."""
    path = os.path.abspath(path)
    drop_dangling_lock(path + LOCK_FILE_SUFFIX)
    return JournalFileBackend(path, lock_obj=HolderNamingLock(path, JOURNAL_LOCK_GRACE))


def drop_dangling_lock(lock: str) -> None:
    """A dangling symlink lock can only be one that an earlier version left when killed: no
    writer holds it, and its age cannot be read, so it is removed at once."""
    if os.path.islink(lock) and not os.path.exists(lock):
        os.unlink(lock)


class HeartbeatJournalStorage(JournalStorage, BaseHeartbeat):
    """A journal file with the heartbeat that Optuna gives RDBStorage: the last beat of each
    running trial is a system attr in the journal."""

    def __init__(self, path: str, heartbeat_interval: int, grace_period: int):
        super().__init__(journal_backend(path))
        self.heartbeat_interval, self.grace_period = heartbeat_interval, grace_period
        self.stale_callback = retry_callback()

    def record_heartbeat(self, trial_id: int) -> None:
        self.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, time.time())

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        deadline = time.time() - self.grace_period
        running = self.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
        return [t._trial_id for t in running if last_sign_of_life(t) < deadline]

    def get_heartbeat_interval(self) -> int | None:
        return self.heartbeat_interval

    def get_heartbeat_stale_trial_callback(self):
        return self.stale_callback


def last_sign_of_life(trial: optuna.trial.FrozenTrial) -> float:
    """Its last heartbeat, or when it started: a retried trial carries the heartbeat of the
    attempt it replaces, older than its own start."""
    started = trial.datetime_start.timestamp() if trial.datetime_start else 0.0
    return max(trial.system_attrs.get(HEARTBEAT_ATTR, 0.0), started)


def requeue_dead_owners(study: optuna.Study) -> None:
    """Fail the running trials of this host's workers that died, and enqueue them again the way
    Optuna does for stale trials; then let Optuna do the same for stale trials of any host."""
    ownerless_since = time.time() - grace_period(study._storage)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = trial.user_attrs.get(OWNER_ATTR)
        if owner is not None and process_alive(owner) is False:
            requeue(study, trial._trial_id)
        elif owner is None and trial.datetime_start.timestamp() < ownerless_since:
            # Popped by a worker killed before it could claim it or beat once: a database
            # storage would never find it stale.
            requeue(study, trial._trial_id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def grace_period(storage: BaseStorage) -> float:
    """The storage's grace period (Optuna's RDBStorage sits behind a cache)."""
    for candidate in (storage, getattr(storage, "_backend", None)):
        if getattr(candidate, "grace_period", None):
            return candidate.grace_period
    return GRACE_SECONDS


def requeue(study: optuna.Study, trial_id: int) -> None:
    """Fail a running trial and enqueue a copy of it (its cell, its params), as Optuna's
    stale-trial retry does; nothing if another worker has just done so."""
    storage = study._storage  # Optuna's fail_stale_trials reaches it the same way
    try:
        if not storage.set_trial_state_values(trial_id, TrialState.FAIL):
            return
    except optuna.exceptions.UpdateFinishedTrialError:
        return
    callback = storage.get_heartbeat_stale_trial_callback()
    if callback is not None:
        callback(study, storage.get_trial(trial_id))


def open_shared_study(
    name: str, storage: BaseStorage, pruner: optuna.pruners.BasePruner | None = None
) -> tuple[optuna.Study, bool]:
    """(the study, whether this process created it): creation is atomic in every storage, so
    of several workers starting at once exactly one sets the study up."""
    try:
        return optuna.create_study(study_name=name, storage=storage, pruner=pruner), True
    except optuna.exceptions.DuplicatedStudyError:
        return optuna.load_study(study_name=name, storage=storage, pruner=pruner), False


def wait_for_attr(study: optuna.Study, key: str, timeout: float, poll: float = 0.5):
    """A study user attr that the study's creator sets once it is set up; None if that does
    not happen in time (the creator died: then the caller sets the study up)."""
    deadline = time.monotonic() + timeout
    while True:
        value = optuna.load_study(study_name=study.study_name, storage=study._storage).user_attrs
        if key in value or time.monotonic() > deadline:
            return value.get(key)
        time.sleep(poll)


def mark_trial_owned(trial: optuna.Trial) -> None:
    """Mark the trial as this process's, first thing: a killed worker's trial is then known."""
    trial.set_user_attr(OWNER_ATTR, lease()[Tag.OWNER])
    storage = trial.storage
    if isinstance(storage, BaseHeartbeat) and storage.get_heartbeat_interval():
        storage.record_heartbeat(trial._trial_id)  # a trial with no beat never goes stale


def exit_stuck() -> None:
    os._exit(EXIT_STUCK)


class Claim:
    """A running trial's heartbeat, in a thread (so a long training step does not delay it).
    `lost()` turns true when the trial is no longer running: another worker found it stale
    (this process stalled, or lost the storage for longer than the grace period) and its cell
    now belongs to the retry.

    The training loop asks `lost()` after every step, which also tells the heartbeat that the
    worker makes progress; the first ask after a gap of more than a heartbeat interval looks at
    the storage itself, so a worker that wakes up after its cell was taken over stops at once,
    not at its next beat. A worker with no step for `stall_limit` seconds (a hung device call,
    say) stops beating, so that after the grace period another worker takes its cell over,
    instead of a live but stuck process holding it forever. Once its cell has gone while it is
    still stuck, it calls `on_stuck`: by default the process exits with EXIT_STUCK, so that a
    launcher waiting for its workers is not kept waiting by one that can no longer help."""

    def __init__(
        self,
        storage: BaseStorage,
        trial_id: int,
        name: str = "",
        stall_limit: float = STALL_LIMIT,
        on_stuck: Callable[[], object] = exit_stuck,
    ):
        self.storage, self.trial_id, self.name = storage, trial_id, name
        self.on_stuck = on_stuck
        self.interval = (
            storage.get_heartbeat_interval() if isinstance(storage, BaseHeartbeat) else None
        )
        self.stall_limit, self.last_progress = stall_limit, time.monotonic()
        # After a gap this long a beat may have been missed (a stall, a frozen process), and the
        # trial may have gone since the last one: `lost()` then looks at the storage itself.
        self.look_after = min(self.interval or stall_limit, stall_limit)
        self.stopped, self.gone = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self.beat, name="trial-heartbeat", daemon=True)

    def lost(self) -> bool:
        if time.monotonic() - self.last_progress > self.look_after:
            self.look()
        self.last_progress = time.monotonic()
        return self.gone.is_set()

    def look(self) -> None:
        """Learn now, not at the next beat, whether the trial still runs."""
        try:
            if self.storage.get_trial(self.trial_id).state != TrialState.RUNNING:
                self.gone.set()
        except Exception:  # the storage is away for a moment: the heartbeat will learn it
            pass

    def stalled(self) -> bool:
        return time.monotonic() - self.last_progress > self.stall_limit

    def beat(self) -> None:
        told = False
        while not self.stopped.is_set():
            try:
                state = self.storage.get_trial(self.trial_id).state
                if state != TrialState.RUNNING:
                    self.gone.set()
                    if state == TrialState.FAIL and self.stalled():  # taken over, still stuck
                        self.give_up()
                    return
                if not self.stalled():
                    self.storage.record_heartbeat(self.trial_id)
                elif not told:
                    told = True
                    print(
                        f"{self.name}: no training step in {self.stall_limit:.0f} s; this "
                        "worker stops claiming the cell, so that another one takes it over",
                        file=sys.stderr,
                    )
            except optuna.exceptions.UpdateFinishedTrialError:
                self.gone.set()
                return
            except Exception:  # the storage is away for a moment: beat again next time
                pass
            self.stopped.wait(self.interval)

    def give_up(self) -> None:
        print(
            f"{self.name}: another worker has taken the cell over and this one is still "
            f"stuck: it exits ({EXIT_STUCK})",
            file=sys.stderr,
            flush=True,
        )
        self.on_stuck()

    def __enter__(self) -> Claim:
        if self.interval:
            self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join()
