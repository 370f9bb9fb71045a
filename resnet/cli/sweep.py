"""Command line of the depth sweep: parse, validate everything, then run.

Bad input is one line on stderr and exit code 2, before any compute and before anything is
written to the MLflow store.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import optuna
import pandas as pd
import torch

from resnet.cli.common import (
    EXIT_BAD_INPUT,
    InputError,
    OneLineParser,
    check_device,
    comma_list,
    folder_problem,
)
from resnet.cli.presets import build_sweep, build_tune, preset_names, read_preset
from resnet.core.allocator import keep_freed_memory
from resnet.core.config import ConfigError, RunConfig, SweepConfig
from resnet.core.data import DataError, Dataset
from resnet.core.device import device_name, resolve_device
from resnet.core.precision import AUTO, native_precision, slow_precision_warning
from resnet.core.train import load_data
from resnet.runner.estimate import Projection, compile_pays_back, human_duration, project
from resnet.runner.interrupt import StopRequest
from resnet.runner.storage import (
    DASHBOARD_URL,
    dashboard_command,
    default_storage,
    is_database,
    open_storage,
)
from resnet.runner.sweep import SweepOptions, SweepResult, Tuning, prepare_sweep, run_sweep
from resnet.runner.tuning import space_problem, study_name, trial_budget
from resnet.runner.workers import PlacementError, plan, run_workers
from resnet.tracking.address import database_problem, first_line, is_database_url, masked
from resnet.tracking.schema import Tag
from resnet.tracking.store import (
    Store,
    lease,
    resolve_tracking_uri,
    runs_url,
    sqlite_path,
    ui_command,
)

NO_PROJECTION_ENV = "DEPTH_SWEEP_NO_PROJECTION"  # "1": as --no-projection


def make_parser() -> OneLineParser:
    p = OneLineParser(
        prog="depth_sweep.py",
        description="Train plain and residual nets of several depths; track every run in MLflow. "
        "Every value not given here comes from the preset.",
    )
    p.add_argument(
        "--preset",
        default="quick",
        help=f"{', '.join(preset_names())}, or a path to a preset .toml (default: quick)",
    )
    add_run_options(p)
    add_store_options(p)
    add_work_options(p)
    return p


def add_run_options(p: argparse.ArgumentParser) -> None:
    """What the nets are and how they train: each overrides the preset."""
    p.add_argument("--archs", type=comma_list(str, "--archs"), help="e.g. plain,residual")
    p.add_argument("--depths", type=comma_list(int, "--depths"), help="6n+2, e.g. 20,32,44,56")
    p.add_argument("--seeds", type=comma_list(int, "--seeds"), help="e.g. 0,1,2")
    p.add_argument("--dataset", help="cifar10, fashion-mnist, imagefolder or synthetic")
    p.add_argument("--data-dir", help="where data sets are read or downloaded (default: data)")
    p.add_argument("--image-size", type=int, help="resize images to this size (square)")
    p.add_argument("--train-subset", type=int, help="train on this many training images")
    p.add_argument("--shortcut", help="A (zero-padding identity, default) or B (projection)")
    p.add_argument(
        "--flip",
        action=argparse.BooleanOptionalAction,
        help="random horizontal flips of the training images (default: preset)",
    )
    p.add_argument("--iterations", type=int)
    p.add_argument("--warmup-iterations", type=int, help="linear lr warm-up before the schedule")
    p.add_argument(
        "--milestones",
        type=comma_list(int, "--milestones"),
        help="iterations where the step schedule multiplies the lr by the preset's gamma (0.1)",
    )
    p.add_argument("--lr", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:N")
    p.add_argument(
        "--precision", help="fp32, bf16 (autocast) or auto (bf16 where the device has it natively)"
    )
    p.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        help="torch.compile the training step, with CUDA graphs on a GPU (worth it for long "
        "runs; each net compiles first; default: on a CPU, when a net trains for 20 minutes "
        "or more over its seeds, else off)",
    )


def add_store_options(p: argparse.ArgumentParser) -> None:
    """Where runs and checkpoints are kept."""
    p.add_argument("--experiment", help="MLflow experiment name (default: depth-<preset>-<data>)")
    p.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI (default: MLFLOW_TRACKING_URI, else sqlite:///mlruns/mlflow.db)",
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
    p.add_argument("--force", action="store_true", help="rerun cells that already finished")
    p.add_argument(
        "--tune",
        action="store_true",
        help="first tune the preset's [tune.space] (default: lr and weight decay) per "
        "(arch, depth) with Optuna, then train the cells with the best values",
    )
    p.add_argument(
        "--use-tuned",
        action="store_true",
        help="train the cells with the best values of earlier --tune studies",
    )
    p.add_argument("--trials", type=int, help="trials per study, in total (default: preset)")
    p.add_argument(
        "--storage",
        help="Optuna storage that holds the sweep's cells and tuning studies: a database URL "
        "(postgresql://user@host/db, its password from PGPASSWORD or ~/.pgpass; shared by "
        "workers on several machines) or a "
        "journal file (default: mlruns/optuna-journal.log beside the MLflow store)",
    )
    p.add_argument(
        "--workers",
        type=int,
        help="worker processes on this machine, pulling cells from the sweep (default: 1; "
        "with GPUs, spread over them; on CPU, the cores split between them)",
    )
    p.add_argument(
        "--jobs-per-gpu",
        type=int,
        help="at most this many workers on one GPU (small nets cannot fill a big GPU alone); "
        "--workers defaults to GPUs x this",
    )
    p.add_argument("--join", type=int, help=argparse.SUPPRESS)  # worker N of a launch
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument(
        "--no-system-metrics",
        action="store_true",
        help="do not log CPU, memory and GPU use to each net's run (MLflow's system metrics, "
        "every 10 s while it trains)",
    )
    p.add_argument(
        "--no-report",
        action="store_true",
        help="skip the report (figures, table, verdict) written at the end; "
        "python -m analysis.report --experiment NAME writes it later",
    )
    p.add_argument(
        "--no-projection",
        action="store_true",
        default=os.environ.get(NO_PROJECTION_ENV) == "1",
        help="start training at once, without timing a few steps per net to project the "
        f"sweep's time (and so without compiling by itself); {NO_PROJECTION_ENV}=1 does the "
        "same, for scripts that run many short sweeps",
    )


RUN_OVERRIDES = (
    "dataset",
    "data_dir",
    "image_size",
    "train_subset",
    "shortcut",
    "flip",
    "iterations",
    "warmup_iterations",
    "milestones",
    "lr",
    "weight_decay",
    "batch_size",
    "device",
    "precision",
    "compile",
)


def sweep_from_args(args: argparse.Namespace) -> SweepConfig:
    sweep_overrides = {k: getattr(args, k) for k in ("archs", "depths", "seeds", "experiment")}
    run_overrides = {k: getattr(args, k) for k in RUN_OVERRIDES}
    if run_overrides["milestones"] is not None:
        run_overrides["milestones"] = tuple(run_overrides["milestones"])
    sweep = build_sweep(args.preset, sweep_overrides, run_overrides)
    schedule = sweep.cells()[0].schedule
    if args.milestones is not None and schedule != "step":
        raise InputError(f"--milestones needs the step schedule; this preset uses {schedule}")
    return sweep


def announce_precision(asked: str | None, cell: RunConfig) -> None:
    """What "auto" chose, or a warning for bf16 where it is emulated."""
    device = resolve_device(cell.device)
    if asked == AUTO:
        print(f"precision auto: {' because '.join(native_precision(device))}", file=sys.stderr)
    warning = slow_precision_warning(device, cell.precision)
    if warning:
        print(warning, file=sys.stderr)


def asked_precision(args: argparse.Namespace) -> str | None:
    return args.precision or read_preset(args.preset)[2].get("precision")


def tuning_from_args(args: argparse.Namespace, sweep: SweepConfig, storage: str) -> Tuning | None:
    """How the sweep is tuned, checked before anything runs; None when it is not."""
    if args.tune and args.use_tuned:
        raise InputError("--tune and --use-tuned exclude each other (--tune already uses them)")
    if args.use_tuned and args.trials is not None:
        raise InputError("--trials needs --tune; --use-tuned runs no trials")
    if not (args.tune or args.use_tuned):
        if args.trials is not None:
            raise InputError("--trials needs --tune")
        return None
    tune = build_tune(args.preset, {"trials": args.trials})
    problem = space_problem(tune, sweep.cells()[0])
    if problem:
        raise ConfigError(problem)
    if args.use_tuned:
        check_studies_exist(sweep, storage)
    return Tuning(tune, run_trials=args.tune)


def check_studies_exist(sweep: SweepConfig, storage: str) -> None:
    if not is_database(storage) and not Path(storage).is_file():
        raise InputError(f"--use-tuned: no Optuna storage at {masked(storage)} (run --tune first)")
    known = {s.study_name for s in optuna.get_all_study_summaries(open_storage(storage))}
    for cell in sweep.cells():
        name = study_name(sweep.experiment_name, cell.arch, cell.depth)
        if name not in known:
            shown = masked(storage)
            raise InputError(f"--use-tuned: no study {name!r} in {shown} (run --tune first)")


def check_fits(sweep: SweepConfig, dataset: Dataset) -> None:
    batch_size = sweep.cells()[0].batch_size
    if batch_size > len(dataset.train):
        raise InputError(
            f"batch size {batch_size} exceeds the {len(dataset.train)} training images"
        )


def check_writable(uri: str) -> None:
    """A local store's folder (runs, artifacts, checkpoints) must be a folder we can write."""
    db = sqlite_path(uri)
    problem = folder_problem(db.parent) if db is not None else None
    if problem is not None:
        raise InputError(
            f"{problem}; the MLflow store and checkpoints need a writable folder "
            "there (or give --tracking-uri)"
        )


