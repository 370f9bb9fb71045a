"""The start-up clock: how long a command took from its start to its first training step.

The entry point starts the clock before its heavy imports; the first training step of the
process stops it and says the time once, so a slow start (imports, data, store, projection)
is seen, not guessed.
"""

from __future__ import annotations

import sys
import time

from tqdm.auto import tqdm

_started: float | None = None  # perf_counter() when the command started; None: not timed


def start(at: float | None = None) -> None:
    """Start the clock (at `at`, a perf_counter() reading taken earlier, else now)."""
    global _started
    _started = time.perf_counter() if at is None else at


def first_step_done() -> float | None:
    """Say how long the first training step took to come, once per started clock."""
    global _started
    if _started is None:
        return None
    seconds, _started = time.perf_counter() - _started, None
    tqdm.write(
        f"First training step {seconds:.1f} s after the start (imports, data, store "
        "and projection included)",
        file=sys.stderr,
    )  # above any progress bar
    return seconds
