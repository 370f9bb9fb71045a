"""A number's allowed range, written once on a config field: it checks values and words both
the error and the command line's help."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Bounds:
    """low <= value <= high (< where open); None: no bound on that side. Floats must also be
    finite: no range of a training setting holds inf or nan."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def allows(self, value: float) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False
        above = self.low is None or value > self.low or (value == self.low and not self.low_open)
        below = (
            self.high is None or value < self.high or (value == self.high and not self.high_open)
        )
        return above and below

    def describe(self, real: bool) -> str:
        """'positive', 'at least 8', 'in [0, 1)', ...; `real` adds 'and finite' where there is
        no upper bound."""
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"in {left}{number_text(self.low)}, {number_text(self.high)}{right}"
        finite = " and finite" if real else ""
        if self.low is None:
            return f"{'below' if self.high_open else 'at most'} {number_text(self.high)}{finite}"
        if self.low == 0:
            return ("positive" if self.low_open else "zero or positive") + finite
        return f"{'above' if self.low_open else 'at least'} {number_text(self.low)}{finite}"


def number_text(number: float) -> str:
    """10000000, not 1e+07: a bound as the user would type it."""
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


POSITIVE = Bounds(low=0, low_open=True)
NOT_NEGATIVE = Bounds(low=0)


# Upper bounds on every size a user sets, in one table: far above any real study (the paper:
# 64k iterations of batch 128, 16 tuning trials), low enough that a typo is refused before it
# starts weeks of compute, a huge allocation, or thousands of processes, and that every list
# fits the 6,000 characters of an MLflow param (else the recorded grid would be cut).
MAX_ITERATIONS = 10_000_000  # training iterations (also benchmark steps and rounds)
MAX_BATCH = 65_536  # images a step
MAX_IMAGE_SIZE = 1024  # pixels a side: ImageNet's nets take 224; a 2000-pixel batch is GBs
MAX_IMAGES = 100_000_000  # a training subset or validation split
MAX_GENERATED_IMAGES = 1_000_000  # the benchmark's generated images, in memory: 3 GB at 32x32
MAX_TRIALS = 10_000  # tuning trials of a study: Optuna keeps each one in memory
MAX_CELLS = 10_000  # cells of a sweep (archs x depths x seeds), or of a throughput run
MAX_LIST = 500  # values of one list (seeds, milestones): 500 seeds near 2^32 fill 6,000 characters
MAX_PROCESSES = 256  # worker or data-loader processes one command starts on one machine
# Rates and factors (lr, weight decay, the divergence factor): far above any real value (the
# paper: lr 0.1, weight decay 1e-4), far below float32's 3.4e38. The optimizer turns lr and
# weight decay into float32 scalars: above that it stops with an overflow instead of stepping.
MAX_RATE = 1_000_000


# The verdict's margin, points of training error: a depth penalty counts as degradation only
# when its confidence interval lies above it (docs/ANALYSIS.md, which says when it was set). The
# sweep's default, and the analysis's for sweeps logged without one.
DEFAULT_MARGIN = 2.0
MARGIN_RANGE = Bounds(low=0, high=100, low_open=True, high_open=True)