def check_checkpoint_dir(folder: Path | None) -> None:
    problem = folder_problem(folder) if folder is not None else None
    if problem is not None:
        raise InputError(f"--checkpoint-dir: {problem}; a writable folder is needed there")


def open_store(uri: str, checkpoints: Path | None = None) -> Store:
    """The MLflow store, read once so that a bad URI is one line of error, not a traceback
    (`main` has checked its folder with `check_writable` before loading any data)."""
    quick_failure = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
    saved = {k: os.environ.get(k) for k in quick_failure}
    os.environ.update(quick_failure)
    try:
        problem = database_problem(uri) if is_database_url(uri) else None  # MLflow would retry
        if problem is None:
            store = Store(uri, checkpoints)
            store.check()
    except Exception as exc:
        problem = first_line(exc).split(". ")[0]
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if problem is not None:
        raise InputError(
            f"tracking URI {masked(uri)!r} cannot be opened ({problem}); "
            "allowed: sqlite:///path/to/mlflow.db, a database URL or http://host:port"
        )
    return store


def cells_to_run(sweep: SweepConfig, store: Store, force: bool) -> list[RunConfig]:
    """The cells without a FINISHED run (all with `force`); read only, nothing is created."""
    cells = sweep.cells()
    experiment = store.client.get_experiment_by_name(sweep.experiment_name)
    if force or experiment is None:
        return cells
    return [c for c in cells if store.finished_run(experiment.experiment_id, c) is None]


