"""Workers by throughput on a CPU: one worker with every thread, or one worker per core (each
with its share of the threads), whichever trains faster here, timed before the sweep starts.

Both layouts are timed on the sweep's deepest net, which sets most of its time, in this
process: all threads on one model, then one model per worker trained at once by as many Python
threads, each with its share of the threads (a stand-in for the worker processes: the kernels
release the GIL, and the Python work between them is a few percent of a step). Rounds alternate
the two layouts and the median ratio decides. One worker stays unless the others are at least
MARGIN faster: step times on a shared machine scatter from round to round, and one
worker keeps a sweep's numbers the same from one run to the next on a machine (a net's
arithmetic, and so its last digits, depends on its thread count).
"""

from __future__ import annotations

import dataclasses
import statistics
import threading
from dataclasses import dataclass

import torch

from resnet.core.config import RunConfig
from resnet.core.data import Dataset
from resnet.core.step import BareSteps
from resnet.runner.estimate import plural

MARGIN = 1.15  # the per-core layout's throughput over one worker's that makes it the choice
ROUNDS, STEPS = 3, 5  # per round: STEPS timed steps of each layout, after one untimed step


def per_core_workers(threads: int, jobs: int) -> int:
    """How many workers the per-core layout has: one per thread of this process (a core, or
    the user's OMP_NUM_THREADS), at most one per job."""
    return max(1, min(threads, jobs))


@dataclass(frozen=True)
class Layout:
    """The timed choice: `workers` to run, and the throughput of `candidate` workers of
    `threads` threads each over that of one worker of `all_threads` (`speedup`)."""

    workers: int
    candidate: int
    threads: int
    all_threads: int
    speedup: float
    net: str

    def line(self) -> str:
        """What the user reads before the sweep starts."""
        each = f"{self.candidate} workers of {plural(self.threads, 'thread')} each"
        one = f"one worker of {plural(self.all_threads, 'thread')}"
        timed = f"{self.speedup:.2f}x the throughput of {one}"
        if self.workers > 1:
            return (
                f"Workers: {each}, which trained {timed} here (timed on {self.net}); "
                "--workers 1 keeps one."
            )
        return (
            f"Workers: {one}; {each} trained {timed} here (timed on "
            f"{self.net}), short of the {MARGIN:.2f}x that changes it; --workers "
            f"{self.candidate} uses them anyway."
        )


def choose_layout(config: RunConfig, dataset: Dataset, jobs: int) -> Layout | None:
    """The faster layout for `jobs` runs (cells and trials) of nets like `config`, sharing
    this process's threads; None where there is nothing to choose (one thread, or one job)."""
    all_threads = torch.get_num_threads()
    candidate = per_core_workers(all_threads, jobs)
    if candidate < 2:
        return None
    threads = all_threads // candidate
    speedup = per_core_speedup(config, dataset, candidate, threads)
    workers = candidate if speedup >= MARGIN else 1
    net = f"{config.arch}-{config.depth}"
    return Layout(workers, candidate, threads, all_threads, speedup, net)


def per_core_speedup(config: RunConfig, dataset: Dataset, workers: int, threads: int) -> float:
    """Images a second of `workers` models trained at once with `threads` threads each, over
    those of one model with all of this process's threads: the median of ROUNDS rounds."""
    all_threads = torch.get_num_threads()
    alone = Stepper(config, dataset)
    together = [Stepper(config, dataset) for _ in range(workers)]
    ratios = []
    try:
        for _ in range(ROUNDS):
            torch.set_num_threads(all_threads)
            one = alone.seconds()
            torch.set_num_threads(threads)
            many = at_once(together)
            ratios.append(workers * one / many)
    finally:
        torch.set_num_threads(all_threads)
    return statistics.median(ratios)


def at_once(steppers: list[Stepper]) -> float:
    """Seconds a step of the slowest of `steppers`, all stepping at the same time."""
    start = threading.Barrier(len(steppers))
    seconds = [0.0] * len(steppers)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            seconds[i] = steppers[i].seconds(start)
        except BaseException as exc:  # raised again below, in the caller's thread
            errors.append(exc)
            start.abort()  # the others stop waiting for this one

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(steppers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return max(seconds)


class Stepper:
    """One net of `config` stepping eager, timed once it and its fellows start together."""

    def __init__(self, config: RunConfig, dataset: Dataset):
        self.steps = BareSteps(dataclasses.replace(config, compile=False), dataset)

    def seconds(self, start: threading.Barrier | None = None) -> float:
        """Seconds a step over STEPS steps, after an untimed one (and `start`, if given)."""
        self.steps.run(1)
        if start is not None:
            start.wait()
        return self.steps.run(STEPS) / STEPS
