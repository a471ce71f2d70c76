"""Change relative to a baseline strategy (default FT), as in Davila's Figs 6-11: a table and a bar plot.

The change is (mean − baseline mean) / |baseline mean| × 100, on the reported split, against the baseline row of
the same dataset, source and architecture (suite/report/changes.py); the plot's error bars are its ±1 SE by the
delta method.
"""

from __future__ import annotations

import math

from suite.document import Block, Heading, Para
from suite.document import table as make_table
from suite.matrix.report import ReportConfig
from suite.report import plots
from suite.report.changes import Change, changes
from suite.report.context import ReportContext
from suite.report.naming import arrow, metric_label, source_label, strategy_label
from suite.report.select import Row, ordered
from suite.report.tables.format import EMPTY, Notes, layout
from suite.report.tables.registry import table


@table("relative", scope="dataset", order=20)
def relative_section(ctx: ReportContext) -> list[Block]:
    """The table of every metric's change and the bar plot of the main metric's, with its error bars."""
    baseline, dataset, metrics = ctx.config.baseline, ctx.dataset, ctx.metrics
    blocks = [
        Heading(3, f"Relative to {strategy_label(baseline)}"),
        *relative_table(ctx.rows, metrics, ctx.config),
    ]
    drawn = plots.relative_plot(changes(ctx.rows, metrics[0], baseline), dataset, baseline)
    figure = ctx.plot(ctx.plot_path("relative", dataset), drawn)
    if figure:
        blocks.append(
            Para(
                f"The plot's error bars are ±1 SE of the change of {metric_label(metrics[0])}, by the delta method "
                "for a ratio of two means whose SEs over seeds are treated as independent."
            )
        )
    return blocks + figure


def relative_table(rows: list[Row], metrics: list[str], config: ReportConfig) -> list[Block]:
    lay = layout(rows)
    per_metric = {
        m: {(*lay.line(c.row), c.row.architecture): c for c in changes(rows, m, config.baseline)}
        for m in metrics
    }
    others = [r for r in rows if (*lay.line(r), r.architecture) in per_metric[metrics[0]]]
    if not others:
        return [Para(f"No strategy besides the baseline {strategy_label(config.baseline)} to compare.")]
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
    caption = (
        f"Change of the mean relative to {strategy_label(config.baseline)} of the same architecture and source, "
        "in % of the baseline's value (positive = higher)."
    )
    absent = [f"No {strategy_label(config.baseline)} baseline for: {', '.join(missing)}."] * bool(missing)
    return [make_table(headers, body, caption, [*absent, *notes.items()])]


def _cell(change: Change, notes: Notes) -> str:
    """The % change; one † when either side has fewer finished seeds than asked (both get a footnote)."""
    if change.baseline is None or math.isnan(change.percent):
        return EMPTY
    marks = notes.flag(change.row) + notes.flag(change.baseline)
    return f"{change.percent:+.2f}" + ("†" if "†" in marks else "")