def trials_to_run(sweep: SweepConfig, tuning: Tuning | None, storage: str) -> list[RunConfig]:
    """One config (with the trial budget) per tuning trial still wanted."""
    if tuning is None or not tuning.run_trials:
        return []
    done = {}
    if is_database(storage) or Path(storage).is_file():
        summaries = optuna.get_all_study_summaries(open_storage(storage))
        done = {s.study_name: s.n_trials for s in summaries}
    trials, seen = [], set()
    for cell in sweep.cells():
        if (cell.arch, cell.depth) in seen:
            continue
        seen.add((cell.arch, cell.depth))
        name = study_name(sweep.experiment_name, cell.arch, cell.depth)
        wanted = max(0, tuning.tune.trials - done.get(name, 0))
        trials += [trial_budget(cell, tuning.tune)] * wanted
    return trials


def print_projection(
    sweep: SweepConfig,
    dataset: Dataset,
    store: Store,
    storage: str,
    options: SweepOptions,
    workers: int,
) -> Projection | None:
    """How long the sweep will take here, from a few timed steps per net, before it starts;
    None when it has nothing left to train."""
    cells = cells_to_run(sweep, store, options.force)
    trials = trials_to_run(sweep, options.tuning, storage)
    if not cells and not trials:
        return None
    device = resolve_device(sweep.cells()[0].device)
    if sweep.cells()[0].compile:
        print("Compiling each net to time it for the projection ...", file=sys.stderr)
    projection = project(cells, trials, dataset)
    runs = f"{human_duration(projection.training)} for {plural(projection.runs, 'run')}"
    if projection.trials:
        tuning_part = (
            f"up to {human_duration(projection.tuning)} for {plural(projection.trials, 'trial')}"
        )
        runs = f"{human_duration(projection.seconds)}: {tuning_part} of tuning + {runs}"
    shared = ""
    if workers > 1:
        shared = (
            f"; {workers} workers share it: at best {human_duration(projection.seconds / workers)}"
        )
    print(
        f"Projected on {device_name(device)}: {runs} in one process (from a few timed steps "
        f"per net){shared}",
        file=sys.stderr,
    )
    advice = projection_advice(sweep, device, projection.seconds / workers, workers)
    if advice:
        print(advice, file=sys.stderr)
    return projection


