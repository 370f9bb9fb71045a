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
            return f"in {left}{shown(self.low)}, {shown(self.high)}{right}"
        finite = " and finite" if real else ""
        if self.low is None:
            return f"{'below' if self.high_open else 'at most'} {shown(self.high)}{finite}"
        if self.low == 0:
            return ("positive" if self.low_open else "zero or positive") + finite
        return f"{'above' if self.low_open else 'at least'} {shown(self.low)}{finite}"


def shown(number: float) -> str:
    """10000000, not 1e+07: a bound as the user would type it."""
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


POSITIVE = Bounds(low=0, low_open=True)
NOT_NEGATIVE = Bounds(low=0)
