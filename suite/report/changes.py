"""Change relative to a baseline strategy (default FT), which the relative table and plot (Davila's Figs 6-11),
Table 11, Table 12 and the significance section are built from.

The change is (mean − baseline mean) / |baseline mean| × 100, on the reported split, against the baseline row of
the same dataset, source and architecture.
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
        value = row.metric(metric).mean
        percent = relative_change(value, ref.metric(metric).mean) if ref else math.nan
        out.append(Change(row, ref, metric, percent))
    return out


def improved(change: Change, threshold_pct: float) -> bool:
    """A win in the metric's good direction by more than the threshold (Davila: > 0.1%)."""
    if math.isnan(change.percent):
        return False
    sign = 1.0 if arrow(change.metric) == "↑" else -1.0
    return sign * change.percent > threshold_pct
