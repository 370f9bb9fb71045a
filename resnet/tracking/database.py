"""What a local MLflow database must be before a command opens it. MLflow's client creates its
tables in any SQLite file it is given, and upgrades or stamps what it finds, so these checks read
the file themselves, read-only, first (writing only to roll back a write cut short, as any
SQLite connection that may write does): another application's database, a store of a schema
revision this MLflow does not know, or an in-memory store is refused, and left as it was.

A new store is made whole before anyone opens it: its tables and migrations go into a temporary
file beside it, which is renamed into place once complete, so a process interrupted while making
it leaves no store rather than half of one. A store left half-made by an earlier version (its
creation cut short: MLflow's tables, part of its migrations, not one experiment or run) is made
anew by a sweep; the report names it and the command that fixes it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow

from resnet.paths import READ_FILE, WRITE_FILE, path_problem, shown
from resnet.tracking.client import folder_lock, sqlite_path
from resnet.tracking.liveness import pid_alive

ALEMBIC_TABLE = "alembic_version"  # where MLflow records its schema's revision
DATA_TABLES = ("experiments", "runs")  # a store holding a row of these holds a user's work
PARTIAL = "partial"  # the suffix of a store being made
SQLITE_READONLY_ROLLBACK = 776  # a read-only connection found a hot journal it cannot roll back


def sqlite_problem(uri: str, writes: bool) -> str | None:
    """Why the SQLite store `uri` cannot serve a command that `writes` to it (a sweep) or only
    reads it (the report, which also needs it to exist); None for other stores."""
    if not uri.startswith("sqlite:"):
        return None
    if "?" in uri:
        return (
            "SQLite options (such as ?mode=ro) are not taken: a sweep writes its store and the "
            "report only reads it; give sqlite:///path/to/mlflow.db"
        )
    path = sqlite_path(uri)
    if path is None or str(path) in ("", ":memory:"):
        return (
            "an in-memory store is lost when the command ends; give a file, "
            "sqlite:///path/to/mlflow.db"
        )
    problem = path_problem(path, WRITE_FILE if writes else READ_FILE)
    if problem is not None:
        return f"{shown(path)}: {problem}"
    return schema_problem(path, new_ok=writes) if path.exists() else None


@dataclass(frozen=True)
class Contents:
    """What a SQLite file holds, as far as telling an MLflow store goes."""

    tables: frozenset[str]
    revision: str | None  # MLflow's schema revision, None without one
    holds_work: bool  # an experiment or a run: never made anew


class WriteCutShort(Exception):
    """The file holds a write cut short (a hot journal) that this user may not roll back."""


def read_contents(path: Path) -> Contents:
    """Read, and write nothing but a rollback (below); raises sqlite3.DatabaseError for a file
    that is no database. A
    write cut short (its process killed) leaves a hot journal, which a read-only connection
    cannot roll back: it is rolled back first, as MLflow's own connection would on opening;
    WriteCutShort where this user may not write the store."""
    try:
        return read_only_contents(path)
    except sqlite3.OperationalError as exc:
        if getattr(exc, "sqlite_errorcode", None) != SQLITE_READONLY_ROLLBACK:
            raise
    try:
        roll_back_hot_journal(path)
    except sqlite3.Error as exc:
        raise WriteCutShort(str(exc)) from exc
    return read_only_contents(path)


def roll_back_hot_journal(path: Path) -> None:
    """SQLite rolls a hot journal back when a connection that may write first reads the file:
    the file returns to its last committed state, which is all any reader ever sees."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=rw", uri=True)) as db:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()


def read_only_contents(path: Path) -> Contents:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        tables = frozenset(row[0] for row in db.execute("SELECT name FROM sqlite_master"))
        revisions = (
            [row[0] for row in db.execute(f"SELECT version_num FROM {ALEMBIC_TABLE}")]
            if ALEMBIC_TABLE in tables
            else []
        )
        work = any(
            db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None
            for table in DATA_TABLES
            if table in tables
        )
    return Contents(tables, revisions[0] if revisions else None, work)


def schema_problem(path: Path, new_ok: bool) -> str | None:
    """Why the SQLite file `path` is not an MLflow store of this MLflow's schema, read as
    read_contents reads it; an empty database, or a half-made store, is a new store where
    `new_ok` (a sweep makes it whole)."""
    try:
        contents = read_contents(path)
    except WriteCutShort:
        return (
            f"{shown(path)} holds a write that was cut short ({shown(path.name + '-journal')} is "
            "left beside it), which only a user who may write the store and its folder can "
            "undo: run this command once as one"
        )
    except sqlite3.DatabaseError as exc:
        return f"{shown(path)} is not a SQLite database ({exc})"
    if not contents.tables:
        return None if new_ok else f"{shown(path)} is an empty database, not an MLflow store"
    if half_made(contents):
        return None if new_ok else half_made_problem(path)
    if contents.revision is None:
        listed = ", ".join(sorted(contents.tables)[:3])
        return (
            f"{shown(path)} holds another application's tables ({listed}), not an MLflow "
            "store; give a new path"
        )
    return revision_problem(contents.revision, path)


