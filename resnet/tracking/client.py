"""An MLflow client that several processes can open on one new SQLite store at once.

MLflow's client creates a new database's tables (or upgrades an old one's) as it is made; two
processes doing that together (a launcher and a worker joining it) fail with "duplicate column
name". A lock on the database's folder lets one do it at a time.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
from mlflow import MlflowClient

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a local SQLite tracking URI, else None."""
    prefix = "sqlite:///"
    return Path(uri[len(prefix) :]) if uri.startswith(prefix) else None


def absolute_uri(uri: str) -> str:
    """A local SQLite URI with its path made absolute (MLflow caches stores by URI: a relative
    one would follow the first working folder); any other URI as it is."""
    db = sqlite_path(uri)
    return uri if db is None else f"sqlite:///{db.resolve()}"


# MLflow's own defaults retry a request 7 times with backoff up to 2 minutes each: a server that
# died mid-sweep left the sweep silent for many minutes. These ride out a restart (about 15 s of
# retries) and then fail, so the sweep stops in one line; a user's own settings win.
HTTP_RETRIES = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "4",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
}


def mlflow_client(uri: str) -> MlflowClient:
    """A client of this tracking URI; a SQLite one is opened under the lock of its folder."""
    db = sqlite_path(uri)
    if db is None:
        if uri.startswith(("http://", "https://")):
            bound_http_retries()
        return MlflowClient(tracking_uri=uri)
    with folder_lock(db.parent):
        return MlflowClient(tracking_uri=uri)


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock on a folder, held by one process at a time on this machine."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def bound_http_retries() -> None:
    for name, value in HTTP_RETRIES.items():
        os.environ.setdefault(name, value)  # the workers a sweep starts inherit them


@contextmanager
def answering_quickly() -> Iterator[None]:
    """An MLflow server must answer within the database connect timeout, without MLflow's
    retries (minutes of them by default), inside the block: the first look at a store says at
    once that it is unreachable."""
    quick = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}
    bound_http_retries()  # what holds after the block
    saved = {key: os.environ.get(key) for key in quick}
    os.environ.update(quick)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def fluent_uri(uri: str) -> Iterator[None]:
    """MLflow's module-level functions (log_model) write to this URI inside the block; the
    global URI and MLFLOW_TRACKING_URI, which child processes inherit, are as before after it."""
    before = mlflow.get_tracking_uri() if mlflow.is_tracking_uri_set() else None
    env = os.environ.get(TRACKING_URI_ENV)
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(before)
        if env is None:
            os.environ.pop(TRACKING_URI_ENV, None)
        else:
            os.environ[TRACKING_URI_ENV] = env
