"""ROC curves in Fang et al.'s layout (their Fig 5): one figure per dataset, a panel per (source, strategy) row, per
architecture the mean test ROC over seeds (each seed's curve from its `<slug>.npz` predictions, interpolated on a
common false-positive-rate grid) with a ±1 SD band."""

from __future__ import annotations

from suite.document import Block, Heading, Para
from suite.report import plots
from suite.report.context import ReportContext
from suite.report.naming import source_label
from suite.report.select import ordered
from suite.report.tables.registry import table


@table("roc", scope="dataset", order=50)
def roc_section(ctx: ReportContext) -> list[Block]:
    """A panel per (source, strategy) row, a mean curve with its band per architecture; nothing without predictions."""
    rows, runs = ctx.rows, ctx.runs_dir
    panels = []
    for source, label in ordered(rows, lambda r: (r.source, r.label)):
        group = [r for r in rows if (r.source, r.label) == (source, label)]
        curves = [plots.mean_curve(row, runs, row.architecture) for row in group]
        panels.append((f"{label} ({source_label(source)})", [c for c in curves if c is not None]))
    title = f"{ctx.dataset}: test ROC, mean over seeds ± 1 SD"
    figure = ctx.plot(ctx.plot_path("roc", ctx.dataset), plots.roc_plot(panels, title))
    if not figure:
        return []
    return [
        Heading(3, "ROC curves"),
        Para(
            "Test ROC per row: the mean over seeds of each seed's curve (interpolated on a common false-positive-"
            "rate grid), with a ±1 SD band; the legend gives the mean AUC ± SD over seeds. Multi-class and "
            "multilabel curves are micro-averaged one-vs-rest."
        ),
        *figure,
    ]
