"""One smoke sweep per test run, as a user runs it, for the tests that only read what it left.

`python experiments/depth_sweep.py --preset smoke` in a new folder: MLflow creates the store
itself (./mlruns), the sweep prints what a user sees, and its output is kept beside it. Under
pytest-xdist the first test process to need it runs it; the others wait for it and use the
same folder. Tests must not change it: a test that writes copies what it needs or runs its
own sweep."""

import fcntl
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mlflow_servers import clean_env

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class SmokeSweep:
    folder: Path  # where it ran: its store is folder/mlruns
    stdout: str
    stderr: str

    @property
    def uri(self) -> str:
        return f"sqlite:///{self.folder / 'mlruns' / 'mlflow.db'}"


def shared_base(tmp_path_factory) -> Path:
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def smoke_sweep(tmp_path_factory) -> SmokeSweep:
    base = shared_base(tmp_path_factory)
    folder, done = base / "smoke-sweep", base / "smoke-sweep.done"
    with (base / "smoke-sweep.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # what a failed attempt left
            folder.mkdir()
            run_sweep(folder)
            done.touch()
    return SmokeSweep(folder, (folder / "stdout").read_text(), (folder / "stderr").read_text())


def as_a_user() -> dict[str, str]:
    """The tests' environment without MLflow's settings, and with the sweep's projection on."""
    return {k: v for k, v in clean_env().items() if k != "DEPTH_SWEEP_NO_PROJECTION"}


def run_sweep(folder: Path) -> None:
    sweep = subprocess.run(
        [sys.executable, str(REPO / "experiments" / "depth_sweep.py"), "--preset", "smoke"],
        cwd=folder,
        env=as_a_user() | {"MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL": "0.5"},  # nets train ~2 s
        capture_output=True,
        text=True,
        timeout=600,
    )
    (folder / "stdout").write_text(sweep.stdout)
    (folder / "stderr").write_text(sweep.stderr)
    assert sweep.returncode == 0, sweep.stderr[-4000:]
