"""Change relative to a baseline strategy (default FT), as in Davila's Figs 6-11, and the comparisons that
Table 11 and Table 12 are built from.

The change is (mean − baseline mean) / |baseline mean| × 100, on the reported split, against the baseline row of
the same dataset, source and architecture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from suite.report.config import ReportConfig
from suite.report.naming import arrow, metric_label, source_label, strategy_label
from suite.report.select import Row
from suite.report.stats import relative_change
from suite.report.tables.format import EMPTY, Notes, layout, markdown, ordered


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


def relative_table(rows: list[Row], metrics: list[str], config: ReportConfig) -> list[str]:
    lay = layout(rows)
    per_metric = {
        m: {(*lay.line(c.row), c.row.architecture): c for c in changes(rows, m, config.baseline)}
        for m in metrics
    }
    others = [r for r in rows if (*lay.line(r), r.architecture) in per_metric[metrics[0]]]
    if not others:
        return [f"No strategy besides the baseline {strategy_label(config.baseline)} to compare.", ""]
    archs = ordered(others, lambda r: r.architecture)
    notes = Notes()
    headers = lay.head() + [
        f"{lay.arch(a)} · Δ{metric_label(m)} % {arrow(m)}" for a in archs for m in metrics
    ]
    body = []
    for line in ordered(others, lay.line):
        cells = lay.line_cells(line)
        for a in archs:
            for m in metrics:
                change = per_metric[m].get((*line, a))
                cells.append(_cell(change, notes) if change else "")
        body.append(cells)
    missing = sorted(
        {
            f"{c.row.architecture} ({source_label(c.row.source)})"
            for c in per_metric[metrics[0]].values()
            if c.baseline is None
        }
    )
    lines = [
        f"Change of the mean relative to {strategy_label(config.baseline)} of the same architecture and source, "
        "in % of the baseline's value (positive = higher).",
        "",
        markdown(headers, body),
        "",
    ]
    if missing:
        lines += [f"No {strategy_label(config.baseline)} baseline for: {', '.join(missing)}.", ""]
    return lines + notes.lines()


def _cell(change: Change, notes: Notes) -> str:
    """The % change; one † when either side has fewer finished seeds than asked (both get a footnote)."""
    if change.baseline is None or math.isnan(change.percent):
        return EMPTY
    marks = notes.flag(change.row) + notes.flag(change.baseline)
    return f"{change.percent:+.2f}" + ("†" if "†" in marks else "")
