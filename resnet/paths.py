"""One check of every path a user names, made before any work: a name the file system can hold,
the right kind of thing (a regular file or a folder: never a FIFO or a device, which would hang
or swallow what is written), and the access the command needs. Every command and option uses it,
so a bad path is one line that names the option, the path and what is wrong.
"""

from __future__ import annotations

import errno
import os
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path

SHOWN_NAME = 60  # characters of a path shown in a message; a 4,000-character one is not read


class PathError(ValueError):
    """A path that cannot serve; the message is the one line the user sees."""


@dataclass(frozen=True)
class Need:
    """What a path must be: a folder or a regular file, read or written, there already or made
    by the command (its nearest existing folder must then be writable)."""

    folder: bool
    write: bool
    exists: bool


READ_FILE = Need(folder=False, write=False, exists=True)
READ_FOLDER = Need(folder=True, write=False, exists=True)
WRITE_FILE = Need(folder=False, write=True, exists=False)  # written, made where missing
WRITE_FOLDER = Need(folder=True, write=True, exists=False)


def shown(path: Path | str) -> str:
    """A path or name as a message shows it: control characters escaped, cut to SHOWN_NAME."""
    text = escaped(str(path))
    return text if len(text) <= SHOWN_NAME else text[: SHOWN_NAME - 1] + "…"


def escaped(text: object) -> str:
    """`text` with every control character (a newline, ESC, BEL, ...), line or paragraph
    separator and undecodable byte written as its escape (\\n, \\x1b): a message that echoes a
    user's string stays one line and sends the terminal nothing but text."""
    return "".join(
        c.encode("unicode_escape", "backslashreplace").decode("ascii")
        if unicodedata.category(c) in UNSHOWN
        else c
        for c in str(text)
    )


# Unicode categories escaped in messages: controls, line and paragraph separators, surrogates
# (how a file name's undecodable bytes arrive)
UNSHOWN = ("Cc", "Zl", "Zp", "Cs")


def holds_unshown(text: str) -> bool:
    """Whether `text` holds a character that `escaped` would escape: one that could end a line
    or reach the terminal as a command."""
    return any(unicodedata.category(c) in UNSHOWN for c in text)


def checked(path: Path | str, need: Need, option: str) -> Path:
    """`path` if it can serve as `need` says, else PathError('<option> <path>: <why>')."""
    path = Path(path)
    problem = path_problem(path, need)
    if problem is not None:
        raise PathError(f"{option} {shown(path)}: {problem}")
    return path


def path_problem(path: Path, need: Need) -> str | None:
    """Why `path` cannot serve as `need` says, else None."""
    problem = name_problem(path)
    if problem is not None:
        return problem
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return missing_problem(path, need)
    except OSError as exc:
        return stat_problem(exc)
    return kind_problem(mode, need) or access_problem(path, need)


def name_problem(path: Path) -> str | None:
    """A name longer than the file system holds (ENAMETOOLONG on every use), or a NUL byte."""
    if "\0" in str(path):
        return "a path cannot hold a NUL character"
    longest = os.pathconf("/", "PC_NAME_MAX")
    for part in path.parts:
        if len(os.fsencode(part)) > longest:
            return (
                f"the name {shown(part)!r} is {len(os.fsencode(part))} bytes long; "
                f"the file system allows at most {longest}"
            )
    whole = os.pathconf("/", "PC_PATH_MAX")
    if len(os.fsencode(os.path.abspath(path))) >= whole:
        return f"the path is longer than the {whole} bytes the file system allows"
    return None


def missing_problem(path: Path, need: Need) -> str | None:
    """A missing path is fine where the command makes it, in a folder it may write."""
    if need.exists:
        return f"no such {'folder' if need.folder else 'file'}"
    parent = nearest_existing(path.absolute().parent)
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot write there ({shown(parent)} is not writable)"
    return None


def is_missing(path: Path) -> bool:
    """No such file or folder (one behind a folder we may not read is not missing: unknown)."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return False


def nearest_existing(folder: Path) -> Path:
    while not os.path.lexists(folder) and folder != folder.parent:
        folder = folder.parent
    return folder


def stat_problem(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "a symbolic link loop"
    if exc.errno == errno.EACCES:
        return "permission denied on a folder on the way to it"
    if exc.errno == errno.ENOTDIR:
        return "a part of the path on the way to it is a file, not a folder"
    return exc.strerror or type(exc).__name__


def kind_problem(mode: int, need: Need) -> str | None:
    if stat.S_ISDIR(mode):
        return None if need.folder else "is a folder, not a file"
    if stat.S_ISREG(mode):
        return "is a file, not a folder" if need.folder else None
    kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a device or socket"
    return f"is {kind}, not {'a folder' if need.folder else 'a regular file'}"


def access_problem(path: Path, need: Need) -> str | None:
    wanted = (os.W_OK if need.write else os.R_OK) | (os.X_OK if need.folder else 0)
    if os.access(path, wanted):
        return None
    return f"not {'writable' if need.write else 'readable'} (permission denied)"
