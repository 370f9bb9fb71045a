"""Command line of the depth sweep: parse the flags into a `SweepJob`, let the runner check and
run it, print what happens, then write the report.

Bad input is one line on stderr and exit code 2, before any compute and before anything is
written to the MLflow store.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from resnet.cli.flags import add_run_flags, run_overrides
from resnet.command_line import (
    InputError,
    OneLineParser,
    bad_input,
    comma_list,
    tolerant_output,
)
from resnet.core.allocator import keep_freed_memory
from resnet.core.config import ConfigError, SweepConfig
from resnet.core.data import DataError
from resnet.core.launcher_config import LAUNCHERS, LauncherConfig
from resnet.core.precision import AUTO, native_precision, slow_precision_warning
from resnet.core.presets import (
    build_launcher,
    build_sweep,
    build_tune,
    preset_names,
    read_preset,
)
from resnet.runner.estimate import Projection, compile_pays_back, project
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
from resnet.runner.storage import DASHBOARD_URL, dashboard_command, default_storage
from resnet.runner.sweep import SweepOptions, SweepResult, Tuning
from resnet.runner.worker import Stores
from resnet.tracking.address import AddressError, checked_address, masked
from resnet.tracking.store import resolve_tracking_uri, runs_url, ui_command

PROG = "depth_sweep.py"
NO_PROJECTION_ENV = "DEPTH_SWEEP_NO_PROJECTION"  # "1": as --no-projection
INTERRUPTED = (
    "\nInterrupted: finished runs are kept, an interrupted one resumes from its "
    "checkpoint; rerun the same command to do the rest."
)
# Outside training: a store is either whole or not made at all (resnet/tracking/database.py).
SETUP_INTERRUPTED = "Interrupted outside training: nothing is lost; rerun the same command."


def make_parser() -> OneLineParser:
    p = OneLineParser(
        prog=PROG,
        description="Train plain and residual nets of several depths; track every run in MLflow. "
        "Every value not given here comes from the preset.",
    )
    p.add_argument(
        "--preset",
        default="quick",
        help=f"{', '.join(preset_names())}, or a path to a preset .toml (default: quick)",
    )
    p.add_argument("--archs", type=comma_list(str, "--archs"), help="e.g. plain,residual")
    p.add_argument("--depths", type=comma_list(int, "--depths"), help="6n+2, e.g. 20,32,44,56")
    p.add_argument("--seeds", type=comma_list(int, "--seeds"), help="e.g. 0,1,2")
    add_run_flags(p)
    add_store_options(p)
    add_work_options(p)
    add_launcher_options(p)
    return p


def add_store_options(p: argparse.ArgumentParser) -> None:
    """Where runs and checkpoints are kept."""
    p.add_argument("--experiment", help="MLflow experiment name (default: depth-<preset>-<data>)")
    p.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI (default: MLFLOW_TRACKING_URI, else sqlite:///mlruns/mlflow.db)",
    )
    p.add_argument(
        "--storage",
        help="Optuna storage that holds the sweep's cells and tuning studies: a database URL "
        "(postgresql://user@host/db, its password from PGPASSWORD or ~/.pgpass; shared by "
        "workers on several machines) or a journal file (default: mlruns/optuna-journal.log "
        "beside the MLflow store)",
    )
    p.add_argument(
        "--checkpoint-dir",
        type=Path,
        help="where cells save resumable checkpoints (default: beside the SQLite store, else "
        "mlruns/checkpoints); a folder that all machines share lets a cell that one machine "
        "started resume on another",
    )


def add_work_options(p: argparse.ArgumentParser) -> None:
    """What to run (reruns, tuning), by how many workers, and what to show."""
    flags = {
        "--force": "rerun cells that already finished",
        "--tune": "first tune the preset's [tune.space] per (arch, depth) with Optuna, then "
        "train the cells with the best values",
        "--use-tuned": "train the cells with the best values of earlier --tune studies",
        "--no-progress": "no progress bars",
        "--no-system-metrics": "do not log CPU, memory and GPU use to each net's run (MLflow's "
        "system metrics, every 10 s while it trains)",
        "--no-report": "skip the report (figures, table, verdict) written at the end; python "
        "-m analysis.report --experiment NAME writes it later",
    }
    for flag, help_line in flags.items():
        p.add_argument(flag, action="store_true", help=help_line)
    p.add_argument(
        "--no-projection",
        action="store_true",
        default=os.environ.get(NO_PROJECTION_ENV) == "1",
        help="start training at once, without timing a few steps per net to project the "
        f"sweep's time (and so without compiling by itself); {NO_PROJECTION_ENV}=1 does the same",
    )
    p.add_argument("--trials", type=int, help="trials per study, in total (default: preset)")
    p.add_argument(
        "--workers",
        type=int,
        help="worker processes on this machine, pulling cells from the sweep (default: 1; with "
        "GPUs, spread over them; on CPU, the cores split between them); with --launcher slurm, "
        "the array job's tasks (default: one per cell left)",
    )
    p.add_argument(
        "--jobs-per-gpu",
        type=int,
        help="at most this many workers on one GPU (small nets cannot fill a big GPU alone); "
        "--workers defaults to GPUs x this",
    )


def add_launcher_options(p: argparse.ArgumentParser) -> None:
    """Where the workers run; every value not given comes from the preset's [launcher]."""
    p.add_argument(
        "--launcher",
        choices=LAUNCHERS,
        help="local: this machine (default); slurm: the workers as one SLURM array job "
        "(submitit), on stores every node reaches (docs/WORKERS.md)",
    )
    p.add_argument("--partition", help="SLURM partition (default: the cluster's default)")
    p.add_argument("--gpus-per-task", type=int, help="GPUs per SLURM task (default: 0)")
    p.add_argument("--cpus-per-task", type=int, help="cores per SLURM task (default: 1)")
    p.add_argument("--mem-gb", type=float, help="memory per SLURM task, in GB")
    p.add_argument("--time-min", type=int, help="time limit of each SLURM task, in minutes")
    p.add_argument(
        "--sbatch",
        action="append",
        metavar="KEY=VALUE",
        help="one more sbatch option, e.g. qos=high or account=lab (again for more); not one "
        "the launcher sets (output, array, partition, time, ...: their flags set them)",
    )
    p.add_argument("--slurm-logs", help="folder of the SLURM tasks' logs (default: mlruns/slurm)")
    p.add_argument(
        "--detach",
        action="store_true",
        default=None,
        help="submit and return; a dependent job closes the sweep and writes its report",
    )


