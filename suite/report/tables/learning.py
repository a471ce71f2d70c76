"""Learning curves per strategy: training loss and the validation metric per epoch, from each finished seed's
`history`, the mean over seeds with a min–max band (suite/report/curves.py)."""

from __future__ import annotations

from suite.document import Block, Heading, Para
from suite.report import curves
from suite.report.context import ReportContext
from suite.report.naming import metric_label
from suite.report.tables.format import factor_of
from suite.report.tables.registry import table


@table("learning_curves", scope="dataset", order=45)
def learning_section(ctx: ReportContext) -> list[Block]:
    """The figure, on the main metric when training recorded it per epoch, else on the validation loss."""
    main = ctx.metrics[0]
    ids = [i for row in ctx.rows if row.chosen for i in row.ok["id"]]
    key = curves.validation_key([ctx.results[i] for i in ids if i in ctx.results], main)
    title = f"{ctx.dataset}: learning curves (mean over seeds, band = min to max)"
    drawn = curves.learning_plot(ctx.rows, ctx.results, key, factor_of(main, ctx.config), title)
    figure = ctx.plot(ctx.plot_path("learning", str(ctx.dataset)), drawn)
    if not figure:
        return []
    measured = metric_label(main) if key != "val_loss" else "loss (the metric training monitored)"
    return [
        Heading(3, "Learning curves"),
        Para(
            f"Per strategy row: training loss and validation {measured} per epoch, one line per architecture, the mean "
            "over the seeds that reached each epoch with a band from their minimum to their maximum (early stopping "
            "ends seeds at different epochs)."
        ),
        *figure,
    ]
