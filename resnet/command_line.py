"""What every command line of the project shares, depth_sweep.py's and the report's alike: bad
input is one line on stderr and exit code 2, never argparse's usage block."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from resnet.paths import escaped

EXIT_BAD_INPUT = 2


class InputError(Exception):
    """Bad command-line input; the message is the one line the user sees."""


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports bad input in one line instead of usage + error."""

    def error(self, message: str):
        raise InputError(message)


def bad_input(prog: str, message: str) -> int:
    """Say what is wrong in one line (the caller hides any password in it first); the exit
    code of bad input."""
    print(f"{prog}: error: {escaped(message)}", file=sys.stderr)
    return EXIT_BAD_INPUT


def tolerant_output() -> None:
    """Print what the terminal's encoding cannot show (say 'τ' under a Latin-1 or C locale) as
    '?' instead of stopping with UnicodeEncodeError; files are written as UTF-8 regardless."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        if hasattr(stream, "reconfigure") and encoding != "utf8":
            stream.reconfigure(errors="replace")


def comma_list(item_type: Callable, what: str) -> Callable[[str], list]:
    def parse(text: str) -> list:
        try:
            values = [item_type(v.strip()) for v in text.split(",") if v.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a comma-separated list") from None
        if not values:
            raise argparse.ArgumentTypeError(f"{what} must not be empty")
        return values

    return parse
