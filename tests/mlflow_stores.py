"""New MLflow SQLite stores for tests, without MLflow's seconds of migrations each time.

MLflow creates a new store by running every migration of its schema, seconds of CPU. Tests
whose subject is something else start from a copy of one store made once per test process
(the shared smoke sweep of smoke_sweep.py and
test_processes_opening_one_new_store_at_once_all_succeed still have MLflow create theirs)."""

import atexit
import contextlib
import shutil
import sqlite3
import tempfile
from functools import cache
from pathlib import Path


@cache
def template() -> Path:
    """A store as MLflow creates it: its tables and the Default experiment, nothing else."""
    from mlflow import MlflowClient

    made = Path(tempfile.mkdtemp(prefix="mlflow-store-template-"))
    atexit.register(shutil.rmtree, made, ignore_errors=True)
    MlflowClient(f"sqlite:///{made / 'made.db'}").search_experiments()
    with (
        contextlib.closing(sqlite3.connect(made / "made.db")) as source,
        contextlib.closing(sqlite3.connect(made / "mlflow.db")) as copy,
    ):
        source.backup(copy)  # one self-contained file, whatever MLflow keeps open
    return made / "mlflow.db"


def new_store(folder: Path) -> Path:
    """folder/mlflow.db as MLflow creates it for a process working in folder's parent (the
    Default experiment's artifacts in folder/0)."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "mlflow.db"
    assert not db.exists(), f"{db} exists already"
    shutil.copyfile(template(), db)
    with contextlib.closing(sqlite3.connect(db)) as connection, connection:
        connection.execute(
            "UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0",
            (str(folder.resolve() / "0"),),
        )
    return db
