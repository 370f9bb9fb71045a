"""Who runs a cell or a trial, and whether that process still lives: one owner identity and
one heartbeat for MLflow runs and Optuna trials alike."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from resnet.tracking.schema import Tag


def now_ms() -> int:
    return int(time.time() * 1000)


# One heartbeat for runs and trials: a running cell or trial beats every HEARTBEAT_SECONDS
# (an MLflow tag, an Optuna heartbeat); one silent for GRACE_SECONDS is dead.
HEARTBEAT_SECONDS = 10
GRACE_SECONDS = 120


def lease() -> dict[str, str]:
    """Who runs a cell, and since when: `owner` host:pid:process start:pid namespace (so a
    reused pid is not taken for the owner, nor a container of the same host name for this
    one) and a `heartbeat` time in ms."""
    return {Tag.OWNER: owner_of(os.getpid()), Tag.HEARTBEAT: str(now_ms())}


def owner_of(pid: int) -> str:
    """The `owner` value of a process of this host: host:pid:process start:pid namespace."""
    return f"{socket.gethostname()}:{pid}:{process_start(pid)}:{pid_namespace()}"


def pid_namespace() -> str:
    """The inode of this process's pid namespace ("" where /proc cannot tell)."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return ""


def process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot ("zombie" for one that has exited
    but was not reaped), or "" where /proc cannot tell."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat.rpartition(")")[2].split()  # after the command name, which may hold spaces
    return "zombie" if fields[0] == "Z" else fields[19]


def process_alive(owner: str) -> bool | None:
    """Whether the process named by an `owner` value (host:pid:start) still exists; None for
    another host's process, which this one cannot see."""
    host, pid, start, namespace = [*owner.split(":"), "", "", "", ""][:4]
    if host != socket.gethostname() or not pid.isdigit():
        return None
    if namespace and namespace != pid_namespace():
        return None  # another container that shares the host name: its pids are not ours
    if int(pid) == os.getpid():
        return False  # an attempt of this very process, which has ended
    now = process_start(int(pid))
    if now:
        return now != "zombie" and (not start or now == start)
    return pid_alive(int(pid))


def pid_alive(pid: int) -> bool:
    """Whether a process of this pid exists on this host (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner_alive(run, dead_owner: str | None = None) -> bool:
    """Whether the process that left a run RUNNING still exists. Not if its owner is
    `dead_owner`: a worker whose trial the sweep's queue already found dead by its own, shorter
    heartbeat (it may still exist, stuck). Else, on this host, ask the OS; for another host's
    run, trust its heartbeat for GRACE_SECONDS."""
    owner = run.data.tags.get(Tag.OWNER, "")
    if dead_owner is not None and owner == dead_owner:
        return False
    alive = process_alive(owner)
    if alive is not None:
        return alive
    beat = run.data.tags.get(Tag.HEARTBEAT, "")
    return beat.isdigit() and now_ms() - int(beat) < GRACE_SECONDS * 1000
