"""ROC curves in Fang et al.'s layout (their Fig 5): one figure per dataset, a panel per (source, strategy) row, a
curve per architecture, from the run whose test accuracy is closest to the mean over seeds."""

from __future__ import annotations

from suite.report import plots
from suite.report.context import ReportContext
from suite.report.naming import source_label
from suite.report.select import ordered
from suite.report.tables.registry import table


@table("roc", scope="dataset", order=50)
def roc_section(ctx: ReportContext) -> list[str]:
    rows, runs = ctx.rows, ctx.runs_dir
    panels = []
    for source, label in ordered(rows, lambda r: (r.source, r.label)):
        curves = []
        for row in [r for r in rows if (r.source, r.label) == (source, label)]:
            npz = plots.representative(row, runs)
            if npz:
                seed = int(row.ok.loc[row.ok["predictions"] == npz, "seed"].iloc[0])
                curve = plots.roc_curve_of(runs / npz, f"{row.architecture} s{seed}")
                curves += [curve] if curve else []
        panels.append((f"{label} ({source_label(source)})", curves))
    drawn = plots.roc_plot(panels, f"{ctx.dataset}: test ROC", ctx.plot_path("roc", ctx.dataset))
    lines = ctx.plot(drawn)
    if not lines:
        return []
    return [
        "### ROC curves",
        "",
        "Test ROC of the run whose accuracy is closest to the mean over seeds (Fang), one panel per row; "
        "multi-class and multilabel curves are micro-averaged one-vs-rest.",
        "",
        *lines,
    ]