def launcher_from_args(args: argparse.Namespace) -> LauncherConfig:
    overrides = {
        "kind": args.launcher,
        "partition": args.partition,
        "gpus_per_task": args.gpus_per_task,
        "cpus_per_task": args.cpus_per_task,
        "mem_gb": args.mem_gb,
        "time_min": args.time_min,
        "sbatch": tuple(args.sbatch) if args.sbatch else None,
        "logs": args.slurm_logs,
        "detach": args.detach,
    }
    launcher = build_launcher(args.preset, overrides)
    if launcher.cluster:
        if args.jobs_per_gpu is not None:
            raise InputError("--jobs-per-gpu is for local launches; give SLURM --gpus-per-task")
        tasks = launcher.tasks if args.workers is None else args.workers
        return dataclasses.replace(launcher, tasks=tasks)
    for key, value in overrides.items():
        if key != "kind" and value is not None:
            flag = "--slurm-logs" if key == "logs" else f"--{key.replace('_', '-')}"
            raise InputError(f"{flag} needs --launcher slurm (or a preset's [launcher] kind)")
    return launcher


def sweep_from_args(args: argparse.Namespace) -> SweepConfig:
    sweep_overrides = {k: getattr(args, k) for k in ("archs", "depths", "seeds", "experiment")}
    sweep = build_sweep(args.preset, sweep_overrides, run_overrides(args))
    schedule = sweep.cells()[0].schedule
    if args.milestones is not None and schedule != "step":
        raise InputError(f"--milestones needs the step schedule; this preset uses {schedule}")
    return sweep


def tuning_from_args(args: argparse.Namespace) -> Tuning | None:
    """How the sweep is tuned; None when it is not."""
    if args.tune and args.use_tuned:
        raise InputError("--tune and --use-tuned exclude each other (--tune already uses them)")
    if args.trials is not None and not args.tune:
        raise InputError(
            "--trials needs --tune" + ("; --use-tuned runs no trials" * args.use_tuned)
        )
    if not (args.tune or args.use_tuned):
        return None
    return Tuning(build_tune(args.preset, {"trials": args.trials}), run_trials=args.tune)


