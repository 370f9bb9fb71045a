"""Command line of the depth sweep: parse the flags and check what they ask for, then hand
the checked settings to `resnet.cli.sweep_job`, which runs them.

Bad input is one line on stderr and exit code 2, before any compute and before anything is
written to the MLflow store. What the flags and the preset say is checked here, before torch,
MLflow, Optuna or pandas are imported, so that `--help` and a mistyped value answer at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from resnet.cli.flags import add_flags, add_run_flags, given_flags, overrides, run_overrides
from resnet.command_line import (
    InputError,
    OneLineParser,
    bad_input,
    tolerant_output,
)
from resnet.core.config import ConfigError, SweepConfig
from resnet.core.datasets import DataError
from resnet.core.launcher_config import LauncherConfig
from resnet.core.presets import build_launcher, build_sweep, build_tune, preset_names
from resnet.core.tune_config import TuneConfig
from resnet.tracking.address import AddressError, checked_address, masked, resolve_tracking_uri

PROG = "depth_sweep.py"
CHECKED_HERE = (InputError, ConfigError, DataError, AddressError)  # what the flags can get wrong
NO_PROJECTION_ENV = "DEPTH_SWEEP_NO_PROJECTION"  # "1": as --no-projection
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
    add_flags(p.add_argument_group("the sweep (each overrides the preset's [sweep])"), SweepConfig)
    add_run_flags(p)
    add_store_options(p)
    add_work_options(p)
    add_flags(p.add_argument_group("tuning, with --tune (each overrides [tune])"), TuneConfig)
    add_flags(
        p.add_argument_group("the launcher (each overrides [launcher]; SLURM's need slurm)"),
        LauncherConfig,
    )
    return p


def add_store_options(p: argparse.ArgumentParser) -> None:
    """Where runs and checkpoints are kept."""
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
    p.add_argument(
        "--workers",
        type=int,
        help="worker processes on this machine, pulling cells from the sweep, the cores split "
        "between them on a CPU (default on a CPU: one, or one per core where the projection "
        "times that clearly faster; with GPUs, spread over them); with --launcher "
        "slurm, the array job's tasks (default: one per cell left)",
    )
    p.add_argument(
        "--jobs-per-gpu",
        type=int,
        help="at most this many workers on one GPU (small nets cannot fill a big GPU alone); "
        "--workers defaults to GPUs x this",
    )


def launcher_from_args(args: argparse.Namespace) -> LauncherConfig:
    given = overrides(args, LauncherConfig)
    launcher = build_launcher(args.preset, given)
    if launcher.cluster:
        if args.jobs_per_gpu is not None:
            raise InputError("--jobs-per-gpu is for local launches; give SLURM --gpus-per-task")
        tasks = launcher.tasks if args.workers is None else args.workers
        return dataclasses.replace(launcher, tasks=tasks)
    for flag in given_flags(args, LauncherConfig):
        if flag != "--launcher":
            raise InputError(f"{flag} needs --launcher slurm (or a preset's [launcher] kind)")
    return launcher


def sweep_from_args(args: argparse.Namespace) -> SweepConfig:
    sweep = build_sweep(args.preset, overrides(args, SweepConfig), run_overrides(args))
    schedule = sweep.shared.schedule
    if args.milestones is not None and schedule != "step":
        raise InputError(f"--milestones needs the step schedule; this preset uses {schedule}")
    return sweep


def tune_from_args(args: argparse.Namespace) -> TuneConfig | None:
    """The preset's tuning as the flags ask for it; None when the sweep is not tuned."""
    if args.tune and args.use_tuned:
        raise InputError("--tune and --use-tuned exclude each other (--tune already uses them)")
    for flag in given_flags(args, TuneConfig):
        if not args.tune:
            raise InputError(
                f"{flag} needs --tune" + ("; --use-tuned runs no trials" * args.use_tuned)
            )
    if not (args.tune or args.use_tuned):
        return None
    return build_tune(args.preset, overrides(args, TuneConfig))


@dataclass(frozen=True)
class Settings:
    """What the flags ask for, checked: the sweep, its tuning, where it runs and is kept."""

    sweep: SweepConfig
    tune: TuneConfig | None
    launcher: LauncherConfig
    tracking_uri: str
    storage: str | None  # None: the default beside the MLflow store


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The checked settings; the sweep last, since a valid one with "auto" precision asks the
    device (torch) which precision it runs natively."""
    tune, launcher = tune_from_args(args), launcher_from_args(args)
    tracking_uri = resolve_tracking_uri(args.tracking_uri)
    storage = None if args.storage is None else checked_address(args.storage, "--storage")
    return Settings(sweep_from_args(args), tune, launcher, tracking_uri, storage)


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
        settings = settings_from_args(args)
    except CHECKED_HERE as exc:
        return bad_input(PROG, masked(str(exc)))
    from resnet.cli.sweep_job import run_checked  # torch, MLflow, Optuna and pandas from here

    return run_checked(args, settings)


if __name__ == "__main__":
    sys.exit(main())
