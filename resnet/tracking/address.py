"""Store addresses as users see them: a password never appears in a message, and a database
that does not answer is found in seconds, not after MLflow's minutes of retries.

Imports nothing of the project, so `analysis/` uses it as well as the command lines.
"""

from __future__ import annotations

import os
import re
import urllib.parse

PASSWORD_IN_URL = re.compile(r"(?P<head>\b[a-zA-Z][\w+.-]*://[^/\s:@]*:)[^@\s/]*@")
PASSWORD_IN_QUERY = re.compile(r"(?i)\b(password=)[^&\s'\"]*")
CONNECT_TIMEOUT = 5  # seconds a database has to answer before it counts as unreachable
DATABASE_SCHEMES = ("postgresql", "mysql", "mssql")


def masked(text: str) -> str:
    """`text` with every URL's password (user:password@, password=...) shown as ***."""
    return PASSWORD_IN_QUERY.sub(r"\1***", PASSWORD_IN_URL.sub(r"\g<head>***@", text))


def credentials_to_environment(uri: str) -> str:
    """An MLflow server's address with its user and password moved out of it, into
    MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, where MLflow's client reads them
    (the worker processes inherit them, in their environment, never on a command line). MLflow
    prints its tracking URI in its links ("View run at ..."): a password left in it would be
    printed."""
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme not in ("http", "https") or (parts.username, parts.password) == (None, None):
        return uri
    if parts.username:
        os.environ["MLFLOW_TRACKING_USERNAME"] = urllib.parse.unquote(parts.username)
    if parts.password is not None:
        os.environ["MLFLOW_TRACKING_PASSWORD"] = urllib.parse.unquote(parts.password)
    host = parts.netloc.rsplit("@", 1)[1]
    return urllib.parse.urlunsplit(parts._replace(netloc=host))


def first_line(exc: BaseException) -> str:
    """An exception's message, first line only and with no password, for a one-line error."""
    return masked((str(exc).strip().splitlines() or [type(exc).__name__])[0])


def is_database_url(uri: str) -> bool:
    """A database server's URL (not SQLite, not an MLflow server, not a file)."""
    return uri.split("://")[0].split("+")[0] in DATABASE_SCHEMES and "://" in uri


def database_problem(url: str) -> str | None:
    """Why the database at `url` does not answer, asked once and without retries; None when
    it answers."""
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    timeout = {"connect_timeout": CONNECT_TIMEOUT} if not url.startswith("mssql") else {}
    try:
        engine = sqlalchemy.create_engine(url, connect_args=timeout, poolclass=NullPool)
        with engine.connect():
            pass
    except Exception as exc:
        return first_line(exc)
    engine.dispose()
    return None
