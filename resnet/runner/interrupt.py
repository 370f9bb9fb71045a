"""Ctrl-C and SIGTERM: stop cleanly between two training iterations, never inside one.

While a checkpointed run trains, the first signal only sets a flag: the training loop finishes
its iteration, saves a checkpoint and raises. Anywhere else, and on a second signal, the signal
raises KeyboardInterrupt at once, as Python's default does.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    def __init__(self, signals: tuple[signal.Signals, ...] = SIGNALS) -> None:
        self.signals = signals
        self.requested = False
        self.deferring = False

    def _handle(self, signum, frame) -> None:
        if self.deferring and not self.requested:
            self.requested = True
            # os.write, not print: the signal may land while stderr's buffer is being written
            message = (
                f"\n{signal.Signals(signum).name}: saving a checkpoint after this "
                "iteration (again to stop at once)\n"
            )
            os.write(sys.stderr.fileno(), message.encode())
            return
        raise KeyboardInterrupt

    @contextmanager
    def installed(self) -> Iterator[StopRequest]:
        """The handlers, for the duration of a sweep (only the main thread may set them)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {s: signal.getsignal(s) for s in self.signals}
        for s in self.signals:
            signal.signal(s, self._handle)
        try:
            yield self
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """While training a checkpointed run: the first signal waits for the iteration's end."""
        self.deferring = True
        try:
            yield
        finally:
            self.deferring = False

    def __call__(self) -> bool:
        return self.requested
