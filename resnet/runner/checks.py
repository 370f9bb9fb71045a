"""What a sweep's stores and data must allow, checked before any compute and before anything is
written: each failure is a `SetupError` whose message is the one line the user sees."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import optuna
from optuna.storages.journal._storage import JournalOperation

from resnet.core.batches import batch_problem
from resnet.core.config import SweepConfig
from resnet.core.data import Dataset
from resnet.paths import (
    READ_FOLDER,
    WRITE_FILE,
    WRITE_FOLDER,
    is_missing,
    name_problem,
    path_problem,
    shown,
)
from resnet.runner.storage import is_database, open_storage
from resnet.runner.tuning import study_name
from resnet.tracking.address import database_problem, first_line, is_database_url, masked
from resnet.tracking.client import answering_quickly
from resnet.tracking.database import sqlite_problem
from resnet.tracking.failures import causes
from resnet.tracking.store import Store, sqlite_path

JOURNAL_OPERATIONS = {operation.value for operation in JournalOperation}  # Optuna's op codes


class SetupError(ValueError):
    """A store, folder or data set that cannot take the sweep; one line, password hidden."""


def folder_problem(folder: Path) -> str | None:
    """Why files cannot be written in `folder` (a file stands there, its name is too long, or
    the nearest folder that exists is not writable), else None."""
    problem = path_problem(folder, WRITE_FOLDER)
    return None if problem is None else f"{shown(folder)}: {problem}"


def check_writable(uri: str) -> None:
    """A local store must be a new file or an MLflow store, in a folder (runs, artifacts,
    checkpoints) we can write."""
    db = sqlite_path(uri)
    problem = folder_problem(db.parent) if db is not None else None
    if problem is not None:
        raise SetupError(
            f"tracking URI {masked(shown(uri))!r}: {problem}; the MLflow store and checkpoints "
            "need a writable folder there (or give another --tracking-uri)"
        )
    problem = sqlite_problem(uri, writes=True)
    if problem is not None:
        raise SetupError(f"tracking URI {masked(shown(uri))!r} cannot be used: {problem}")


def check_checkpoint_dir(folder: Path | None) -> None:
    problem = folder_problem(folder) if folder is not None else None
    if problem is not None:
        raise SetupError(f"--checkpoint-dir {problem}; a writable folder is needed there")


def check_slurm_logs(folder: Path) -> None:
    """The SLURM tasks' log folder: made and written by the launcher before it submits."""
    problem = folder_problem(folder)
    if problem is not None:
        raise SetupError(f"--slurm-logs {problem}; a writable folder is needed there")


def check_data_dir(folder: Path) -> None:
    """A data folder to read; a missing one is left to the loader (a download makes it, or
    it says where the data set was looked for)."""
    problem = name_problem(folder)
    if problem is None and not is_missing(folder):
        problem = path_problem(folder, READ_FOLDER)
    if problem is not None:
        raise SetupError(f"--data-dir {shown(folder)}: {problem}")


def check_journal_file(path: Path) -> None:
    """A journal path we can create, or an Optuna journal already there (a cut last line
    repaired): never a user's other file, which the journal would append to."""
    problem = path_problem(path, WRITE_FILE)
    if problem is not None:
        raise SetupError(f"--storage {shown(path)}: {problem}; a journal file is needed there")
    if path.exists():
        check_journal_records(path)
    folder = next(p for p in path.parents if p.exists())  # made later where missing
    try:  # a file that vanishes when closed: nothing is left
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise SetupError(f"--storage {shown(path)}: cannot write there ({exc.strerror})") from None


def check_journal_records(path: Path) -> None:
    """Every line of the journal is one of Optuna's records. A last line cut short (what a kill
    or a full disk in the middle of a write leaves: Optuna writes each record whole, then its
    newline) is cut off, with a one-line notice; a bad line anywhere else is a SetupError
    naming it, since what follows it may depend on it."""
    complete = 0  # bytes up to the end of the last whole record
    with path.open("rb") as journal:
        for number, line in enumerate(journal, 1):
            if line.endswith(b"\n") and is_journal_line(line):
                complete += len(line)
                continue
            if not line.endswith(b"\n") and not journal.read(1):  # the last line, cut
                break
            what = (
                "this file is not an Optuna journal"
                if number == 1
                else (f"line {number} is not an Optuna journal record")
            )
            raise SetupError(f"--storage {shown(path)}: {what}; give a new path or a journal")
        else:
            return
    with path.open("r+b") as journal:
        journal.truncate(complete)
    print(
        f"{shown(path)}: its last record was cut short (a write interrupted by a kill or a full "
        "disk); removed it, the records before it are intact",
        file=sys.stderr,
    )


def is_journal_line(line: bytes) -> bool:
    try:
        record = json.loads(line)
    except ValueError:
        return False
    known = isinstance(record, dict) and record.get("op_code") in JOURNAL_OPERATIONS
    return known and "worker_id" in record


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
        raise SetupError(
            f"--storage {masked(storage)!r} cannot be opened ({problem}); allowed: a "
            "database URL such as postgresql://user@host/db, or a journal "
            "file path"
        )


def check_studies_exist(sweep: SweepConfig, storage: str) -> None:
    """`--use-tuned` needs the tuning study of every (arch, depth) of the sweep."""
    if not is_database(storage) and not Path(storage).is_file():
        raise SetupError(f"--use-tuned: no Optuna storage at {masked(storage)} (run --tune first)")
    known = {s.study_name for s in optuna.get_all_study_summaries(open_storage(storage))}
    for cell in sweep.cells():
        name = study_name(sweep.experiment_name, cell.arch, cell.depth)
        if name not in known:
            shown = masked(storage)
            raise SetupError(f"--use-tuned: no study {name!r} in {shown} (run --tune first)")


def check_fits(sweep: SweepConfig, dataset: Dataset) -> None:
    problem = batch_problem(sweep.shared.batch_size, len(dataset.train))
    if problem:
        raise SetupError(problem)


# Warns before its error when a databricks URI has no credentials: the error is the one line
DATABRICKS_LOGGER = "mlflow.utils.databricks_utils"


@contextlib.contextmanager
def quiet(name: str) -> Iterator[None]:
    """The logger `name` says nothing below an error while the block runs."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def open_store(uri: str, checkpoints: Path | None = None) -> Store:
    """The MLflow store, read once so that a bad URI is one line of error, not a traceback
    (its folder is checked with `check_writable` before any data is loaded)."""
    try:
        problem = database_problem(uri) if is_database_url(uri) else None  # MLflow would retry
        if problem is None:
            with answering_quickly(), quiet(DATABRICKS_LOGGER):
                store = Store(uri, checkpoints)
                store.check()
    except Exception as exc:
        if any(isinstance(cause, KeyboardInterrupt) for cause in causes(exc)):
            # Ctrl-C inside a database call, where closing the session raised in its stead
            raise KeyboardInterrupt from None
        problem = first_line(exc).split(". ")[0]
    if problem is not None:
        raise SetupError(
            f"tracking URI {masked(uri)!r} cannot be opened ({problem}); "
            "allowed: sqlite:///path/to/mlflow.db, a database URL or http://host:port"
        )
    return store