LONG_SWEEP_SECONDS = 3600  # a projection above this says what would shorten it


def projection_advice(
    sweep: SweepConfig, device: torch.device, seconds: float, workers: int
) -> str | None:
    """What would shorten a long sweep, from what it does not use yet: never the preset that
    is running, nor a flag it already has."""
    if seconds <= LONG_SWEEP_SECONDS:
        return None
    ideas = []
    if device.type == "cpu":
        ideas.append("a GPU (--device cuda)")
    elif workers == 1:
        ideas.append("several workers on the GPU (--jobs-per-gpu 4)")
    if len(sweep.seeds) > 1:
        ideas.append("fewer seeds (--seeds)")
    if len(sweep.depths) > 2:
        shallow, deep = min(sweep.depths), max(sweep.depths)
        ideas.append(f"fewer depths (--depths {shallow},{deep})")
    if sweep.preset != "quick":
        ideas.append("the short study (--preset quick)")
    if not ideas:
        return None
    return f"That is long for {device_name(device)}. What would shorten it: {'; '.join(ideas)}."


def release_device_memory() -> None:
    """A launcher only waits for its workers once the projection is printed: the GPU memory of
    the nets it timed (and of their compiled code and CUDA graphs) goes back, for the workers."""
    if torch.cuda.is_initialized():
        torch._dynamo.reset()
        torch.cuda.empty_cache()


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def print_watch_link(store: Store, sweep: SweepConfig) -> None:
    """Where to watch the runs while they train (the sweep's experiment is made now if new)."""
    link = runs_url(store.uri, store.experiment_id(sweep.experiment_name))
    if store.uri.startswith("http"):
        print(f"Watch the runs live: {link}")
    else:
        print(f"Watch the runs live: start `{ui_command(store.uri)}`, then open {link}")


