"""A real one-node SLURM cluster for the tests: Debian's munged, slurmctld and slurmd, started
with a throwaway configuration in a folder of the test's and stopped when it ends.

The node is this machine (its hostname, on the loopback address), with its real cores and
memory; the daemons listen on free ports, keep their state in the folder and authenticate with
a munge daemon of their own (its own key and socket), so nothing of the machine's is touched.
Commands reach the cluster through `environment()`: SLURM_CONF and the munge socket.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
SBIN = ("/usr/sbin", "/usr/bin", "/sbin")
PARTITION = "debug"
START_SECONDS = 30.0


def find(program: str) -> str | None:
    found = shutil.which(program)
    if found:
        return found
    for folder in SBIN:
        path = Path(folder) / program
        if path.exists():
            return str(path)
    return None


def missing_programs() -> list[str]:
    """The SLURM and munge programs this machine lacks (scripts/setup.sh installs them)."""
    return [p for p in (*DAEMONS, "sbatch", "squeue", "scancel", "sinfo") if find(p) is None]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_line() -> str:
    """This machine as slurmd sees it (`slurmd -C`: its hostname, cores and memory)."""
    out = subprocess.run([find("slurmd"), "-C"], capture_output=True, text=True, check=True)
    return out.stdout.splitlines()[0]


class SlurmCluster:
    """`with SlurmCluster(folder) as cluster:` a running cluster of one node."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.processes: list[subprocess.Popen] = []
        self.socket = folder / "munge.socket"
        self.conf = folder / "slurm.conf"
        self.hostname = socket.gethostname()

    def environment(self) -> dict[str, str]:
        return {
            "SLURM_CONF": str(self.conf),
            # libmunge (in every SLURM command) finds the daemon's socket by this variable
            "MUNGE_SOCKET": str(self.socket),
        }

    def __enter__(self) -> SlurmCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        for name in ("state", "spool", "log"):
            (self.folder / name).mkdir(parents=True, exist_ok=True)
        self.start_munge()
        self.write_config()
        env = {**os.environ, **self.environment()}
        log = self.folder / "log"
        self.spawn([find("slurmctld"), "-D", "-i", "-f", str(self.conf)], env, log / "ctld.out")
        self.spawn([find("slurmd"), "-D", "-f", str(self.conf)], env, log / "slurmd.out")
        self.wait_until_idle(env)

    def start_munge(self) -> None:
        key = self.folder / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        subprocess.run(
            [
                find("munged"),
                f"--key-file={key}",
                f"--socket={self.socket}",
                f"--pid-file={self.folder / 'munged.pid'}",
                f"--log-file={self.folder / 'log' / 'munged.log'}",
                f"--seed-file={self.folder / 'munged.seed'}",
                "--force",
            ],
            check=True,
            capture_output=True,
        )

    def write_config(self) -> None:
        node = node_line().split()
        node[0] = f"NodeName={self.hostname}"
        node = [f for f in node if not f.startswith("UpTime")]
        state, spool, log = (self.folder / n for n in ("state", "spool", "log"))
        lines = [
            "ClusterName=tests",
            f"SlurmctldHost={self.hostname}(127.0.0.1)",
            f"SlurmctldPort={free_port()}",
            f"SlurmdPort={free_port()}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={self.socket}",
            f"StateSaveLocation={state}",
            f"SlurmdSpoolDir={spool}",
            f"SlurmctldPidFile={self.folder / 'slurmctld.pid'}",
            f"SlurmdPidFile={self.folder / 'slurmd.pid'}",
            f"SlurmctldLogFile={log / 'slurmctld.log'}",
            f"SlurmdLogFile={log / 'slurmd.log'}",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core_Memory",
            "DefMemPerCPU=1024",  # else a job takes the node's memory, and jobs run one by one
            "SchedulerType=sched/builtin",
            "ReturnToService=2",
            "MpiDefault=none",
            "KillWait=10",
            "InactiveLimit=0",
            "MinJobAge=600",
            f"{' '.join(node)} NodeAddr=127.0.0.1 State=UNKNOWN",
            f"PartitionName={PARTITION} Nodes={self.hostname} Default=YES MaxTime=INFINITE "
            "State=UP",
        ]
        self.conf.write_text("\n".join(lines) + "\n")

    def spawn(self, command: list[str], env: dict, out: Path) -> None:
        handle = out.open("w")
        self.processes.append(
            subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT)
        )

    def wait_until_idle(self, env: dict) -> None:
        """Until the node takes jobs; a daemon that died or a node never idle is an error
        naming the daemons' logs."""
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            dead = [p.args[0] for p in self.processes if p.poll() is not None]
            if dead:
                raise RuntimeError(f"{dead} exited; see {self.folder / 'log'}")
            state = subprocess.run(
                [find("sinfo"), "-h", "-N", "-o", "%T"], env=env, capture_output=True, text=True
            ).stdout.strip()
            if state == "idle":
                return
            time.sleep(0.3)
        raise RuntimeError(f"the SLURM node never became idle; see {self.folder / 'log'}")

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.socket.exists():
            subprocess.run(
                [find("munged"), f"--socket={self.socket}", "--stop"], capture_output=True
            )
