"""The journal file's lock: Optuna's lock file (created with O_EXCL, which NFS honours), with
its holder written in it, so that a lock left by a process killed on this host is taken over at
once. Before, every later writer waited out the grace period for it (30 s, Optuna's warning
every 10 s): the rerun after a kill, and every other worker of a sweep whose worker was killed.

A lock whose holder cannot be judged (another host's, or one written by an older version, which
names nobody) is taken over after the grace period without a change to it, as Optuna does.
Hosts are told apart by their names (tracking.liveness): two hosts of one name sharing a
journal would take each other's locks for dead ones.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass

from optuna.storages.journal import JournalFileOpenLock

from resnet.tracking.liveness import owner_of, process_alive

TAKEOVER_SUFFIX = ".takeover"  # held by the one waiter that may remove a dead holder's lock
HOLDER_BYTES = 1024  # an owner is far shorter; Optuna's symlink lock would read the journal
LONGEST_SLEEP = 0.05  # seconds between two looks: a healthy writer holds the lock for ms


class HolderNamingLock(JournalFileOpenLock):
    """Optuna's open lock, whose file names its holder (tracking.liveness's owner)."""

    def acquire(self) -> bool:
        sleep, seen, unchanged_since = 0.001, None, time.monotonic()
        me = owner_of(os.getpid())  # another thread of this process: alive, whatever pids say
        while True:
            if create_naming(self._lock_file, me):
                return True
            found = look(self._lock_file)
            if found is None:
                continue  # released just now
            if found != seen:
                seen, unchanged_since = found, time.monotonic()
            silent = self.grace_period and time.monotonic() - unchanged_since > self.grace_period
            if (names_the_dead(found, me) or silent) and take_over(
                self._lock_file, found, self.grace_period
            ):
                continue
            time.sleep(sleep)
            sleep = min(sleep * 2, LONGEST_SLEEP)


def create_naming(path: str, owner: str) -> bool:
    """Create `path` (O_EXCL, which NFS honours) with `owner` in it; False where it exists."""
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    try:
        os.write(descriptor, owner.encode())
    except BaseException:
        os.unlink(path)
        raise
    finally:
        os.close(descriptor)
    return True


@dataclass(frozen=True)
class Found:
    """A lock file as a waiter saw it: the holder it names ("" while it names nobody), and
    which file it was (a new lock of the same holder is another file, made at another time)."""

    holder: str
    inode: int
    mtime_ns: int


def look(path: str) -> Found | None:
    try:
        with open(path, errors="replace") as file:
            status = os.fstat(file.fileno())
            return Found(file.read(HOLDER_BYTES), status.st_ino, status.st_mtime_ns)
    except FileNotFoundError:
        return None


def names_the_dead(found: Found, me: str) -> bool:
    """The file names a process of this host that has ended (not this one)."""
    return found.holder not in ("", me) and process_alive(found.holder) is False


def take_over(lock: str, found: Found, grace_period: float | None) -> bool:
    """Remove the lock `found` (its holder dead, or silent past the grace period), if it is
    still that very file. One waiter at a time, under a second lock file that names it too:
    a dead holder's lock is removed by no one else meanwhile, so no live writer's lock is
    touched. (A holder of another host, silent past the grace period but alive, may release
    and a writer lock anew within the take-over's microseconds; the new file is then put
    back, as remove_if_same says.) A second lock left by a waiter killed inside this goes at
    once on this host, after the grace period from another. Whether the lock was removed (or
    gone already)."""
    guard, me = lock + TAKEOVER_SUFFIX, owner_of(os.getpid())
    if not create_naming(guard, me):
        drop_stale_guard(guard, me, grace_period)
        return False  # another waiter is at it: look again after a pause
    mine = look(guard)
    try:
        return remove_if_same(lock, found)
    finally:
        if mine is not None:
            remove_if_same(guard, mine)


def drop_stale_guard(guard: str, me: str, grace_period: float | None) -> None:
    found = look(guard)
    if found is None:
        return
    old = grace_period is not None and time.time() - found.mtime_ns / 1e9 > grace_period
    if names_the_dead(found, me) or old:
        remove_if_same(guard, found)


def remove_if_same(path: str, found: Found) -> bool:
    """Remove the file at `path` if it is still the one `found` was (or gone): it is moved
    aside under a name of this process's first, and looked at there, so that a file made at
    `path` since the look is never removed but put back. Whether `found` is gone."""
    aside = f"{path}.{os.getpid()}.{time.monotonic_ns()}"
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return True
    moved = look(aside)
    if moved != found:
        with contextlib.suppress(FileExistsError):
            os.link(aside, path)  # put back, unless yet another was made there meanwhile
    os.unlink(aside)
    return moved == found
