"""The services of the tests of workers on several machines: a throwaway PostgreSQL server
and an MLflow server with basic auth on it, each started and stopped by a fixture."""

import base64
import os
import secrets
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import sqlalchemy
from mlflow_servers import clean_env, free_port, start_server


def new_password() -> str:
    """A random password: as long as MLflow asks (12 characters at least), and found nowhere
    by chance."""
    return secrets.token_urlsafe(18)


@dataclass(frozen=True)
class Database:
    """A PostgreSQL server: its URL, with no password in it, and the password that libpq reads
    from PGPASSWORD (None where the server asks for none)."""

    url: str
    password: str | None

    def env(self) -> dict[str, str]:
        return {"PGPASSWORD": self.password} if self.password else {}


@pytest.fixture(scope="module")
def postgres():
    """A throwaway PostgreSQL server (Debian's package) with the databases `optuna` and
    `mlflow`, which lets in only 127.0.0.1 (and its socket) with a password (scram-sha-256), as
    docs/WORKERS.md sets it up; TEST_POSTGRES_URL names an existing server instead (its password
    in the URL or in PGPASSWORD)."""
    if os.environ.get("TEST_POSTGRES_URL"):
        url = sqlalchemy.make_url(os.environ["TEST_POSTGRES_URL"].rstrip("/"))
        password = url.password or os.environ.get("PGPASSWORD")
        yield Database(url.set(password=None).render_as_string(), password)
        return
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    assert bins, "PostgreSQL is not installed: scripts/setup.sh installs Debian's postgresql"
    bindir = bins[-1].parent
    folder = Path(tempfile.mkdtemp(prefix="resnet-pg-"))
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []  # not as root
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    data, port, password = folder / "data", free_port(), new_password()
    env = {**os.environ, "PGPASSWORD": password}

    def pg(*command):
        run = [*as_postgres, *map(str, command)]
        subprocess.run(run, check=True, capture_output=True, env=env)

    pwfile = folder / "pwfile"  # initdb reads the superuser's password from a file
    pwfile.touch(mode=0o600)
    pwfile.write_text(f"{password}\n")
    if os.geteuid() == 0:
        shutil.chown(pwfile, "postgres")
    pg(bindir / "initdb", "-D", data, "-U", "postgres", "--auth=scram-sha-256", "--pwfile", pwfile)
    pwfile.unlink()
    pg(
        bindir / "pg_ctl",
        "-D",
        data,
        "-l",
        folder / "log",
        "-w",
        "start",
        "-o",
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1",
    )
    try:
        url = f"postgresql://postgres@127.0.0.1:{port}"
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(f"{url}/postgres", password="not-the-password").close()
        for database in ("optuna", "mlflow"):
            pg(bindir / "createdb", "-h", "127.0.0.1", "-p", port, "-U", "postgres", database)
        yield Database(url, password)
    finally:
        pg(bindir / "pg_ctl", "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class Server:
    """An MLflow server with MLflow's basic auth: its URL, the user the workers log in as, and
    its admin's password."""

    url: str
    username: str
    password: str
    admin_password: str

    def env(self) -> dict[str, str]:
        return {
            "MLFLOW_TRACKING_USERNAME": self.username,
            "MLFLOW_TRACKING_PASSWORD": self.password,
        }


AUTH_CONFIG = """[mlflow]
default_permission = EDIT
database_uri = sqlite:///{users}
admin_username = admin
admin_password = {password}
auth_cache_ttl_seconds = 60
"""


@pytest.fixture(scope="module")
def mlflow_server(postgres, tmp_path_factory):
    """`mlflow server --app-name basic-auth` on the PostgreSQL backend, serving artifacts, as
    docs/WORKERS.md starts it: its admin's password in its auth config file, the database's in
    PGPASSWORD, none on its command line; and a user `worker` for the workers, made by the
    admin. Without MLflow's job runner (eight more processes for GenAI jobs that no sweep
    uses)."""
    admin_password, password = new_password(), new_password()
    folder = tmp_path_factory.mktemp("server")
    config = folder / "basic_auth.ini"
    config.touch(mode=0o600)
    config.write_text(AUTH_CONFIG.format(users=folder / "users.db", password=admin_password))
    env = clean_env() | postgres.env()
    env.update(
        MLFLOW_AUTH_CONFIG_PATH=str(config),
        MLFLOW_FLASK_SERVER_SECRET_KEY=new_password(),
    )
    options = ["--app-name", "basic-auth", "--backend-store-uri", f"{postgres.url}/mlflow"]
    options += ["--artifacts-destination", str(folder / "artifacts")]
    with start_server(options, folder / "log", env=env) as url:
        from mlflow.server.auth.client import AuthServiceClient  # imports MLflow's server: 2 s

        with pytest.MonkeyPatch.context() as admin:
            admin.setenv("MLFLOW_TRACKING_USERNAME", "admin")
            admin.setenv("MLFLOW_TRACKING_PASSWORD", admin_password)
            AuthServiceClient(url).create_user("worker", password)
        yield Server(url, "worker", password, admin_password)


def refused(url: str, user: str | None = None, password: str = "") -> bool:
    """Whether the MLflow server at `url` refuses a search of its experiments (401 or 403) to
    this user, or to a client that gives no user at all."""
    request = urllib.request.Request(f"{url}/api/2.0/mlflow/experiments/search?max_results=1")
    if user:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        urllib.request.urlopen(request, timeout=10).close()
    except urllib.error.HTTPError as error:
        return error.code in (401, 403)
    return False
