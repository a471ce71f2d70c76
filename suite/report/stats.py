"""Mean and standard error over seeds, the one aggregation every table uses.

SE = sample std (ddof = 1) / √n over the seeds where the value is defined. NaN values (an undefined metric) are
left out of the mean but counted, so a table can say "defined in 2 of 3 seeds" instead of averaging silently.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Stat:
    mean: float
    se: float
    n: int  # values that were defined
    total: int  # values offered (finished seeds)

    @property
    def defined(self) -> bool:
        return self.n > 0

    @property
    def partial(self) -> bool:
        """Some finished seeds had this value undefined (NaN)."""
        return 0 < self.n < self.total

    @property
    def sd(self) -> float:
        """The sample standard deviation (ddof 1) over the defined values: SE × √n (Peng reports mean ± SD)."""
        return self.se * math.sqrt(self.n) if self.n > 1 else math.nan


def mean_se(values: Iterable[float]) -> Stat:
    array = np.asarray([math.nan if v is None else float(v) for v in values], dtype=float)
    defined = array[~np.isnan(array)]
    n = len(defined)
    if n == 0:
        return Stat(math.nan, math.nan, 0, len(array))
    se = float(np.std(defined, ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return Stat(float(np.mean(defined)), se, n, len(array))


def relative_change(value: float, baseline: float) -> float:
    """Percent change of `value` over `baseline` (Davila's Figs 6-11); NaN when the baseline is 0 or undefined."""
    if math.isnan(value) or math.isnan(baseline) or baseline == 0:
        return math.nan
    return (value - baseline) / abs(baseline) * 100.0
