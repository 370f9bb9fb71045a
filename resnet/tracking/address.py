"""Store addresses as users see them: a password never appears in a message, and a database
that does not answer is found in seconds, not after MLflow's minutes of retries.

Imports nothing of the project, so `analysis/` uses it as well as the command lines.
"""

from __future__ import annotations

import os
import re
import urllib.parse

from resnet.tracking.schema import DEFAULT_TRACKING_URI

PASSWORD_IN_URL = re.compile(r"(?P<head>\b[a-zA-Z][\w+.-]*://[^/\s:@]*:)[^@\s/]*@")
PASSWORD_IN_QUERY = re.compile(r"(?i)\b(password=)[^&\s'\"]*")
SECRET_PARAMETER = re.compile(r"(?i)(?:^|[?&;\s])(?:ssl)?password\s*=")
CONNECT_TIMEOUT = 5  # seconds a database has to answer before it counts as unreachable
DATABASE_SCHEMES = ("postgresql", "mysql", "mssql")


def masked(text: str) -> str:
    """`text` with every URL's password (user:password@, password=...) shown as ***."""
    return PASSWORD_IN_QUERY.sub(r"\1***", PASSWORD_IN_URL.sub(r"\g<head>***@", text))


class AddressError(ValueError):
    """A store address that holds a password, or that cannot be what it says; the message is
    the one line the user sees, and does not repeat a password."""


def password_problem(uri: str, where: str) -> str | None:
    """Why `uri` must not be used as given: it holds a password (user:password@, in any
    spelling: with /, @, spaces or %-escapes in it; or password= / sslpassword= in its query),
    which `ps`, shell history, logs and MLflow's own links would show. None when it holds none.
    """
    scheme, separator, rest = uri.partition("://")
    if not separator:
        return None
    userinfo = rest[: rest.rfind("@")] if "@" in rest else ""
    local = scheme.split("+")[0] in ("sqlite", "file")  # a path: its ":" and "@" are its own
    if not SECRET_PARAMETER.search(rest) and (local or ":" not in userinfo):
        return None
    return (
        f"{where} holds a password, which the command line and logs would show; "
        f"{password_place(scheme)}"
    )


def password_place(scheme: str) -> str:
    """Where the password of a store of `scheme` goes instead of its address."""
    database = scheme.split("+")[0]
    if database.startswith("http"):
        return (
            "give http(s)://host:port, and the user and password in MLFLOW_TRACKING_USERNAME "
            "and MLFLOW_TRACKING_PASSWORD (or ~/.mlflow/credentials)"
        )
    if database == "postgresql":
        return (
            f"give {scheme}://user@host/database, and the password in PGPASSWORD, ~/.pgpass or "
            "the file PGPASSFILE names"
        )
    if database == "mysql":  # its drivers read no password from the environment
        return (
            f"give {scheme}://user@host/database?read_default_file=/path/to/my.cnf, and the "
            "password in that option file's [client] section (password = ...)"
        )
    return (
        "only PostgreSQL (PGPASSWORD, ~/.pgpass) and MySQL (an option file) stores keep a "
        "password out of their address; or use SQLite or a journal file"
    )


def checked_address(uri: str, where: str) -> str:
    problem = password_problem(uri, where) or fragment_problem(uri, where)
    if problem:
        raise AddressError(problem)
    return uri


def fragment_problem(uri: str, where: str) -> str | None:
    """A SQLite address holding '#': SQLAlchemy takes it as part of the file's name, so
    sqlite:///mlflow.db#x would make a file named 'mlflow.db#x' (SQLite options, '?', are
    refused where the file is checked)."""
    if not uri.startswith("sqlite:") or "#" not in uri:
        return None
    return (
        f"{where}: a SQLite address takes no '#' part (it would become part of the file's "
        "name); give sqlite:///path/to/mlflow.db"
    )


def resolve_tracking_uri(given: str | None = None) -> str:
    """The sweep's MLflow store: the given URI, else MLFLOW_TRACKING_URI, else ./mlruns."""
    return tracking_address(given, DEFAULT_TRACKING_URI)


def tracking_address(given: str | None, default: str) -> str:
    """The MLflow store to use: --tracking-uri, else MLFLOW_TRACKING_URI, else `default`;
    refused with AddressError when it holds a password. An MLflow server's user (never a
    password) moves to MLFLOW_TRACKING_USERNAME, where MLflow's client reads it: MLflow prints
    its tracking URI in its links."""
    if given:
        uri = checked_address(given, "--tracking-uri")
    elif os.environ.get("MLFLOW_TRACKING_URI"):
        uri = checked_address(os.environ["MLFLOW_TRACKING_URI"], "MLFLOW_TRACKING_URI")
    else:
        uri = default
    return user_to_environment(uri)


def user_to_environment(uri: str) -> str:
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme not in ("http", "https") or parts.username is None:
        return uri
    os.environ["MLFLOW_TRACKING_USERNAME"] = urllib.parse.unquote(parts.username)
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
