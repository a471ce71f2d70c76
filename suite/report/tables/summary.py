"""Cross-dataset summaries: Davila's Table 11 (best architecture + strategy per dataset, % over FT) and
Table 12 (effectiveness: how often each strategy beats FT by more than 0.1%, per architecture).

Table 11 picks the best row on the validation mean of the main metric by default (`report.best_by: test`
reproduces Davila, who picked on test); the improvement is always the test change against FT.
"""

from __future__ import annotations

import math

from suite.document import Block, Heading, Para
from suite.document import table as make_table
from suite.matrix.report import ReportConfig
from suite.report.changes import changes, improved
from suite.report.context import ReportContext
from suite.report.naming import higher_is_better, metric_label, source_label, strategy_label
from suite.report.select import Row, ordered
from suite.report.tables.format import (
    EMPTY,
    Notes,
    decimals_of,
    emphasise,
    factor_of,
    fmt_stat,
    unit_text,
)
from suite.report.tables.registry import table


@table("best", scope="matrix", order=10)
def best_section(ctx: ReportContext) -> list[Block]:
    by_dataset = ctx.by_dataset
    return [
        Heading(2, "Best per dataset (Davila Table 11)"),
        *best_table(by_dataset, ctx.modalities, ctx.config),
    ]


@table("effectiveness", scope="matrix", order=20)
def effectiveness_section(ctx: ReportContext) -> list[Block]:
    return [Heading(2, "Effectiveness (Davila Table 12)"), *effectiveness_table(ctx.by_dataset, ctx.config)]


def best_table(
    by_dataset: dict[str, tuple[list[Row], list[str]]], domains: dict[str, str], config: ReportConfig
) -> list[Block]:
    """One line per dataset: its best row on the main metric, and that row's % change over the baseline."""
    notes = Notes()
    multi_source = any(len({r.source for r in rows}) > 1 for rows, _ in by_dataset.values())
    body = []
    for dataset, (rows, metrics) in by_dataset.items():
        main = metrics[0]
        split = config.best_by if rows and rows[0].split == "test" else "val"
        scored = [(r, r.metric(main, split).mean) for r in rows]
        scored = [(r, v) for r, v in scored if not math.isnan(v)]
        if not scored:
            continue
        sign = 1.0 if higher_is_better(main) else -1.0
        best, _ = max(scored, key=lambda rv: sign * rv[1])
        change = next((c for c in changes(rows, main, config.baseline) if c.row is best), None)
        gain = EMPTY if change is None or change.baseline is None else f"{change.percent:+.2f}%"
        gain = "0% (is the baseline)" if change is None else gain
        stat = best.metric(main)
        value = fmt_stat(stat, decimals_of(config), factor_of(main, config)) + notes.flag(best, stat, main)
        value += "" if best.split == "test" else " (val, not held out)"
        cells = [dataset, domains.get(dataset, EMPTY), best.architecture]
        cells += [source_label(best.source)] if multi_source else []
        cells += [best.full_label, metric_label(main), value, gain]
        body.append(cells)
    if not body:
        return [Para("No dataset has a finished row yet.")]
    headers = ["Dataset", "Domain", "Architecture"] + (["Source"] if multi_source else [])
    all_test = all(rows[0].split == "test" for rows, _ in by_dataset.values() if rows)
    headers += [
        "Strategy",
        "Main metric",
        "Test mean (SE)" if all_test else "Mean (SE), test unless marked",
        f"Improvement over {strategy_label(config.baseline)}",
    ]
    picked = "validation" if config.best_by == "val" else "test (as Davila did; optimistic)"
    reported = "test" if all_test else "reported (test, or validation where a dataset has no test split)"
    caption = (
        f"Best architecture + strategy per dataset, picked on the {picked} mean of the main metric; "
        f"mean (SE) {unit_text(config)}; improvement = relative change of the {reported} mean over "
        f"{strategy_label(config.baseline)} with the same architecture and source, in % of it."
    )
    return [make_table(headers, body, caption, notes.items())]


def effectiveness_table(
    by_dataset: dict[str, tuple[list[Row], list[str]]], config: ReportConfig
) -> list[Block]:
    """Per strategy × architecture: experiments (dataset, source) that beat the baseline by > threshold."""
    wins: dict[tuple[str, str], list[int]] = {}  # (label, arch) → [wins, comparisons]
    all_rows = [r for rows, _ in by_dataset.values() for r in rows]
    incomplete = 0
    for rows, metrics in by_dataset.values():
        for change in changes(rows, metrics[0], config.baseline):
            if change.baseline is None or math.isnan(change.percent):
                continue
            tally = wins.setdefault((change.row.label, change.row.architecture), [0, 0])
            tally[0] += improved(change, config.effectiveness_pct)
            tally[1] += 1
            incomplete += not (change.row.complete and change.baseline.complete)
    if not wins:
        return [Para(f"No strategy could be compared with {strategy_label(config.baseline)}.")]
    labels = [lab for lab in ordered(all_rows, lambda r: r.label) if any(k[0] == lab for k in wins)]
    archs = [a for a in ordered(all_rows, lambda r: r.architecture) if any(k[1] == a for k in wins)]
    totals = {lab: [sum(wins.get((lab, a), [0, 0])[i] for a in archs) for i in (0, 1)] for lab in labels}
    pct = {lab: 100.0 * w / n for lab, (w, n) in totals.items() if n}
    top = max(pct.values()) if pct else math.nan
    arch_wins = {a: sum(wins.get((lab, a), [0, 0])[0] for lab in labels) for a in archs}
    top_arch = max(arch_wins.values())
    body = []
    for lab in labels:
        cells = [lab] + [_count(wins.get((lab, a))) for a in archs]
        w, n = totals[lab]
        cells += [f"{w}/{n}", emphasise(f"{pct[lab]:.1f}", round(pct[lab], 1) == round(top, 1), False)]
        body.append(cells)
    body.append(
        ["Total", *[emphasise(str(arch_wins[a]), arch_wins[a] == top_arch, False) for a in archs], "", ""]
    )
    caption = (
        f"Experiments (dataset × source) where the strategy's test mean of the main metric beats "
        f"{strategy_label(config.baseline)} of the same architecture by more than {config.effectiveness_pct:g}% "
        "(relative), as wins/comparisons; effectiveness = wins / comparisons, in %."
    )
    notes = [f"{incomplete} comparison(s) involve rows with fewer finished seeds than asked (†)."] * bool(
        incomplete
    )
    return [make_table(["Strategy", *archs, "Total", "Effectiveness (%)"], body, caption, notes)]


def _count(tally: list[int] | None) -> str:
    return f"{tally[0]}/{tally[1]}" if tally else EMPTY
