"""A sweep as one command asks for it (`SweepJob`): checked whole before any compute, then run
by this process alone or by `--workers N` processes that it starts and waits for."""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from resnet.core.config import SweepConfig
from resnet.core.data import Dataset
from resnet.core.device import availability_problem, resolve_device
from resnet.core.launcher_config import LauncherConfig
from resnet.core.train import load_data
from resnet.core.tune_config import space_problem
from resnet.runner.checks import (
    SetupError,
    check_checkpoint_dir,
    check_data_dir,
    check_fits,
    check_slurm_logs,
    check_storage,
    check_studies_exist,
    check_writable,
    open_store,
)
from resnet.runner.interrupt import StopRequest
from resnet.runner.slurm import (
    DEFAULT_LOGS,
    ArrayJob,
    Follow,
    check_cluster,
    submit_tasks,
    task_spec,
    tasks_for,
)
from resnet.runner.storage import is_database
from resnet.runner.sweep import SweepOptions, SweepResult, crashed, prepare_sweep, run_sweep
from resnet.runner.worker import Stores, WorkerSpec, worker_options
from resnet.runner.workers import (
    Placement,
    PlacementError,
    plan,
    run_workers,
    still_busy,
    usable_cores,
)
from resnet.tracking.client import answering_quickly
from resnet.tracking.failures import store_failure
from resnet.tracking.liveness import lease
from resnet.tracking.schema import Tag
from resnet.tracking.store import Store, SweepRun

# What a job refuses before any compute, each with its one line.
BAD_INPUT = (SetupError, PlacementError)


@dataclass(frozen=True)
class WorkerCount:
    """How many processes of this machine work on the sweep (None, None: this one alone)."""

    workers: int | None = None
    jobs_per_gpu: int | None = None


@dataclass(frozen=True)
class SweepJob:
    """One depth_sweep.py command, typed: what to train, where to keep it, how, by whom."""

    sweep: SweepConfig
    stores: Stores
    options: SweepOptions = field(default_factory=SweepOptions)
    count: WorkerCount = field(default_factory=WorkerCount)
    launcher: LauncherConfig = field(default_factory=LauncherConfig)

    @property
    def device(self) -> torch.device:
        return resolve_device(self.sweep.shared.device)

    def compiled(self) -> SweepJob:
        """The job with torch.compile on for every net (its workers' too)."""
        base = dataclasses.replace(self.sweep.base, compile=True)
        sweep = dataclasses.replace(self.sweep, base=base)
        return dataclasses.replace(self, sweep=sweep)


@dataclass(frozen=True)
class Ready:
    """A checked job with what its checks opened: the data set, the store, the placements of
    its workers (None: this process alone)."""

    job: SweepJob
    dataset: Dataset
    store: Store
    placements: list[Placement] | None


def check_job(job: SweepJob) -> Ready:
    """Every check a job has to pass, in the order that fails fastest, before anything is
    written; the data set is loaded once, here. Raises one of BAD_INPUT (or the config's and
    data's own errors)."""
    problem = availability_problem(job.sweep.shared.device)
    if problem:
        raise SetupError(problem)
    if job.launcher.cluster:
        check_slurm_logs(slurm_logs(job.launcher))
        check_cluster(job.launcher, job.stores.tracking_uri, job.stores.storage)
    check_writable(job.stores.tracking_uri)
    check_checkpoint_dir(job.stores.checkpoints)
    check_storage(job.stores.storage)
    check_tuning(job)
    placements = None if job.launcher.cluster else placements_for(job)
    check_data_dir(Path(job.sweep.shared.data_dir))
    dataset = load_data(job.sweep.shared)
    check_fits(job.sweep, dataset)
    store = open_store(job.stores.tracking_uri, job.stores.checkpoints)
    return Ready(job, dataset, store, placements)


def slurm_logs(launcher: LauncherConfig) -> Path:
    """The folder of the SLURM tasks' logs: --slurm-logs, else DEFAULT_LOGS."""
    return Path(launcher.logs) if launcher.logs else DEFAULT_LOGS


def check_tuning(job: SweepJob) -> None:
    tuning = job.options.tuning
    if tuning is None:
        return
    problem = space_problem(tuning.tune, job.sweep.shared, tuning.run_trials)
    if problem:
        raise SetupError(problem)
    if not tuning.run_trials:
        check_studies_exist(job.sweep, job.stores.storage)


def placements_for(job: SweepJob) -> list[Placement] | None:
    """Where each worker of a launch runs; None for a single process (the default)."""
    count = job.count
    if count.workers in (None, 1) and count.jobs_per_gpu is None:
        return None
    if count.jobs_per_gpu is not None and count.jobs_per_gpu < 1:
        raise PlacementError(f"--jobs-per-gpu must be at least 1, got {count.jobs_per_gpu}")
    device = job.device
    gpus = []
    if device.type == "cuda":
        gpus = (
            [device.index] if device.index is not None else list(range(torch.cuda.device_count()))
        )
    workers = count.workers
    if workers is None:
        workers = max(1, len(gpus) * (count.jobs_per_gpu or 1))
    return plan(workers, device.type, gpus, usable_cores(), count.jobs_per_gpu)


@dataclass(frozen=True)
class Submitted:
    """A detached cluster launch: its SLURM job, still running, and the sweep's MLflow run."""

    job: ArrayJob
    tasks: int
    logs: Path
    experiment_id: str
    parent_run_id: str
    started: float  # time.time() before the sweep was set up: cells done since are its own


