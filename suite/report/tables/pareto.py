"""The main metric against cost, per dataset: a Pareto plot against MACs and against batch-1 latency
(suite/report/curves.py), and the rows on each front in words."""

from __future__ import annotations

from suite.document import Block, Heading, Para
from suite.report import curves
from suite.report.context import ReportContext
from suite.report.naming import metric_label, source_label
from suite.report.tables.format import factor_of, unit_text
from suite.report.tables.registry import table


@table("pareto", scope="dataset", order=32)
def pareto_section(ctx: ReportContext) -> list[Block]:
    """The figure and the rows on each front; nothing when no row recorded MACs or latency."""
    main, counter = ctx.metrics[0], ctx.config.macs_counter
    costs = [(f"macs_{counter}", f"MACs (G, {counter})"), ("latency_ms", "batch-1 latency (ms)")]
    title = f"{ctx.dataset}: test {metric_label(main)} against cost (mean ± 1 SE over seeds)"
    drawn, fronts = curves.pareto_plot(ctx.rows, main, costs, factor_of(main, ctx.config), title)
    figure = ctx.plot(ctx.plot_path("pareto", str(ctx.dataset)), drawn)
    if not figure:
        return []
    names = {f"macs_{counter}": "MACs", "latency_ms": "latency"}
    on_front = [
        f"on {names[col]}: "
        + ", ".join(
            f"{p.row.architecture} · {p.row.full_label} ({source_label(p.row.source)})" for p in points
        )
        for col, points in fronts.items()
    ]
    return [
        Heading(3, "Accuracy against cost (Pareto)"),
        Para(
            f"The main metric ({metric_label(main)}, mean over seeds {unit_text(ctx.config)} with ±1 SE bars) against "
            "MACs and batch-1 latency, one point per row; the dashed step line is the Pareto front, the rows no "
            "other row beats at the same or lower cost. On the front " + "; ".join(on_front) + "."
        ),
        *figure,
    ]
