"""Per-dataset results in Davila et al.'s layout (their Tables 3-10), plus what validation chose.

Rows are strategies (with the source when a dataset has several), columns architecture × the dataset's primary
metrics, cells "mean (SE)" over seeds. Bold: the best per architecture and metric; bold and underlined: the best
of that metric over all architectures. Ties, as printed, share the emphasis.
"""

from __future__ import annotations

from suite.report.config import ReportConfig
from suite.report.naming import arrow, higher_is_better, metric_label, source_label
from suite.report.select import Row
from suite.report.tables.format import Notes, emphasise, fmt_stat, markdown, ordered, scaled, winners


def decimals_of(config: ReportConfig) -> int:
    return 2 if config.scale == "percent" else 3


def factor_of(metric: str, config: ReportConfig) -> float:
    return scaled(metric, 1.0, config.scale == "percent")


def caption(rows: list[Row], config: ReportConfig) -> str:
    split = rows[0].split if rows else "test"
    unit = "in %" if config.scale == "percent" else "as fractions"
    where = (
        "Test-split"
        if split == "test"
        else "Validation-split (the dataset has no test split, so these numbers are not held out)"
    )
    return (
        f"{where} mean (SE) over seeds, {unit}. **Bold**: best per architecture and metric; "
        "**<u>bold underlined</u>**: best over all architectures."
    )


def davila_table(rows: list[Row], metrics: list[str], config: ReportConfig) -> list[str]:
    decimals = decimals_of(config)
    multi_source = len({r.source for r in rows}) > 1
    lines = ordered(rows, lambda r: (r.source, r.label))
    archs = ordered(rows, lambda r: r.architecture)
    grid = {(r.source, r.label, r.architecture): r for r in rows}
    stats = {
        (s, label, a, m): grid[(s, label, a)].metric(m)
        for (s, label) in lines
        for a in archs
        for m in metrics
        if (s, label, a) in grid
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
    headers = (["Source"] if multi_source else []) + ["Strategy"]
    headers += [f"{a} · {metric_label(m)} {arrow(m)}" for a in archs for m in metrics]
    body = []
    for s, label in lines:
        cells = [source_label(s)] if multi_source else []
        cells.append(label)
        for a in archs:
            for m in metrics:
                key = (s, label, a, m)
                if key not in stats:
                    cells.append("")
                    continue
                text = fmt_stat(stats[key], decimals, factor_of(m, config))
                text = emphasise(text, key in bold, key in underline)
                cells.append(text + notes.flag(grid[(s, label, a)], stats[key], metric_label(m)))
        body.append(cells)
    out = [caption(rows, config), "", markdown(headers, body), ""]
    return out + notes.lines()


def selection_table(rows: list[Row], config: ReportConfig) -> list[str]:
    """What validation chose, per row and architecture; empty when no row had anything to choose."""
    chosen = [r for r in rows if r.candidates > 1 or r.choice]
    if not chosen:
        return []
    decimals = decimals_of(config)
    archs = ordered(chosen, lambda r: r.architecture)
    lines = ordered(chosen, lambda r: (r.source, r.label))
    grid = {(r.source, r.label, r.architecture): r for r in chosen}
    body = []
    for s, label in lines:
        cells = [f"{label} ({source_label(s)})"]
        for a in archs:
            row = grid.get((s, label, a))
            cells.append(_choice_text(row, decimals, config) if row else "")
        body.append(cells)
    metric = chosen[0].select_metric
    return [
        f"Chosen on the validation {metric_label(metric)} (mean over seeds; complete candidates first), "
        "then reported on test:",
        "",
        markdown(["Row", *archs], body),
        "",
    ]


def _choice_text(row: Row, decimals: int, config: ReportConfig) -> str:
    if not row.selected:
        return "none: no candidate has a defined validation value; first candidate shown"
    factor = factor_of(row.select_metric, config)
    text = f"{row.choice or '(only one)'} (val {row.select_value * factor:.{decimals}f}, of {row.candidates})"
    if row.open_candidates:
        text += f"; {row.open_candidates} candidate(s) incomplete"
    return text
