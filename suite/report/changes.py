"""Change relative to a baseline strategy (default FT), which the relative table and plot (Davila's Figs 6-11),
Table 11, Table 12 and the significance section are built from.

The change is (mean − baseline mean) / |baseline mean| × 100, on the reported split, against the baseline row of
the same dataset, source and architecture. Its standard error is the delta method's for a ratio of two means,
SE = 100 · √(SE_m² / b² + m² · SE_b² / b⁴), with the two means' SEs over seeds treated as independent (the rows'
seeds are not paired: either may have failed cells); NaN when either mean has a single seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from suite.report.naming import arrow, strategy_label
from suite.report.select import Row
from suite.report.stats import relative_change


@dataclass(frozen=True)
class Change:
    row: Row
    baseline: Row | None
    metric: str
    percent: float  # NaN when there is no baseline or a mean is undefined
    se: float = math.nan  # the delta method's SE of `percent` (module docstring)


def relative_se(value: float, value_se: float, baseline: float, baseline_se: float) -> float:
    """SE of 100 · (m − b) / |b| by the delta method, m and b independent (module docstring)."""
    if baseline == 0 or any(math.isnan(x) for x in (value, value_se, baseline, baseline_se)):
        return math.nan
    return 100.0 * math.sqrt(value_se**2 / baseline**2 + value**2 * baseline_se**2 / baseline**4)


def baselines(rows: list[Row], baseline: str) -> dict[tuple[str, str, str], Row]:
    """(dataset, source, architecture) → the baseline strategy's row (its first, if sweeps are shown as rows)."""
    found: dict[tuple[str, str, str], Row] = {}
    for row in rows:
        if row.base == baseline and row.label.startswith(strategy_label(baseline)):
            found.setdefault((row.dataset, row.source, row.architecture), row)
    return found


def changes(rows: list[Row], metric: str, baseline: str) -> list[Change]:
    """Every non-baseline row against its baseline, on `metric`."""
    base = baselines(rows, baseline)
    out = []
    for row in rows:
        ref = base.get((row.dataset, row.source, row.architecture))
        if ref is row:
            continue
        stat = row.metric(metric)
        ref_stat = ref.metric(metric) if ref else None
        percent = relative_change(stat.mean, ref_stat.mean) if ref_stat else math.nan
        se = relative_se(stat.mean, stat.se, ref_stat.mean, ref_stat.se) if ref_stat else math.nan
        out.append(Change(row, ref, metric, percent, se))
    return out


def improved(change: Change, threshold_pct: float) -> bool:
    """A win in the metric's good direction by more than the threshold (Davila: > 0.1%)."""
    if math.isnan(change.percent):
        return False
    sign = 1.0 if arrow(change.metric) == "↑" else -1.0
    return sign * change.percent > threshold_pct