def print_summary(rows: list[dict], uri: str, experiment_id: str) -> None:
    table = pd.DataFrame(rows).drop(columns=["run_id"], errors="ignore")
    for column in table.select_dtypes("float").columns:  # 4 decimals; blank where not known
        table[column] = table[column].map(lambda v: "" if pd.isna(v) else f"{v:.4f}")
    print(table.fillna("").to_string(index=False))
    print(f"\nBrowse the runs:\n  {ui_command(uri)}\n  {runs_url(uri, experiment_id)}")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = make_parser().parse_args(argv)
        sweep = sweep_from_args(args)
        check_device(sweep.cells()[0].device)
        uri = resolve_tracking_uri(args.tracking_uri)
        storage = args.storage or default_storage(uri)
        check_writable(uri)
        check_checkpoint_dir(args.checkpoint_dir)
        check_storage(storage)
        tuning = tuning_from_args(args, sweep, storage)
        placements = placements_from_args(args, sweep)
        dataset = load_data(sweep.cells()[0])
        check_fits(sweep, dataset)
        store = open_store(uri, args.checkpoint_dir)
    except (InputError, ConfigError, DataError, PlacementError) as exc:
        print(f"depth_sweep.py: error: {masked(str(exc))}", file=sys.stderr)
        return EXIT_BAD_INPUT

    keep_freed_memory()
    options = sweep_options(args, storage, tuning)
    if args.join is None:
        announce_precision(asked_precision(args), sweep.cells()[0])
        workers = len(placements or [1])
        projection = None
        if not args.no_projection:
            projection = print_projection(sweep, dataset, store, storage, options, workers)
        if args.compile is None and projection and compile_pays_back(projection, device_of(sweep)):
            sweep, argv = compiled(sweep, argv)
        print_watch_link(store, sweep)
    if placements is not None:
        release_device_memory()
        return launch_sweep(args, argv, sweep, store, storage, placements)
    try:
        with StopRequest().installed() as stop:
            result = run_sweep(sweep, store, storage, dataset, options, stop)
    except KeyboardInterrupt:
        if args.join is None:  # a launch's worker: the launcher says it once
            print(INTERRUPTED, file=sys.stderr)
        return 130
    if args.join is None:
        finish(args, sweep, uri, storage, result)
    return 1 if result.crashed else 0


def device_of(sweep: SweepConfig) -> torch.device:
    return resolve_device(sweep.cells()[0].device)


def compiled(sweep: SweepConfig, argv: list[str]) -> tuple[SweepConfig, list[str]]:
    """The sweep with torch.compile on (its workers' command line too), said once."""
    print(
        "Compiling each net (torch.compile): one of them trains for 20 minutes or more here, "
        "which pays the compilation back; --no-compile trains eager.",
        file=sys.stderr,
    )
    return dataclasses.replace(sweep, run={**sweep.run, "compile": True}), [*argv, "--compile"]


INTERRUPTED = (
    "\nInterrupted: finished runs are kept, an interrupted one resumes from its "
    "checkpoint; rerun the same command to do the rest."
)


def finish(
    args: argparse.Namespace, sweep: SweepConfig, uri: str, storage: str, result: SweepResult
) -> None:
    print_summary(result.rows, uri, result.experiment_id)
    if args.tune or args.use_tuned:
        print(f"Browse the tuning studies ({DASHBOARD_URL}): {dashboard_command(storage)}")
    if not args.no_report:
        report_sweep(sweep.experiment_name, uri, result.parent_run_id)


def sweep_options(args: argparse.Namespace, storage: str, tuning: Tuning | None) -> SweepOptions:
    return SweepOptions(
        force=args.force,
        progress=not args.no_progress,
        tuning=tuning,
        join=args.join is not None,
        worker=worker_key(args, storage),
        system_metrics=not args.no_system_metrics,
    )


def worker_key(args: argparse.Namespace, storage: str) -> str:
    """What sets this process's tuning samples apart from other workers': its number in a
    launch; on a shared database, the process itself; alone, nothing (reproducible)."""
    shared = is_database(storage)  # one that workers on other machines may share
    if args.join is not None:
        return f"{socket.gethostname()} worker {args.join}" if shared else f"worker {args.join}"
    return lease()[Tag.OWNER] if shared else ""