def storage_from_args(args: argparse.Namespace, uri: str) -> str:
    if args.storage is None:
        return default_storage(uri)
    return checked_address(args.storage, "--storage")


def job_from_args(args: argparse.Namespace) -> SweepJob:
    uri = resolve_tracking_uri(args.tracking_uri)
    options = SweepOptions(
        force=args.force,
        progress=not args.no_progress,
        tuning=tuning_from_args(args),
        system_metrics=not args.no_system_metrics,
    )
    return SweepJob(
        sweep=sweep_from_args(args),
        stores=Stores(uri, storage_from_args(args, uri), args.checkpoint_dir),
        options=options,
        count=WorkerCount(args.workers, args.jobs_per_gpu),
        launcher=launcher_from_args(args),
    )


def announce_precision(args: argparse.Namespace, job: SweepJob) -> None:
    """What "auto" chose, or a warning for bf16 where it is emulated."""
    if (args.precision or read_preset(args.preset)[2].get("precision")) == AUTO:
        print(f"precision auto: {' because '.join(native_precision(job.device))}", file=sys.stderr)
    warning = slow_precision_warning(job.device, job.sweep.cells()[0].precision)
    if warning:
        print(warning, file=sys.stderr)


def print_projection(ready: Ready) -> Projection | None:
    """How long the job will take here, from a few timed steps per net, before it starts; None
    when nothing is left to train."""
    cells, trials = remaining(ready)
    if not cells and not trials:
        return None
    if ready.job.sweep.cells()[0].compile:
        print("Compiling each net to time it for the projection ...", file=sys.stderr)
    projection = project(cells, trials, ready.dataset)
    print("\n".join(forecast_lines(ready, projection)), file=sys.stderr)
    return projection


def compile_if_it_pays(args: argparse.Namespace, ready: Ready, projection) -> Ready:
    """The job with torch.compile on where the user left it open and a net trains long enough
    here to pay the compilation back (said once)."""
    if args.compile is not None or projection is None:
        return ready
    if not compile_pays_back(projection, ready.job.device):
        return ready
    print(
        "Compiling each net (torch.compile): one of them trains for 20 minutes or more here, "
        "which pays the compilation back; --no-compile trains eager.",
        file=sys.stderr,
    )
    return dataclasses.replace(ready, job=ready.job.compiled())


def print_watch_link(ready: Ready) -> None:
    """Where to watch the runs while they train (the sweep's experiment is made now if new)."""
    store = ready.store
    link = runs_url(store.uri, store.experiment_id(ready.job.sweep.experiment_name))
    if store.uri.startswith("http"):
        print(f"Watch the runs live: {link}")
    else:
        print(f"Watch the runs live: start `{ui_command(store.uri)}`, then open {link}")


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # run as a command: its terminal may not take every character
        tolerant_output()
    try:
        return sweep_command(argv)
    except KeyboardInterrupt:  # before training (checks, the store, the projection) or after it
        print(SETUP_INTERRUPTED, file=sys.stderr)
        return 130


def sweep_command(argv: Sequence[str] | None) -> int:
    try:
        args = make_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
        ready = check_job(job_from_args(args))
    except (InputError, ConfigError, DataError, AddressError, *BAD_INPUT) as exc:
        return bad_input(PROG, masked(str(exc)))
    keep_freed_memory()
    announce_precision(args, ready.job)
    projection = None if args.no_projection else print_projection(ready)
    ready = compile_if_it_pays(args, ready, projection)
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
        from analysis.report import report_after_sweep  # the analysis's imports, only here

        report_after_sweep(job.sweep.experiment_name, job.stores.tracking_uri, result.parent_run_id)


def print_summary(rows: list[dict], uri: str, experiment_id: str) -> None:
    table = pd.DataFrame(rows).drop(columns=["run_id"], errors="ignore")
    for column in table.select_dtypes("float").columns:  # 4 decimals; blank where not known
        table[column] = table[column].map(lambda v: "" if pd.isna(v) else f"{v:.4f}")
    print(table.fillna("").to_string(index=False))
    print(f"\nBrowse the runs:\n  {ui_command(uri)}\n  {runs_url(uri, experiment_id)}")


if __name__ == "__main__":
    sys.exit(main())
