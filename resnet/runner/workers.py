"""`--workers N`: N worker processes on one sweep, on this machine.

The launching process sets the sweep up (its MLflow run, its cells enqueued in the Optuna
storage), then starts the workers (`python -m resnet.runner.worker`, which reads its sweep and
stores from its environment: no address, and so no password, is on any command line), and each
pulls cells from the shared queue until none is left. On a machine with GPUs the workers are
spread over them (`CUDA_VISIBLE_DEVICES`, at most `--jobs-per-gpu` on each); the CPU cores are
split between them (torch threads per worker). The launcher shows the sweep's progress,
prefixes each worker's output with its number, and passes a Ctrl-C or SIGTERM on to the
workers, which then stop at their next iteration with a checkpoint.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from tqdm.auto import tqdm

from resnet.core.bounds import MAX_PROCESSES
from resnet.runner.cell_queue import CellQueue
from resnet.runner.storage import POLL_SECONDS
from resnet.runner.worker import COMMAND

# A worker still running this long after the last cell ended is stuck outside any cell (its
# cells' heartbeats cover those): the launcher stops it rather than wait for it forever.
LINGER_SECONDS = 600.0
KILL_AFTER_SECONDS = 30.0  # after SIGTERM: a process stuck in a system call ignores it
# A worker's output stays open after it exits while a child of it lives on (one it left behind
# when it exited at once, say): the launcher waits this long for the end of that output.
LEFTOVER_SECONDS = 10.0


class PlacementError(ValueError):
    """Workers that do not fit this machine; the message is the one line the user sees."""


@dataclass(frozen=True)
class Placement:
    """Where one worker runs: its environment and the device it is told to use (None: the
    sweep's own)."""

    env: dict[str, str]
    device: str | None
    where: str


def usable_cores() -> int:
    """The cores this process may run on (a container's or a cluster task's share)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return cores or 1


def plan(workers: int, device: str, gpus: list[int], cores: int, jobs_per_gpu: int | None):
    """One placement per worker: round-robin over the GPUs, at most `jobs_per_gpu` on each; on
    CPU, the cores split evenly."""
    if not 1 <= workers <= MAX_PROCESSES:
        raise PlacementError(f"--workers must be in [1, {MAX_PROCESSES}], got {workers}")
    threads = max(1, cores // workers)
    if device != "cuda":
        if jobs_per_gpu is not None:
            raise PlacementError(f"--jobs-per-gpu needs GPUs; the device here is {device}")
        cpu = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        where = f"cpu, {threads} thread" + ("s" if threads > 1 else "")
        if workers > cores:
            where += f" ({workers} workers share {cores} cores: they slow each other down)"
        return [Placement(cpu, None, where) for _ in range(workers)]
    capacity = len(gpus) * (jobs_per_gpu or workers)
    if workers > capacity:
        raise PlacementError(
            f"--workers {workers} exceeds {len(gpus)} GPU(s) x --jobs-per-gpu {jobs_per_gpu}"
        )
    placements = []
    for i in range(workers):
        gpu = gpus[i % len(gpus)]
        env = {"CUDA_VISIBLE_DEVICES": str(gpu), "OMP_NUM_THREADS": str(threads)}
        placements.append(Placement(env, "cuda", f"GPU {gpu}"))
    return placements


class Launch:
    """The running workers of one launch."""

    def __init__(self, commands: Sequence[tuple[Sequence[str], dict[str, str]]]):
        """Start one worker per (command, extra environment)."""
        self.processes = [
            subprocess.Popen(
                command,
                env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,  # a terminal's Ctrl-C reaches them through us, once
            )
            for command, env in commands
        ]
        self.stopped: list[int] = []  # the numbers of workers stopped for lingering
        self.printers = [
            threading.Thread(target=self.forward, args=(i, p.stdout), daemon=True)
            for i, p in enumerate(self.processes, 1)
        ]
        for printer in self.printers:
            printer.start()

    @staticmethod
    def forward(number: int, stream) -> None:
        """Print a worker's lines; keep draining them even when printing fails (a closed
        terminal), so that the worker never blocks on a full pipe."""
        for line in stream:
            with contextlib.suppress(OSError, ValueError):
                tqdm.write(f"[worker {number}] {line.rstrip()}", file=sys.stderr)

    def signal(self, signum: int) -> None:
        for process in self.processes:  # a hang-up reaches them as SIGTERM: stop, checkpoint
            if process.poll() is None:
                process.send_signal(signal.SIGTERM if signum == signal.SIGHUP else signum)

    def running(self) -> bool:
        return any(p.poll() is None for p in self.processes)

    def wait(self, queue: CellQueue, total: int, progress: bool) -> list[int]:
        """Show the sweep's progress until every worker has exited; their exit codes. Workers
        still running `LINGER_SECONDS` after the queue has run dry are stopped."""
        idle_since = None
        with tqdm(total=total, desc="sweep", unit="run", disable=not progress) as bar:
            while self.running():
                show_done(bar, queue)
                idle_since = None if still_busy(queue) else (idle_since or time.monotonic())
                if idle_since is not None and time.monotonic() - idle_since > LINGER_SECONDS:
                    self.stop_lingering()
                time.sleep(POLL_SECONDS)
            show_done(bar, queue)
        self.read_to_the_end()
        return [p.wait() for p in self.processes]

    def read_to_the_end(self) -> None:
        """Print the rest of each exited worker's output; kill what still holds it open."""
        pairs = zip(self.processes, self.printers, strict=True)
        for number, (process, printer) in enumerate(pairs, 1):
            printer.join(timeout=LEFTOVER_SECONDS)
            if printer.is_alive():
                tqdm.write(
                    f"worker {number}: exited, but processes it started still hold its "
                    "output; stopping them",
                    file=sys.stderr,
                )
                signal_group(process, signal.SIGKILL)  # the group outlives its leader
                printer.join()

    def stop_lingering(self) -> None:
        for number, process in enumerate(self.processes, 1):
            if process.poll() is None:
                self.stopped.append(number)
                tqdm.write(
                    f"worker {number}: still running {LINGER_SECONDS:.0f} s after the "
                    "last cell ended; stopping it",
                    file=sys.stderr,
                )
                signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + KILL_AFTER_SECONDS
        for process in self.processes:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                signal_group(process, signal.SIGKILL)
                process.wait()


