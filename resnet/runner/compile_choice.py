"""Compile where it pays on a CPU, timed: for a sweep with a net that trains long enough here to
be worth the question, its deepest net is compiled and stepped against the same net eager, in
this process, before the sweep starts.

Whether torch.compile speeds a step depends on the image size as much as on the CPU: on a 2-core
AMD EPYC Zen 5 in bf16 the compiled ResNet-20 step is 1.8x as fast at CIFAR's 32x32 but slower
at 14x14, where ResNet-56 gains nothing (docs/BENCHMARKS.md). So the choice is measured, not
assumed. Rounds alternate the two and the median ratio decides; compiling is chosen only where
the compiled step is at least MARGIN faster and the time it saves on the timed net's runs is more
than the compilation costs.
"""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass

from resnet.core.config import RunConfig
from resnet.core.data import Dataset
from resnet.core.step import BareSteps
from resnet.runner.estimate import human_duration

MARGIN = 1.10  # a compiled step this much faster (or more) makes compiling the choice
ROUNDS, STEPS = 3, 5  # per round: STEPS timed steps of each, after the compiling steps
COMPILING_STEPS = 3  # the first steps of a compiled net: compiling, then its recompilations


@dataclass(frozen=True)
class CompileChoice:
    """The timed choice for a sweep: `compile` or not, from `net`'s compiled step being
    `speedup` times as fast as its eager one, at a compilation of `compile_seconds`, on
    `net_seconds` of that net's training (eager, all seeds)."""

    compile: bool
    speedup: float
    compile_seconds: float
    net_seconds: float
    net: str

    def line(self) -> str:
        """What the user reads before the sweep starts."""
        timed = (
            f"compiled, {self.net} stepped {self.speedup:.2f}x as fast as eager here "
            f"(compiling it took {self.compile_seconds:.0f} s)"
        )
        if self.compile:
            return f"Compiling each net (torch.compile): {timed}; --no-compile trains eager."
        return (
            f"Training eager: {timed}, short of what pays the compilation back on "
            f"{human_duration(self.net_seconds)} of its training; --compile compiles anyway."
        )


def pays_back(speedup: float, compile_seconds: float, net_seconds: float) -> bool:
    """Whether compiling is worth it: a step at least MARGIN faster, and more time saved on
    `net_seconds` of eager training than the compilation takes."""
    saved = net_seconds * (1 - 1 / speedup)
    return speedup >= MARGIN and saved > compile_seconds


def choose_compile(config: RunConfig, dataset: Dataset, net_seconds: float) -> CompileChoice:
    """Time `config`'s net compiled against eager and choose, for `net_seconds` of its
    training (what the eager projection gave it)."""
    compiled = BareSteps(dataclasses.replace(config, compile=True), dataset)
    eager = BareSteps(dataclasses.replace(config, compile=False), dataset)
    compile_seconds = compiled.run(COMPILING_STEPS)
    eager.run(1)
    ratios = [eager.run(STEPS) / compiled.run(STEPS) for _ in range(ROUNDS)]
    speedup = statistics.median(ratios)
    return CompileChoice(
        compile=pays_back(speedup, compile_seconds, net_seconds),
        speedup=speedup,
        compile_seconds=compile_seconds,
        net_seconds=net_seconds,
        net=f"{config.arch}-{config.depth}",
    )
