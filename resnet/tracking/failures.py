"""Failures of what keeps the runs, not of the cell that met them: an MLflow server that stopped
answering, a disk that is full or read-only. Every later cell would meet them too, so the sweep
stops at the first one, in one line, with the cell resumable, rather than fail cell after cell.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator

import requests

DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO}
SERVER_SIGNS = ("Max retries exceeded", "Connection refused", "Connection aborted", "timed out")
DATABASE_SIGNS = ("database or disk is full", "disk I/O error", "attempt to write a readonly")


def store_failure(exc: BaseException) -> str | None:
    """What failed underneath the runs, in a few words, when `exc` (or what caused it) is such
    a failure; else None."""
    for cause in causes(exc):
        if isinstance(cause, OSError) and cause.errno in DISK_ERRORS:
            where = f" ({cause.filename})" if cause.filename else ""
            return f"the disk refused a write: {cause.strerror}{where}"
        if isinstance(cause, requests.ConnectionError | requests.Timeout):
            return "the MLflow server stopped answering"
        text = str(cause)
        if any(sign in text for sign in SERVER_SIGNS):
            return "the MLflow server stopped answering"
        if any(sign in text for sign in DATABASE_SIGNS):
            return f"the MLflow store's database refused a write ({first_sign(text)})"
    return None


def causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then what raised it, and so on (each once)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def first_sign(text: str) -> str:
    return next(sign for sign in DATABASE_SIGNS if sign in text)