def signal_group(process: subprocess.Popen, signum: int) -> None:
    """The worker and its own children (each worker leads a process group of its own)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def still_busy(queue: CellQueue) -> bool:
    """Cells wait or run; also when the storage cannot tell for a moment."""
    try:
        return queue.busy()
    except Exception:
        return True


def show_done(bar: tqdm, queue: CellQueue) -> None:
    with contextlib.suppress(Exception):  # a storage away for a moment must not end the launch
        bar.n = queue.done_count()
        bar.refresh()


def run_workers(workers: list[tuple[Placement, dict[str, str]]], queue, total, progress):
    """Start the workers, each (placement, its spec's environment), and wait for them, passing
    SIGINT and SIGTERM on; (exit codes, whether the launch was interrupted, the numbers of
    workers stopped for lingering)."""
    for i, (placement, _) in enumerate(workers, 1):
        print(f"worker {i}: {placement.where}", file=sys.stderr)
    interrupted = []
    launch = None

    def pass_on(signum, frame) -> None:
        interrupted.append(signum)
        if launch is not None:
            launch.signal(signum)

    # SIGHUP too: a closed terminal must stop the workers cleanly, not orphan them.
    passed = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    handlers = {s: signal.signal(s, pass_on) for s in passed}
    try:
        launch = Launch([(COMMAND, {**placement.env, **spec}) for placement, spec in workers])
        if interrupted:  # it came while they were starting
            launch.signal(interrupted[0])
        codes = launch.wait(queue, total, progress)
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    return codes, bool(interrupted), launch.stopped
