"""Per-dataset results in Davila et al.'s layout (their Tables 3-10), plus what validation chose.

Rows are strategies (with the source when a dataset has several), columns architecture × the dataset's primary
metrics, cells "mean (SE)" over seeds. Bold: the best per architecture and metric; the best of that metric over
all architectures is bold and underlined in HTML and LaTeX, bold with ★ in markdown (which cannot underline).
Ties, as printed, share the emphasis.
"""

from __future__ import annotations

from suite.document import Block, Heading, Legend, Table
from suite.document import table as make_table
from suite.matrix.report import ReportConfig
from suite.report.context import ReportContext
from suite.report.naming import arrow, higher_is_better, metric_label
from suite.report.select import Row, ordered
from suite.report.tables.format import (
    Notes,
    decimals_of,
    emphasise,
    factor_of,
    fmt_stat,
    layout,
    unit_text,
    winners,
)
from suite.report.tables.registry import table

__all__ = ["davila_section", "davila_table", "decimals_of", "factor_of", "selection_table"]
LEGEND = Legend("best per architecture and metric", "best over all architectures")


@table("davila", scope="dataset", order=10)
def davila_section(ctx: ReportContext) -> list[Block]:
    """Rows strategies, columns architecture × metric, and what validation chose."""
    rows = ctx.rows
    heading = Heading(3, "Results (Davila layout)")
    return [heading, davila_table(rows, ctx.metrics, ctx.config), *selection_table(rows, ctx.config)]


def caption(rows: list[Row], config: ReportConfig) -> str:
    split = rows[0].split if rows else "test"
    where = (
        "Test-split"
        if split == "test"
        else "Validation-split (the dataset has no test split, so these numbers are not held out)"
    )
    return f"{where} mean (SE) over seeds, {unit_text(config)}."


def davila_table(rows: list[Row], metrics: list[str], config: ReportConfig) -> Table:
    decimals = decimals_of(config)
    lay = layout(rows)
    lines = ordered(rows, lay.line)
    archs = ordered(rows, lambda r: r.architecture)
    grid = {(*lay.line(r), r.architecture): r for r in rows}
    stats = {
        (*line, a, m): grid[(*line, a)].metric(m)
        for line in lines
        for a in archs
        for m in metrics
        if (*line, a) in grid
    }

    def value(key: tuple) -> float:
        return stats[key].mean * factor_of(key[3], config)

    bold = set()
    for a in archs:
        for m in metrics:
            column = {k: value(k) for k in stats if k[2] == a and k[3] == m}
            bold |= winners(column, higher_is_better(m), decimals)
    underline = set()
    for m in metrics:
        underline |= winners({k: value(k) for k in stats if k[3] == m}, higher_is_better(m), decimals)

    notes = Notes()
    headers = lay.head() + [f"{lay.arch(a)} · {metric_label(m)} {arrow(m)}" for a in archs for m in metrics]
    body = []
    for line in lines:
        cells = lay.line_cells(line)
        for a in archs:
            for m in metrics:
                key = (*line, a, m)
                if key not in stats:
                    cells.append("")
                    continue
                text = fmt_stat(stats[key], decimals, factor_of(m, config))
                mark = notes.flag(grid[(*line, a)], stats[key], metric_label(m))
                cells.append(emphasise(text, key in bold, key in underline, mark))
        body.append(cells)
    return make_table(headers, body, caption(rows, config), notes.items(), LEGEND)


def selection_table(rows: list[Row], config: ReportConfig) -> list[Block]:
    """What validation chose, per row and architecture; empty when no row had anything to choose."""
    chosen = [r for r in rows if r.candidates > 1 or r.choice]
    if not chosen:
        return []
    decimals = decimals_of(config)
    lay = layout(rows)
    archs = ordered(chosen, lambda r: r.architecture)
    grid = {(*lay.line(r), r.architecture): r for r in chosen}
    body = []
    for line in ordered(chosen, lay.line):
        cells = lay.line_cells(line)
        for a in archs:
            row = grid.get((*line, a))
            cells.append(_choice_text(row, decimals, config) if row else "")
        body.append(cells)
    metric = chosen[0].select_metric
    reported = "on test" if chosen[0].split == "test" else "on validation too (not held out: no test split)"
    text = (
        f"Chosen on the validation {metric_label(metric)} (mean over seeds, {unit_text(config)}; complete "
        f"candidates first), then reported {reported}:"
    )
    return [make_table(lay.head() + [lay.arch(a) for a in archs], body, text)]


def _choice_text(row: Row, decimals: int, config: ReportConfig) -> str:
    if not row.selected:
        return f"none chosen: no candidate has a defined validation {metric_label(row.select_metric)} (§)"
    factor = factor_of(row.select_metric, config)
    text = f"{row.choice or '(only one)'} (val {row.select_value * factor:.{decimals}f}, of {row.candidates})"
    if row.open_candidates:
        text += f"; {row.open_candidates} candidate(s) incomplete"
    return text
