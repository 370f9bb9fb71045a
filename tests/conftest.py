import os

# pytest-xdist runs one test process per core; each of them (and every sweep a test starts)
# keeps to one thread, as more OpenMP threads than cores spin against each other. Set before
# torch is imported, which reads it then.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import contextlib
import shutil
import sqlite3
from pathlib import Path

import pytest

from resnet.core.data import load


@pytest.fixture(scope="session")
def synthetic16():
    """The smoke preset's data set: generated 3x16x16 images, 10 classes."""
    return load("synthetic", image_size=16)


@pytest.fixture(scope="session")
def empty_store_template(tmp_path_factory) -> Path:
    """An MLflow SQLite store as MLflow creates it: its tables, and the Default experiment.
    MLflow makes a new store by running every migration, seconds of CPU each time; tests about
    something else start from a copy of this one (test_smoke_sweep_end_to_end and
    test_processes_opening_one_new_store_at_once_all_succeed still create theirs)."""
    from mlflow import MlflowClient

    made = tmp_path_factory.mktemp("store-template")
    MlflowClient(f"sqlite:///{made / 'made.db'}").search_experiments()
    template = made / "mlflow.db"
    with (
        contextlib.closing(sqlite3.connect(made / "made.db")) as source,
        contextlib.closing(sqlite3.connect(template)) as copy,
    ):
        source.backup(copy)  # one self-contained file, whatever MLflow keeps open
    return template


@pytest.fixture
def new_store(empty_store_template):
    """`new_store(folder)`: folder/mlflow.db, as MLflow creates it for a process working in
    folder's parent (its Default experiment's artifacts in folder/0), with nothing else."""

    def make(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        db = folder / "mlflow.db"
        assert not db.exists()
        shutil.copyfile(empty_store_template, db)
        with contextlib.closing(sqlite3.connect(db)) as connection, connection:
            connection.execute(
                "UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0",
                (str(folder.resolve() / "0"),),
            )
        return db

    return make


@pytest.fixture
def store_workdir(workdir, new_store):
    """`workdir` with its default store ./mlruns/mlflow.db already created (empty)."""
    new_store(workdir / "mlruns")
    return workdir


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty working directory, so the default ./mlruns store is the test's own."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(autouse=True)
def no_tracking_uri_from_earlier_tests():
    """MLflow's set_tracking_uri (the analysis calls it) also sets MLFLOW_TRACKING_URI: each
    test starts and ends without it, so that no sweep a later test starts uses that store."""
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    yield
    os.environ.pop("MLFLOW_TRACKING_URI", None)
