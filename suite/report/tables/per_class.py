"""Per-class results in Fang et al.'s layout (their Tables 3-6): accuracy; precision, recall and F1 per class and
macro; AUC; epochs. Means over seeds in the report's unit (`report.scale`: % with two decimals, or fractions with
three as Fang prints them), epochs rounded up, the best of each column in bold.

Fang's experiment markers follow the model name: ** ImageNet-pretrained, all parameters trained; ^ trained from
scratch; * ImageNet-pretrained, only the head trained (one-step); + the intermediate stage of a two-step source
(fully trained on this dataset, then used as another cell's starting point); ++ two-step, only the head trained.
"""

from __future__ import annotations

import math

from suite.document import Block, Heading, Para
from suite.document import table as make_table
from suite.matrix.report import ReportConfig
from suite.report.context import ReportContext
from suite.report.naming import source_label
from suite.report.select import Row, ordered
from suite.report.stats import Stat, mean_se
from suite.report.tables.format import (
    EMPTY,
    Notes,
    decimals_of,
    emphasise,
    factor_of,
    fmt_stat,
    unit_text,
    winners,
)
from suite.report.tables.registry import table
from suite.results import CellResult

MARKERS = {
    "**": "ImageNet-pretrained, all parameters trained on this dataset (Fang's Expt 1)",
    "^": "trained from scratch (Expt 2)",
    "*": "ImageNet-pretrained, only the head trained (one-step, Expt 3)",
    "+": "intermediate stage: fully trained on this dataset, then the starting point of a two-step source",
    "++": "two-step: the intermediate checkpoint with only the head trained (Expt 4)",
}
PARTS = (("precision", "precision_macro", "P"), ("recall", "recall_macro", "R"), ("f1", "f1_macro", "F1"))


@table("per_class", scope="dataset", order=40)
def per_class_section(ctx: ReportContext) -> list[Block]:
    blocks = per_class_table(ctx.rows, ctx.results, ctx.parents, ctx.config)
    return [Heading(3, "Per class (Fang layout)"), *blocks]


def marker(row: Row, parents: set[str]) -> str:
    """Fang's marker for the experiment a row belongs to, or '' when the paper has none for it."""
    if parents & set(row.cells["id"]):
        return "+"
    if ">" in row.source:
        return "++" if row.base == "lp" else ""
    if row.source == "scratch":
        return "^"
    if row.source == "imagenet":
        return {"ft": "**", "lp": "*"}.get(row.base, "")
    return ""


def _per_class(row: Row, results: dict[str, CellResult], cls: str, part: str) -> Stat:
    if not row.chosen:
        return Stat(math.nan, math.nan, 0, row.n_ok)
    values = []
    for cell_id in row.ok["id"]:
        split = results[cell_id].metrics.get(row.split)
        value = split.per_class.get(cls, {}).get(part) if split else None
        values.append(math.nan if value is None else value)
    return mean_se(values)


def _classes(rows: list[Row], results: dict[str, CellResult]) -> list[str]:
    for row in rows:
        for cell_id in row.ok["id"]:
            split = results[cell_id].metrics.get(row.split)
            if split and split.per_class:
                return list(split.per_class)
    return []


def _columns(classes: list[str]) -> list[tuple[str, str, str | None]]:
    """(header, scalar or per-class part, class or None) in Fang's order. Every column is higher-is-better, which
    the caption says once instead of an arrow in each of up to 22 headers."""
    cols: list[tuple[str, str, str | None]] = [("Acc", "accuracy", None)]
    for part, macro, short in PARTS:
        cols += [(f"{short} {c}", part, c) for c in classes] + [(f"{short} macro", macro, None)]
    return [*cols, ("AUC", "auroc", None)]


def per_class_table(
    rows: list[Row], results: dict[str, CellResult], parents: set[str], config: ReportConfig
) -> list[Block]:
    classes = _classes(rows, results)
    if not classes:
        return [Para("No finished run has per-class metrics.")]
    if len(classes) > config.per_class_max_classes:
        return [
            Para(
                f"{len(classes)} classes: wider than `report.per_class_max_classes` "
                f"({config.per_class_max_classes}); per-class values are in the result files."
            )
        ]
    sources, labels = ordered(rows, lambda r: r.source), ordered(rows, lambda r: r.label)
    archs = ordered(rows, lambda r: r.architecture)
    rows = sorted(
        rows, key=lambda r: (sources.index(r.source), labels.index(r.label), archs.index(r.architecture))
    )
    columns = _columns(classes)
    stats = {
        (i, j): _per_class(row, results, cls, part) if cls else row.metric(part)
        for i, row in enumerate(rows)
        for j, (_, part, cls) in enumerate(columns)
    }
    decimals, factor = decimals_of(config), factor_of("accuracy", config)
    best = set()
    for j in range(len(columns)):
        best |= winners({(i, j): stats[(i, j)].mean * factor for i in range(len(rows))}, True, decimals)
    notes, used, body = Notes(), [], []
    for i, row in enumerate(rows):
        mark = marker(row, parents)
        used += [mark] if mark and mark not in used else []
        cells = [f"`{row.architecture}{mark}`{notes.flag(row)}", source_label(row.source), row.full_label]
        for j in range(len(columns)):
            text = fmt_stat(stats[(i, j)], decimals, factor, se=False)
            flag = notes.flag(row, stats[(i, j)], columns[j][0], incomplete=False)
            cells.append(emphasise(text, (i, j) in best, False, flag))
        epochs = row.stat("epochs_run")
        cells.append(str(math.ceil(epochs.mean)) if epochs.defined else EMPTY)
        body.append(cells)
    headers = ["Model", "Source", "Strategy", *[h for h, _, _ in columns], "Epochs"]
    split = "test split" if rows[0].split == "test" else "validation split (the dataset has no test split)"
    caption = (
        f"Mean over seeds on the {split}, {unit_text(config)}; every metric column is higher-is-better; "
        "epochs (to the stop) rounded up."
    )
    legend = [f"`{m}` {MARKERS[m]}" for m in sorted(used, key=list(MARKERS).index)]
    return [make_table(headers, body, caption, [*legend, *notes.items()])]
