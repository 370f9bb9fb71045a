"""What a local MLflow database must be before a command opens it. MLflow's client creates its
tables in any SQLite file it is given, and upgrades or stamps what it finds, so these checks read
the file themselves, read-only, first: another application's database, a store of a schema
revision this MLflow does not know, or an in-memory store is refused, and left as it was.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import mlflow

from resnet.paths import READ_FILE, WRITE_FILE, path_problem, shown
from resnet.tracking.client import sqlite_path

ALEMBIC_TABLE = "alembic_version"  # where MLflow records its schema's revision


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


def schema_problem(path: Path, new_ok: bool) -> str | None:
    """Why the SQLite file `path` is not an MLflow store of this MLflow's schema, read without
    writing; an empty database is a new store where `new_ok`."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master")]
            revisions = (
                [row[0] for row in db.execute(f"SELECT version_num FROM {ALEMBIC_TABLE}")]
                if ALEMBIC_TABLE in tables
                else []
            )
    except sqlite3.DatabaseError as exc:
        return f"{shown(path)} is not a SQLite database ({exc})"
    if not tables:
        return None if new_ok else f"{shown(path)} is an empty database, not an MLflow store"
    if not revisions:
        listed = ", ".join(sorted(tables)[:3])
        return (
            f"{shown(path)} holds another application's tables ({listed}), not an MLflow "
            "store; give a new path"
        )
    return revision_problem(revisions[0], path)


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
