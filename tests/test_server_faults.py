"""An MLflow server with basic auth that dies in the middle of a `--workers 2` sweep: each
process that meets it says so in one line, the password (with the characters that once broke
its masking) reaches no output, no command line and no file, and the rerun against the restarted
server resumes the cells and finishes the sweep."""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow_servers import clean_env, free_port, start_server
from services import AUTH_CONFIG, new_password

REPO = Path(__file__).resolve().parents[1]
SPECIAL = "/@ %:"  # in a URI, each of these broke the masking of a password by pattern
SWEEP = [sys.executable, str(REPO / "experiments" / "depth_sweep.py"), "--preset", "smoke"]
SWEEP += ["--no-progress", "--no-report", "--depths", "8", "--iterations", "60", "--workers", "2"]
# A user's own retry settings win over the sweep's (about 15 s of retries a process): one quick
# retry keeps the test short.
QUICK_RETRIES = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
}


class Server:
    """`mlflow server --app-name basic-auth` on a SQLite store, started again on the same port
    and store after a kill; its user `worker` has a password with SPECIAL in it."""

    def __init__(self, folder: Path):
        self.folder, self.port = folder, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = new_password() + SPECIAL
        admin = new_password()
        config = folder / "basic_auth.ini"
        config.write_text(AUTH_CONFIG.format(users=folder / "users.db", password=admin))
        self.env = clean_env() | {
            "MLFLOW_AUTH_CONFIG_PATH": str(config),
            "MLFLOW_FLASK_SERVER_SECRET_KEY": new_password(),
        }
        self.admin = admin

    @contextlib.contextmanager
    def running(self):
        options = [
            "--app-name",
            "basic-auth",
            "--backend-store-uri",
            f"sqlite:///{self.folder}/m.db",
        ]
        options += ["--artifacts-destination", str(self.folder / "artifacts")]
        with start_server(options, self.folder / "log", env=self.env, port=self.port):
            yield

    def add_worker(self) -> None:
        from mlflow.server.auth.client import AuthServiceClient

        with pytest.MonkeyPatch.context() as admin:
            admin.setenv("MLFLOW_TRACKING_USERNAME", "admin")
            admin.setenv("MLFLOW_TRACKING_PASSWORD", self.admin)
            AuthServiceClient(self.url).create_user("worker", self.password)

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill: no goodbye to any client."""
        flag = f"--port\0{self.port}\0".encode()
        for entry in Path("/proc").glob("[0-9]*/cmdline"):
            with contextlib.suppress(OSError):
                if flag in entry.read_bytes():
                    os.killpg(int(entry.parent.name), signal.SIGKILL)


class CommandLines:
    """Every process's command line seen while the block runs."""

    def __init__(self):
        self.seen: set[bytes] = set()

    def scan(self) -> None:
        while self.running:
            for entry in Path("/proc").glob("[0-9]*/cmdline"):
                with contextlib.suppress(OSError):
                    self.seen.add(entry.read_bytes())
            time.sleep(0.05)

    def __enter__(self):
        self.running = True
        self.thread = threading.Thread(target=self.scan, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()


def sweep(server: Server, workdir: Path, until=None) -> subprocess.CompletedProcess:
    """The sweep against the server, its password only in the environment; `until` (a check of
    the working folder) kills the server once it holds."""
    env = clean_env() | QUICK_RETRIES | {"MLFLOW_TRACKING_USERNAME": "worker"}
    env["MLFLOW_TRACKING_PASSWORD"] = server.password
    command = [*SWEEP, "--tracking-uri", server.url]
    with subprocess.Popen(
        command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        if until is not None:
            deadline = time.monotonic() + 240
            while not until() and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
            server.kill()
        out, err = process.communicate(timeout=600)
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def checkpoints_saved(workdir: Path) -> bool:
    folder = workdir / "mlruns" / "checkpoints"
    return folder.is_dir() and any(p.suffix == ".pt" for p in folder.rglob("*"))


@pytest.mark.heavy(45)
def test_a_server_killed_mid_sweep_is_one_line_a_worker_and_leaks_no_password(
    workdir, tmp_path_factory
):
    server = Server(tmp_path_factory.mktemp("server"))
    with CommandLines() as lines:
        with server.running():
            server.add_worker()
            killed = sweep(server, workdir, until=lambda: checkpoints_saved(workdir))
        assert killed.returncode == 1, killed.stderr
        assert "Traceback" not in killed.stderr, killed.stderr
        said = [line for line in killed.stderr.splitlines() if not line.startswith("worker ")]
        assert all("stopped answering" in line for line in said), killed.stderr
        assert 1 <= len(said) <= 3, killed.stderr  # one per process: two workers, the launcher
        with server.running():
            rerun = sweep(server, workdir)
    assert rerun.returncode == 0, rerun.stderr
    assert "from its checkpoint" in rerun.stderr

    password = server.password.encode()
    assert not [line for line in lines.seen if password in line]
    for done in (killed, rerun):
        assert server.password not in done.stdout + done.stderr
    files = [p for p in workdir.rglob("*") if p.is_file()]
    assert files and not [p for p in files if password in p.read_bytes()]

    client = MlflowClient(f"sqlite:///{server.folder}/m.db")  # the server's own store
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    sweeps = [r for r in runs if r.data.tags.get("kind") == "sweep"]
    cells = [r for r in runs if r.data.tags.get("kind") == "cell"]
    assert [r.info.status for r in sweeps] == ["FINISHED"]
    finished = sorted(r.info.run_name for r in cells if r.info.status == "FINISHED")
    assert finished == ["plain-8-s0", "residual-8-s0"]
    for run in cells:  # a cell killed before its first checkpoint starts again in a new run
        assert run.info.status == "FINISHED" or "abandoned" in run.data.tags["failure_reason"]
