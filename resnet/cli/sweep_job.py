"""The depth sweep's run, from the settings its command line checked (`resnet.cli.sweep`):
the runner's own checks (the store, the storage, this machine), the projection, the sweep, and
what it prints at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

import pandas as pd

from resnet.cli.sweep import CHECKED_HERE, PROG, Settings
from resnet.command_line import bad_input
from resnet.core.allocator import keep_freed_memory
from resnet.core.precision import AUTO, native_precision, slow_precision_warning
from resnet.core.presets import read_preset
from resnet.runner.compile_choice import choose_compile
from resnet.runner.estimate import Projection, compile_may_pay_back, human_duration, project
from resnet.runner.forecast import forecast_lines, remaining
from resnet.runner.launch import (
    BAD_INPUT,
    Ready,
    Submitted,
    SweepJob,
    WorkerCount,
    check_job,
    run_job,
    submitted_line,
)
from resnet.runner.layout import choose_layout
from resnet.runner.storage import DASHBOARD_URL, dashboard_command, default_storage
from resnet.runner.sweep import SweepOptions, SweepResult, Tuning
from resnet.runner.worker import Stores
from resnet.runner.workers import plan
from resnet.tracking.address import masked
from resnet.tracking.store import runs_url, ui_command

INTERRUPTED = (
    "\nInterrupted: finished runs are kept, an interrupted one resumes from its "
    "checkpoint; rerun the same command to do the rest."
)


def job_from(args: argparse.Namespace, settings: Settings) -> SweepJob:
    uri = settings.tracking_uri
    tuning = None if settings.tune is None else Tuning(settings.tune, run_trials=args.tune)
    options = SweepOptions(
        force=args.force,
        progress=not args.no_progress,
        tuning=tuning,
        system_metrics=not args.no_system_metrics,
    )
    return SweepJob(
        sweep=settings.sweep,
        stores=Stores(uri, settings.storage or default_storage(uri), args.checkpoint_dir),
        options=options,
        count=WorkerCount(args.workers, args.jobs_per_gpu),
        launcher=settings.launcher,
    )


def announce_precision(args: argparse.Namespace, job: SweepJob) -> None:
    """What "auto" chose, or a warning for bf16 where it is emulated."""
    if (args.precision or read_preset(args.preset)[2].get("precision")) == AUTO:
        print(f"precision auto: {' because '.join(native_precision(job.device))}", file=sys.stderr)
    warning = slow_precision_warning(job.device, job.sweep.shared.precision)
    if warning:
        print(warning, file=sys.stderr)


def print_projection(ready: Ready) -> Projection | None:
    """How long the job will take here, from a few timed steps per net, before it starts; None
    when nothing is left to train."""
    cells, trials = remaining(ready)
    if not cells and not trials:
        return None
    if ready.job.sweep.shared.compile:
        print("Compiling each net to time it for the projection ...", file=sys.stderr)
    projection = project(cells, trials, ready.dataset)
    print("\n".join(forecast_lines(ready, projection)), file=sys.stderr)
    return projection


def compile_if_it_pays(args: argparse.Namespace, ready: Ready, projection) -> Ready:
    """The job with torch.compile on where the user left it open, a net trains long enough
    here to be worth timing, and its compiled step, timed, pays the compilation back (said
    once, either way)."""
    if args.compile is not None or projection is None or projection.deepest is None:
        return ready
    if not compile_may_pay_back(projection, ready.job.device):
        if ready.job.device.type == "cpu":
            longest = human_duration(projection.longest)
            print(
                "Training eager: compiling can pay back here only for a net that trains for "
                f"20 minutes or more (this sweep's longest: {longest}); --compile compiles "
                "anyway.",
                file=sys.stderr,
            )
        return ready
    print("Timing the deepest net compiled against eager ...", file=sys.stderr)
    choice = choose_compile(projection.deepest, ready.dataset, projection.longest)
    print(choice.line(), file=sys.stderr)
    return dataclasses.replace(ready, job=ready.job.compiled()) if choice.compile else ready


def workers_by_throughput(args: argparse.Namespace, ready: Ready, projection: Projection) -> Ready:
    """On a CPU, where the user left the workers open and the projection timed the nets: one
    worker of every thread, or one per core where that trains clearly faster here (said either
    way). Compiled nets keep one worker: their timing here is eager."""
    job = ready.job
    user_chose = args.workers is not None or args.jobs_per_gpu is not None
    if user_chose or job.launcher.cluster or job.device.type != "cpu" or job.sweep.shared.compile:
        return ready
    if projection.deepest is None:  # nothing left to train
        return ready
    jobs = projection.runs + projection.trials
    layout = choose_layout(projection.deepest, ready.dataset, jobs)
    if layout is None:
        return ready
    print(layout.line(), file=sys.stderr)
    if layout.workers == 1:
        return ready
    job = dataclasses.replace(job, count=WorkerCount(layout.workers))
    placements = plan(layout.workers, "cpu", [], layout.all_threads, None)
    return dataclasses.replace(ready, job=job, placements=placements)


def print_watch_link(ready: Ready) -> None:
    """Where to watch the runs while they train (the sweep's experiment is made now if new)."""
    store = ready.store
    link = runs_url(store.uri, store.experiment_id(ready.job.sweep.experiment_name))
    if store.uri.startswith("http"):
        print(f"Watch the runs live: {link}")
    else:
        print(f"Watch the runs live: start `{ui_command(store.uri)}`, then open {link}")


def run_checked(args: argparse.Namespace, settings: Settings) -> int:
    """The runner's checks, then the sweep; the exit code."""
    try:
        ready = check_job(job_from(args, settings))
    except (*CHECKED_HERE, *BAD_INPUT) as exc:
        return bad_input(PROG, masked(str(exc)))
    keep_freed_memory()
    announce_precision(args, ready.job)
    projection = None if args.no_projection else print_projection(ready)
    ready = compile_if_it_pays(args, ready, projection)
    if projection is not None:
        ready = workers_by_throughput(args, ready, projection)
    print_watch_link(ready)
    result = run_job(ready)
    if isinstance(result, Submitted):
        return detached(args, ready, result)
    if result is None:
        print(INTERRUPTED, file=sys.stderr)
        return 130
    finish(args, ready.job, result)
    return 1 if result.crashed or result.halted else 0


def detached(args: argparse.Namespace, ready: Ready, submitted: Submitted) -> int:
    """Say what was submitted, and leave the rest to a job that runs after the tasks."""
    from resnet.cli.cluster_finish import submit_finisher

    finisher = submit_finisher(ready.job, submitted, report=not args.no_report)
    print(submitted_line(submitted))
    print(
        f"Detached. SLURM job {finisher} closes the sweep once the tasks end"
        + (" and writes its report into reports/" if not args.no_report else "")
        + f"; follow it with `squeue -j {submitted.job.array_ids[0]},{finisher}`."
    )
    return 0


def finish(args: argparse.Namespace, job: SweepJob, result: SweepResult) -> None:
    print_summary(result.rows, job.stores.tracking_uri, result.experiment_id)
    if job.options.tuning is not None:
        print(
            f"Browse the tuning studies ({DASHBOARD_URL}): {dashboard_command(job.stores.storage)}"
        )
    if result.halted is not None:
        print("The report is written when a rerun has finished the sweep.")
    elif not args.no_report:
        from analysis.reporting import report_after_sweep  # the analysis's imports, only here

        report_after_sweep(job.sweep.experiment_name, job.stores.tracking_uri, result.parent_run_id)


def print_summary(rows: list[dict], uri: str, experiment_id: str) -> None:
    table = pd.DataFrame(rows).drop(columns=["run_id"], errors="ignore")
    for column in table.select_dtypes("float").columns:  # 4 decimals; blank where not known
        table[column] = table[column].map(lambda v: "" if pd.isna(v) else f"{v:.4f}")
    print(table.fillna("").to_string(index=False))
    print(f"\nBrowse the runs:\n  {ui_command(uri)}\n  {runs_url(uri, experiment_id)}")
