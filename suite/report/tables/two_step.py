"""Fang et al.'s cross-source comparisons, as relative change: two-step vs one-step transfer, and SWFT's steps vs
step 1 ("THTL vs one-step averages −10.6% accuracy"; "SWFT step 3 is +20.4% over step 1", METHODS.md §F).

Two-step vs one-step pairs each row trained from a two-step source (`imagenet>kaggle-dr`) with the row of the same
strategy and architecture from its first link (`imagenet`): Fang's `++` against `*` for LP, and FT against FT.
SWFT's steps are compared with step 1 (the head alone) within one source and architecture. Changes are of the
reported means, (x − reference) / |reference| × 100, on the dataset's accuracy and AUROC where it has them.
"""

from __future__ import annotations

import math

from suite.document import Block, Heading, Table
from suite.document import table as make_table
from suite.matrix.cell import CHAIN
from suite.report.context import ReportContext
from suite.report.naming import metric_label, source_label, strategy_label
from suite.report.select import Row, ordered
from suite.report.stats import relative_change
from suite.report.tables.format import EMPTY, Notes
from suite.report.tables.registry import table


@table("two_step", scope="dataset", order=35)
def two_step_section(ctx: ReportContext) -> list[Block]:
    metrics = [m for m in ("accuracy", "auroc") if m in ctx.metrics] or ctx.metrics[:2]
    notes = Notes()
    tables = _one_vs_two(ctx.rows, metrics, notes) + _swft_steps(ctx.rows, metrics, notes)
    if not tables:
        return []
    last = tables[-1]
    tables[-1] = make_table(last.header, last.rows, last.caption, notes.items())  # the flags of both tables
    return [Heading(3, "Two-step and step-wise changes (Fang layout)"), *tables]


def _change(row: Row, ref: Row, metric: str, notes: Notes) -> tuple[str, float]:
    value = relative_change(row.metric(metric).mean, ref.metric(metric).mean)
    if math.isnan(value):
        return EMPTY, value
    marks = notes.flag(row) + notes.flag(ref)
    return f"{value:+.2f}%" + ("†" if "†" in marks else ""), value


def _one_vs_two(rows: list[Row], metrics: list[str], notes: Notes) -> list[Table]:
    one = {(r.source, r.label, r.architecture): r for r in rows if CHAIN not in r.source}
    pairs = [
        (r, one[(r.source.split(CHAIN)[0], r.label, r.architecture)])
        for r in rows
        if CHAIN in r.source and (r.source.split(CHAIN)[0], r.label, r.architecture) in one
    ]
    if not pairs:
        return []
    archs = ordered([p[0] for p in pairs], lambda r: r.architecture)
    body = []
    for source, label in ordered([p[0] for p in pairs], lambda r: (r.source, r.label)):
        cells, per_metric = [label, source_label(source)], {m: [] for m in metrics}
        for a in archs:
            pair = next(
                ((t, o) for t, o in pairs if (t.source, t.label, t.architecture) == (source, label, a)), None
            )
            for m in metrics:
                text, value = _change(*pair, m, notes) if pair else ("", math.nan)
                cells.append(text)
                per_metric[m] += [] if math.isnan(value) else [value]
        cells += [f"{sum(v) / len(v):+.2f}%" if v else EMPTY for v in per_metric.values()]
        body.append(cells)
    headers = ["Strategy", "Two-step source"]
    headers += [f"{a} · Δ{metric_label(m)}" for a in archs for m in metrics]
    headers += [f"mean · Δ{metric_label(m)}" for m in metrics]
    caption = (
        "Two-step vs one-step: change of the two-step row over the same strategy and architecture trained from the "
        "first link of its source (Fang's `++` vs `*` for LP), and the mean over architectures, in % of the "
        "one-step value."
    )
    return [make_table(headers, body, caption)]


def _swft_steps(rows: list[Row], metrics: list[str], notes: Notes) -> list[Table]:
    swft = strategy_label("swft")
    steps = [r for r in rows if r.label.startswith(f"{swft} step ")]
    first = {(r.source, r.architecture): r for r in steps if r.label == f"{swft} step 1"}
    steps = [r for r in steps if r.label != f"{swft} step 1" and (r.source, r.architecture) in first]
    if not steps:
        return []
    columns = ordered(steps, lambda r: (r.source, r.architecture))
    body = []
    for label in ordered(steps, lambda r: r.label):
        cells = [label]
        for source, arch in columns:
            row = next(
                (r for r in steps if (r.label, r.source, r.architecture) == (label, source, arch)), None
            )
            cells += [_change(row, first[(source, arch)], m, notes)[0] if row else "" for m in metrics]
        body.append(cells)
    headers = ["Step"] + [
        f"{a} ({source_label(s)}) · Δ{metric_label(m)}" for s, a in columns for m in metrics
    ]
    caption = f"{swft} steps vs step 1 (the head alone), same source and architecture, in % of step 1:"
    return [make_table(headers, body, caption)]