def run_job(ready: Ready) -> SweepResult | Submitted | None:
    """Work the job to its end: its result (or, detached, what was submitted), or None when
    it was interrupted (finished runs are kept; an interrupted one resumes from its checkpoint
    on the rerun)."""
    if ready.job.launcher.cluster:
        return launch_on_cluster(ready)
    if ready.placements is not None:
        release_device_memory()
        return launch_sweep(ready)
    job = ready.job
    options = dataclasses.replace(job.options, worker=single_worker_key(job.stores.storage))
    try:
        with StopRequest().installed() as stop:
            return run_sweep(
                job.sweep, ready.store, job.stores.storage, ready.dataset, options, stop
            )
    except KeyboardInterrupt:
        return None


def single_worker_key(storage: str) -> str:
    """A process alone: nothing sets its tuning samples apart (reproducible), unless the
    storage is a database that processes on other machines may share."""
    return lease()[Tag.OWNER] if is_database(storage) else ""


def release_device_memory() -> None:
    """A launcher only waits for its workers once the projection is printed: the GPU memory of
    the nets it timed (and of their compiled code and CUDA graphs) goes back, for the workers."""
    if torch.cuda.is_initialized():
        torch._dynamo.reset()
        torch.cuda.empty_cache()


def worker_specs(job: SweepJob, placements: list[Placement]) -> list[tuple[Placement, dict]]:
    """Each placement with the environment that hands its worker the job."""
    specs = []
    for number, placement in enumerate(placements, 1):
        sweep = job.sweep
        if placement.device is not None:  # one GPU each, seen as the only one
            base = dataclasses.replace(sweep.base, device=placement.device)
            sweep = dataclasses.replace(sweep, base=base)
        options = worker_options(job.options, number, job.stores.storage)
        specs.append((placement, WorkerSpec(sweep, job.stores, options, number).environment()))
    return specs


def launch_sweep(ready: Ready) -> SweepResult | None:
    """Set the sweep up, run its workers, then close the sweep's run as a single process
    would; None when interrupted."""
    job, started = ready.job, time.time()
    cells = job.sweep.cells()
    try:
        queue, sweep_run = prepare_sweep(job.sweep, ready.store, job.stores.storage, job.options)
    except KeyboardInterrupt:
        return None
    workers = worker_specs(job, ready.placements)
    codes, interrupted, stopped = run_workers(workers, queue, len(cells), job.options.progress)
    rows = queue.rows(cells, started)
    for number, code in enumerate(codes, 1):
        if code not in (0, 1) and not interrupted and number not in stopped:
            print(
                f"worker {number} ended with exit code {code}; its cell went back to the queue",
                file=sys.stderr,
            )
    if interrupted:
        sweep_run.finish(rows, status="KILLED")
        return None
    failure = close_sweep_run(sweep_run, rows)
    return SweepResult(sweep_run.experiment_id, sweep_run.run_id, rows, failure)


def close_sweep_run(sweep_run: SweepRun, rows: list[dict]) -> str | None:
    """Close the sweep's run once its workers are done; when the store has failed under them
    (each worker said so already), one line, and the run is left to the rerun, which takes the
    sweep over. Returns that failure, if any."""
    try:
        with answering_quickly() if crashed(rows) else contextlib.nullcontext():
            sweep_run.finish(rows)
    except Exception as exc:
        failure = store_failure(exc)
        if failure is None:
            raise
        print(f"the sweep's run is not closed: {failure}; the rerun closes it", file=sys.stderr)
        return failure
    return None


def launch_on_cluster(ready: Ready) -> SweepResult | Submitted | None:
    """Set the sweep up, submit its workers as a SLURM array job, then (unless detached)
    follow it to its end and close the sweep's run as a single process would."""
    job, started, cells = ready.job, time.time(), ready.job.sweep.cells()
    launcher = job.launcher
    queue, sweep_run = prepare_sweep(job.sweep, ready.store, job.stores.storage, job.options)
    if not still_busy(queue):  # a rerun of a sweep that is done: nothing to submit
        rows = queue.rows(cells, started)
        sweep_run.finish(rows)
        return SweepResult(sweep_run.experiment_id, sweep_run.run_id, rows)
    spec = task_spec(WorkerSpec(job.sweep, job.stores, job.options, 0))
    logs = slurm_logs(launcher)
    count = tasks_for(launcher, queue)
    array = submit_tasks(spec, launcher, logs, count)
    ids = sweep_run.experiment_id, sweep_run.run_id
    submitted = Submitted(array, count, logs, *ids, started)
    if launcher.detach:
        return submitted
    print(submitted_line(submitted), file=sys.stderr)
    follow = Follow(spec, launcher, logs, queue, [array])
    try:
        done = follow.wait(len(cells), job.options.progress)
    except KeyboardInterrupt:
        print(
            f"Stopped following: the tasks go on; `scancel {' '.join(array.array_ids)}` stops "
            "them (each saves its cell's checkpoint first)",
            file=sys.stderr,
        )
        return None
    rows = queue.rows(cells, started)
    if done:
        sweep_run.finish(rows)
    else:
        lost = ", ".join(f"{t} {s}" for t, s in follow.lost.items())
        reason = f"SLURM lost tasks {launcher.max_resubmits + 1} times ({lost})"
        sweep_run.finish(rows, status="FAILED", reason=reason)
    return SweepResult(sweep_run.experiment_id, sweep_run.run_id, rows)


def submitted_line(submitted: Submitted) -> str:
    array = submitted.job.array_ids[0]
    return (
        f"Submitted SLURM job {array}: {submitted.tasks} task(s), each a worker of the sweep; "
        f"their logs: {submitted.logs / array}_<task>/"
    )