def placements_from_args(args: argparse.Namespace, sweep: SweepConfig) -> list | None:
    """Where each worker of a launch runs; None for a single process (the default)."""
    if args.join is not None or (args.workers in (None, 1) and args.jobs_per_gpu is None):
        return None
    if args.jobs_per_gpu is not None and args.jobs_per_gpu < 1:
        raise InputError(f"--jobs-per-gpu must be at least 1, got {args.jobs_per_gpu}")
    device = resolve_device(sweep.cells()[0].device)
    gpus = []
    if device.type == "cuda":
        gpus = (
            [device.index] if device.index is not None else list(range(torch.cuda.device_count()))
        )
    workers = (
        args.workers if args.workers is not None else max(1, len(gpus) * (args.jobs_per_gpu or 1))
    )
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return plan(workers, device.type, gpus, cores or 1, args.jobs_per_gpu)


def launch_sweep(args, argv, sweep: SweepConfig, store: Store, storage: str, placements) -> int:
    """Set the sweep up, run its workers, then summarise it as a single process would."""
    started = time.time()
    cells = sweep.cells()
    tuned = args.tune or args.use_tuned
    try:
        queue, sweep_run = prepare_sweep(sweep, store, storage, args.force, tuned)
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        return 130
    codes, interrupted, stopped = run_workers(
        argv, placements, queue, len(cells), not args.no_progress
    )
    rows = queue.rows(cells, started)
    for number, code in enumerate(codes, 1):
        if code not in (0, 1) and not interrupted and number not in stopped:
            print(
                f"worker {number} ended with exit code {code}; its cell went back to the queue",
                file=sys.stderr,
            )
    if interrupted:
        sweep_run.finish(rows, status="KILLED")
        print(INTERRUPTED, file=sys.stderr)
        return 130
    sweep_run.finish(rows)
    result = SweepResult(sweep_run.experiment_id, sweep_run.run_id, rows)
    finish(args, sweep, store.uri, storage, result)
    return 1 if result.crashed else 0


def check_journal_file(path: Path) -> None:
    """A journal path we can create, or an Optuna journal already there: never a user's other
    file, which the journal would append to."""
    if path.is_dir() or any(p.exists() and not p.is_dir() for p in path.parents):
        raise InputError(f"--storage {path}: a journal file is needed there")
    if path.exists():
        with path.open("rb") as journal:
            first = journal.readline()
        if first.strip() and not is_journal_line(first):
            raise InputError(
                f"--storage {path}: this file is not an Optuna journal; give a new "
                "path or a journal"
            )
    folder = next(p for p in path.parents if p.exists())  # made later where missing
    try:  # a file that vanishes when closed: nothing is left
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise InputError(f"--storage {path}: cannot write there ({exc.strerror})") from None


def is_journal_line(line: bytes) -> bool:
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and "op_code" in record


def check_storage(storage: str) -> None:
    """The Optuna storage must open: a database that answers, or a journal file we can write."""
    if not is_database(storage):
        check_journal_file(Path(storage))
        return
    try:
        problem = database_problem(storage)  # once, quickly: Optuna would retry
        if problem is None:
            open_storage(storage)
    except Exception as exc:
        problem = first_line(exc)
    if problem is not None:
        raise InputError(
            f"--storage {masked(storage)!r} cannot be opened ({problem}); allowed: a "
            "database URL such as postgresql://user@host/db, or a journal "
            "file path"
        )


def report_sweep(experiment: str, uri: str, sweep_run_id: str) -> None:
    """The analysis report of the sweep just run; a failure here loses no run, so it warns."""
    from analysis.report import print_written, write_report

    try:
        written = write_report(experiment, uri, sweep_run_id)
    except Exception as exc:
        print(
            f"warning: the report could not be written ({type(exc).__name__}: {exc}); "
            f"retry with: python -m analysis.report --experiment '{experiment}'",
            file=sys.stderr,
        )
        return
    print()
    print_written(written)


if __name__ == "__main__":
    sys.exit(main())
