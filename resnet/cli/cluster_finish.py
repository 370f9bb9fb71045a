"""A detached cluster launch (`--launcher slurm --detach`) closes itself: a SLURM job that
runs once the sweep's tasks have ended, however they ended. It submits new tasks for the cells
that lost tasks left (at most the launcher's `max_resubmits` times, each with a new closing
job after it), else closes the sweep's MLflow run as a followed launch would and writes the
report. Like the tasks, it gets the sweep and the stores' addresses in its environment."""

from __future__ import annotations

import dataclasses
import functools
import sys
from pathlib import Path

from resnet.core.launcher_config import LauncherConfig
from resnet.runner.checks import open_store
from resnet.runner.launch import Submitted, SweepJob
from resnet.runner.slurm import submit_after, submit_tasks, task_spec, tasks_for
from resnet.runner.sweep import prepare_sweep
from resnet.runner.worker import WorkerSpec, read_spec
from resnet.runner.workers import still_busy


@dataclasses.dataclass(frozen=True)
class Closing:
    """What the closing job needs beside the spec (nothing secret: it is pickled to disk)."""

    launcher: LauncherConfig
    logs: str
    started: float
    report: bool
    resubmits_left: int


def submit_finisher(job: SweepJob, submitted: Submitted, report: bool) -> str:
    spec = WorkerSpec(job.sweep, job.stores, job.options, 0)
    closing = Closing(
        job.launcher, str(submitted.logs), submitted.started, report, job.launcher.max_resubmits
    )
    return submit_after(
        spec, job.launcher, submitted.logs, submitted.job, functools.partial(close_sweep, closing)
    )


def close_sweep(closing: Closing) -> int:
    spec = read_spec()
    options = dataclasses.replace(spec.options, join=True, progress=False)
    store = open_store(spec.stores.tracking_uri, spec.stores.checkpoints)
    queue, sweep_run = prepare_sweep(spec.sweep, store, spec.stores.storage, options)
    cells = spec.sweep.cells()
    if still_busy(queue) and closing.resubmits_left > 0:
        return resubmit(spec, closing, tasks_for(closing.launcher, queue))
    rows = queue.rows(cells, closing.started)
    done = not still_busy(queue)
    reason = None if done else "SLURM lost the tasks of every resubmission"
    sweep_run.finish(rows, status="FINISHED" if done else "FAILED", reason=reason)
    print(f"closed the sweep's run {sweep_run.run_id}", file=sys.stderr)
    if closing.report:
        from analysis.reporting import report_after_sweep

        report_after_sweep(spec.sweep.experiment_name, spec.stores.tracking_uri, sweep_run.run_id)
    return 0 if done else 1


def resubmit(spec: WorkerSpec, closing: Closing, count: int) -> int:
    launcher, logs = closing.launcher, Path(closing.logs)
    array = submit_tasks(task_spec(spec), launcher, logs, count)
    again = dataclasses.replace(closing, resubmits_left=closing.resubmits_left - 1)
    finisher = submit_after(spec, launcher, logs, array, functools.partial(close_sweep, again))
    print(
        f"cells left by lost tasks: submitted {count} task(s) ({array.array_ids[0]}) and a new "
        f"closing job ({finisher})",
        file=sys.stderr,
    )
    return 0
