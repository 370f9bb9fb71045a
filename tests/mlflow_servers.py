"""A real `mlflow server` for the tests that need one: started on a free port of 127.0.0.1,
ready once it answers /health, and stopped with every process it started."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

START_TIMEOUT = 180  # seconds: the server imports much of MLflow before it answers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env() -> dict[str, str]:
    """This environment without MLflow's tracking and auth settings: a process started with it
    uses the store it is told, or the one in its working directory, as on a user's machine."""
    drop = ("MLFLOW_TRACK", "MLFLOW_AUTH_")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


@contextlib.contextmanager
def start_server(
    options: list[str], log: Path, cwd: Path | None = None, env=None, port: int | None = None
) -> Iterator[str]:
    """`mlflow server OPTIONS` on `port` (else a free one), without MLflow's job runner
    (processes for GenAI jobs that no sweep uses); yields its URL once it answers, and stops it
    at the end."""
    port = port or free_port()
    env = (env or clean_env()) | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    command = [str(Path(sys.executable).parent / "mlflow"), "server", *options]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with log.open("a") as out:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its uvicorn worker too is stopped with its group
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, process, log)
        yield url
    finally:
        stop(process)


def wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2).close()  # open to all
            return
        except OSError:
            alive = process.poll() is None
            assert alive and time.monotonic() < deadline, (
                f"mlflow server did not start:\n{log.read_text()[-4000:]}"
            )
            time.sleep(0.5)


def stop(process: subprocess.Popen) -> None:
    """Ends a process started with start_new_session and everything it started."""
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # what is left of the group, if anything