def half_made(contents: Contents) -> bool:
    """An MLflow store whose creation was cut short: MLflow's tables (some of them, under a
    revision before this MLflow's newest, or none yet), and not one experiment or run, since
    MLflow adds its Default experiment only once the tables are whole."""
    if contents.holds_work or not contents.tables:
        return False
    if contents.revision is None:
        return all(is_mlflow_table(table) for table in contents.tables)
    head, known = schema_revisions()
    return contents.revision != head and contents.revision in known


def half_made_problem(path: Path) -> str:
    return (
        f"{shown(path)} is a half-made MLflow store (its creation was cut short; it holds no "
        f"experiment or run): remove it with `rm {shown(path)}`, and the next sweep makes it whole"
    )


def is_mlflow_table(name: str) -> bool:
    return name in mlflow_tables() or name.startswith("_alembic_tmp_")


def mlflow_tables() -> set[str]:
    """Every table MLflow's migrations make, and SQLite's own counter table."""
    import mlflow.store.model_registry.dbmodels.models  # registers its tables
    import mlflow.store.tracking.dbmodels.models  # noqa: F401
    from mlflow.store.db.base_sql_model import Base

    return {*Base.metadata.tables, ALEMBIC_TABLE, "workspaces", "sqlite_sequence"}


def revision_problem(revision: str, path: Path) -> str | None:
    head, known = schema_revisions()
    if revision == head:
        return None
    if revision in known:
        return (
            f"{shown(path)} was made by an older MLflow (schema {revision}); back it up, then "
            f"run `mlflow db upgrade sqlite:///{shown(path)}`"
        )
    return (
        f"{shown(path)} has MLflow schema revision {revision}, which MLflow "
        f"{mlflow.__version__} does not know (made by a newer MLflow?)"
    )


def schema_revisions() -> tuple[str, set[str]]:
    """This MLflow's newest schema revision and every one it knows, from its own migrations."""
    from alembic.script import ScriptDirectory
    from mlflow.store.db.utils import _get_alembic_config

    script = ScriptDirectory.from_config(_get_alembic_config(""))
    return script.get_current_head(), {r.revision for r in script.walk_revisions()}


def make_whole(path: Path) -> str | None:
    """Make the SQLite store `path` whole before MLflow opens it, under the lock of its folder:
    a new one (no file, or one without tables) or a half-made one is made in a temporary file
    and renamed into place complete. A line to tell the user when a half-made store was made
    anew; None otherwise. Whatever holds an experiment or a run is never touched."""
    path = path.resolve()  # a link: the file it names is the store
    with folder_lock(path.parent):
        drop_stale_partials(path)
        try:
            contents = read_contents(path) if path.exists() else None
        except sqlite3.DatabaseError:
            return None  # not a database: MLflow says so, as it did before
        if contents is not None and contents.tables and not half_made(contents):
            return None
        create_atomically(path)
    if contents is not None and contents.tables:
        return (
            f"{shown(path)} was half-made (its creation was cut short) and held no experiment "
            "or run: made it anew"
        )
    return None


def partial_name(path: Path, pid: int) -> Path:
    return path.with_name(f".{path.name}.{pid}.{PARTIAL}")


def drop_stale_partials(path: Path) -> None:
    """The temporary stores of processes that died making one (killed, say) on this host."""
    for partial in path.parent.glob(f".{path.name}.*.{PARTIAL}*"):
        pid = partial.name[len(path.name) + 2 :].split(".")[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            partial.unlink(missing_ok=True)


def create_atomically(path: Path) -> None:
    """MLflow's tables and migrations, made in a temporary file beside `path`, then renamed over
    it: an interrupt or a kill while they are made leaves `path` as it was."""
    import sqlalchemy
    from mlflow.store.db.utils import _initialize_tables
    from sqlalchemy.pool import NullPool

    partial = partial_name(path, os.getpid())
    journal = partial.with_name(partial.name + "-journal")
    try:
        partial.unlink(missing_ok=True)
        engine = sqlalchemy.create_engine(f"sqlite:///{partial}", poolclass=NullPool)
        try:
            with quiet_migrations():
                _initialize_tables(engine)
        finally:
            engine.dispose()
        synced(partial)
        os.replace(partial, path)
        synced(path.parent)
    except BaseException:
        partial.unlink(missing_ok=True)
        journal.unlink(missing_ok=True)
        raise


def synced(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def quiet_migrations() -> Iterator[None]:
    """Without MLflow's and alembic's INFO lines about making the tables."""
    loggers = [logging.getLogger(name) for name in ("mlflow.store.db.utils", "alembic")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
