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

import os
import time
from dataclasses import dataclass

from optuna.storages.journal import JournalFileOpenLock

from resnet.tracking.liveness import lease, process_alive
from resnet.tracking.schema import Tag

TAKEOVER_SUFFIX = ".takeover"  # held by the one waiter that may remove a dead holder's lock
HOLDER_BYTES = 1024  # an owner is far shorter; Optuna's symlink lock would read the journal
LONGEST_SLEEP = 0.05  # seconds between two looks: a healthy writer holds the lock for ms


class HolderNamingLock(JournalFileOpenLock):
    """Optuna's open lock, whose file names its holder (tracking.liveness's owner)."""

    def acquire(self) -> bool:
        sleep, seen, unchanged_since = 0.001, None, time.monotonic()
        me = lease()[Tag.OWNER]  # another thread of this process: alive, whatever pids say
        while True:
            if self.try_create():
                return True
            found = look(self._lock_file)
            if found is None:
                continue  # released just now
            dead = found.holder not in ("", me) and process_alive(found.holder) is False
            if (found.inode, found.mtime) != seen:
                seen, unchanged_since = (found.inode, found.mtime), time.monotonic()
            silent = self.grace_period and time.monotonic() - unchanged_since > self.grace_period
            if (dead or silent) and take_over(self._lock_file, found, self.grace_period):
                continue
            time.sleep(sleep)
            sleep = min(sleep * 2, LONGEST_SLEEP)

    def try_create(self) -> bool:
        try:
            descriptor = os.open(self._lock_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return False
        try:
            os.write(descriptor, lease()[Tag.OWNER].encode())
        except BaseException:
            os.unlink(self._lock_file)
            raise
        finally:
            os.close(descriptor)
        return True


@dataclass(frozen=True)
class Found:
    """A lock file as a waiter saw it: the holder it names ("" while it names nobody), and
    which file it was (a new lock of the same holder is another file)."""

    holder: str
    inode: int
    mtime: float


def look(lock: str) -> Found | None:
    try:
        with open(lock) as file:
            status = os.fstat(file.fileno())
            return Found(file.read(HOLDER_BYTES), status.st_ino, status.st_mtime)
    except FileNotFoundError:
        return None


def take_over(lock: str, found: Found, grace_period: float | None) -> bool:
    """Remove the lock `found` (its holder dead, or silent past the grace period), if it is
    still that very file. One waiter at a time, under a second lock file: between its look and
    its removal no one else removes a lock, so no one can have made a new one, and a live
    writer's lock is never touched. A second lock left by a waiter killed inside this goes after
    the grace period. Whether the lock was removed (or gone already)."""
    guard = lock + TAKEOVER_SUFFIX
    try:
        os.close(os.open(guard, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        drop_if_older(guard, grace_period)
        return False  # another waiter is at it: look again after a pause
    try:
        now = look(lock)
        if now is None:
            return True
        if (now.holder, now.inode) != (found.holder, found.inode):
            return False  # taken meanwhile, by a live writer
        os.unlink(lock)
        return True
    finally:
        os.unlink(guard)


def drop_if_older(path: str, seconds: float | None) -> None:
    try:
        if seconds is not None and time.time() - os.stat(path).st_mtime > seconds:
            os.unlink(path)
    except FileNotFoundError:
        pass
