"""The `significance` report section: document blocks (suite/document.py; `render_significance` gives their
markdown) and critical-difference diagrams (PNG and PDF bytes, or written when the caller keeps none).

A pure function of the frame and the config: rows are sorted, the bootstrap is seeded, numbers have fixed
precision, so the same results give byte-identical markdown whatever order the rows come in. Means and Δ are in
the report's unit: fractions by default, percent (Δ in percentage points) when the report asks; the loss is never
scaled. Long texts a table repeats (why there is too little evidence) are numbered notes below it, so its lines stay
readable as plain text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from suite.document import Block, Bullets, Figure, Heading, Para, Refs, to_markdown
from suite.document import table as doc_table
from suite.figures import figure_files
from suite.matrix.report import SignificanceConfig
from suite.metrics import METRICS
from suite.results import atomic_write_bytes
from suite.stats.paired import compare_to_baseline, effectiveness
from suite.stats.prepare import cell_means, check_baseline, scores
from suite.stats.ranks import RankOutcome, cd_diagram, friedman_nemenyi
from suite.stats.recommend import POOLED, recommendations
from suite.stats.text import fmt_p, p_is


def _num(x: float, digits: int = 3, sign: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def _p(x: float) -> str:
    return "–" if x is None or math.isnan(x) else fmt_p(x)


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-").lower()


def _intro(config: SignificanceConfig, metric_of: dict[str, str], notes: list[str]) -> list[Block]:
    by_metric: dict[str, list[str]] = {}
    for dataset, metric in sorted(metric_of.items()):
        by_metric.setdefault(METRICS[metric].label, []).append(dataset)
    metrics = "; ".join(f"{label} on {', '.join(names)}" for label, names in sorted(by_metric.items()))
    adjust = (
        "Holm-adjusted over the strategies on one dataset × backbone"
        if config.adjust == "holm"
        else "unadjusted"
    )
    items = [
        f"**Per dataset:** paired t-test over seeds (same seed = one pair), two-sided, p {adjust}. With 3 seeds "
        "a rank test (Wilcoxon) has a smallest possible p of 0.25, so it could never flag anything; the t-test can, under a "
        "normality assumption 3 seeds cannot check. The 95% CI of Δ is a percentile bootstrap "
        f"({config.bootstrap} resamples, seed {config.seed}); with 3 seeds it equals the range of the seed "
        "differences (about 75% real coverage), so it describes the spread and the test decides.",
        "**Across datasets:** Friedman test over strategies with the Nemenyi post-hoc (autorank), on mean scores "
        "over seeds, as in Demšar (2006). A critical-difference (CD) diagram joins strategies whose mean ranks "
        "differ by less than CD.",
        f"**Too little evidence:** no per-dataset test with fewer than {config.min_seeds} paired seeds, no test "
        f"across datasets with fewer than {config.min_datasets} datasets or 3 strategies; the tables say so in "
        "words instead of printing a p-value.",
        "Where a strategy has variants or sweep points (`swft@3`, `lr=1e-4`), one is chosen per dataset × "
        "backbone on the validation score, never on test, and shown in brackets.",
        *notes,
    ]
    return [
        Heading(2, "Significance: which strategy should I use?"),
        Para(
            f"Each dataset is ranked on its first primary metric: {metrics}. Scores of ↓ metrics are negated, so a "
            f"positive Δ is always better. Baseline: `{config.baseline}`. Level: α = {config.alpha:g}."
        ),
        Bullets(tuple(items)),
    ]


def _recommendation_section(table: pd.DataFrame, config: SignificanceConfig) -> list[Block]:
    rows, refs = [], Refs()
    for rec in recommendations(table, config):
        worse = [s for s in rec.ranked.index if s not in rec.kept]
        rows.append(
            [
                rec.modality,
                rec.backbone,
                str(rec.datasets),
                ", ".join(f"{s} ({rec.ranked[s]:.2f})" for s in rec.kept),
                ", ".join(worse) or "–",
                refs.ref(rec.evidence),
            ]
        )
    header = ["modality", "backbone", "datasets", "not sig. worse than the best (mean rank)", "sig. worse",
              "evidence"]  # fmt: skip
    caption = (
        "Per modality and backbone, the strategies not significantly worse than the best, best mean rank first "
        "(rank 1 = best on every dataset); the evidence behind each row is in the numbered notes."
    )
    body = doc_table(header, rows, caption, refs.notes()) if rows else Para("No results to rank.")
    return [Heading(3, "Recommendation"), body]


def _effectiveness_section(comparisons: pd.DataFrame, config: SignificanceConfig) -> list[Block]:
    counts = effectiveness(comparisons, config)
    backbones = sorted(counts["backbone"].unique())
    rows = []
    for strategy, group in counts.groupby("strategy", sort=True):
        per = group.set_index("backbone")
        cells = [
            f"{int(per.at[b, 'raw'])} / {int(per.at[b, 'sig'])}" if b in per.index else "–" for b in backbones
        ]
        n, raw, sig, untested = (int(group[c].sum()) for c in ("experiments", "raw", "sig", "untestable"))
        rows.append(
            [
                strategy,
                *cells,
                f"{raw} / {sig} of {n}",
                f"{100 * raw / n:.1f}",
                f"{100 * sig / n:.1f}",
                str(untested),
            ]
        )
    header = ["strategy", *backbones, "total", "effective % (raw)", "effective % (sig.)", "untestable"]
    caption = (
        f"Each cell is raw / significant: raw counts the datasets where the strategy's mean beats "
        f"`{config.baseline}` by more than {config.threshold_pct:g}% (Davila et al. 2024, Table 12); significant "
        f"counts those where the paired test also says better. Untestable: fewer than {config.min_seeds} paired seeds."
    )
    heading = Heading(
        3, f"Effectiveness against `{config.baseline}`: Davila's count and the significant part of it"
    )
    if not rows:
        return [heading, Para(f"No strategy shares a dataset and backbone with `{config.baseline}`.")]
    return [heading, doc_table(header, rows, caption)]


def _friedman_row(label: str, outcome: RankOutcome, config: SignificanceConfig, refs: Refs) -> list[str]:
    ranks = ", ".join(f"{s} {r:.2f}" for s, r in outcome.mean_ranks.items())
    if outcome.tested:
        found = "differences found" if outcome.pvalue < config.alpha else "no difference found"
        verdict = f"{p_is(outcome.pvalue)}: {found}"
        cd = f"{outcome.cd:.2f}"
    else:
        verdict, cd = f"too little evidence {refs.ref(outcome.reason)}", "–"
    dropped = "; left out: " + ", ".join(outcome.dropped) if outcome.dropped else ""
    return [label, str(outcome.blocks), str(len(outcome.mean_ranks)), verdict, cd, ranks + dropped]


def _across_section(
    table: pd.DataFrame, config: SignificanceConfig, plots_dir: Path, link: str, files: dict[Path, bytes]
) -> list[Block]:
    means = cell_means(table)
    groups = [(b, means[means["backbone"] == b], ["dataset"]) for b in sorted(means["backbone"].unique())]
    if len(groups) > 1:
        groups.append((f"{POOLED} (pooled)", means, ["dataset", "backbone"]))
    rows, images, refs = [], [], Refs()
    for label, sub, block in groups:
        outcome = friedman_nemenyi(sub, block, config)
        rows.append(_friedman_row(label, outcome, config, refs))
        if outcome.tested:
            name = f"significance-cd-{_slug(label)}.png"
            title = (
                f"{label}: Friedman {p_is(outcome.pvalue)}, {outcome.blocks} "
                f"{'blocks' if len(block) > 1 else 'datasets'}, Nemenyi CD = {outcome.cd:.2f} (α = {config.alpha:g})"
            )
            files.update(figure_files(plots_dir / name, cd_diagram(outcome, title)))
            images.append(Figure(f"{link}/{name}", f"Critical-difference diagram, {label}"))
    header = ["backbone", "blocks", "strategies", "Friedman", "Nemenyi CD", "mean rank (1 = best)"]
    caption = (
        "A block is a dataset; the pooled row makes each dataset × backbone a block. Blocks that share a dataset "
        "are not independent, so the pooled p-value is optimistic: read the per-backbone rows first."
    )
    heading = Heading(3, "Across datasets: Friedman test and critical-difference diagrams")
    return [heading, doc_table(header, rows, caption, refs.notes()), *images]


def _without_baseline(table: pd.DataFrame, baseline: str) -> list[str]:
    """`dataset / backbone` pairs that have results but none of the baseline, so nothing there is compared."""
    has = table.groupby(["dataset", "backbone"], sort=True)["strategy"].apply(lambda s: baseline in set(s))
    return [f"{d} / {b}" for (d, b), ok in has.items() if not ok]


def _scale(metric: str, percent: bool) -> tuple[float, int, str]:
    """Factor, decimals and the unit of a difference for the metric in the report's unit (loss: never scaled)."""
    if percent and metric != "loss":
        return 100.0, 2, " (pp)"
    return 1.0, 3, ""


def _verdict(verdict: str, refs: Refs) -> str:
    """`too little evidence [n]`, the reason once in the notes; other verdicts as they are."""
    head, sep, reason = verdict.partition(": ")
    return f"{head} {refs.ref(reason)}" if sep and head == "too little evidence" else verdict


def _comparison_row(r, factor: float, digits: int, refs: Refs) -> list[str]:
    name = f"{r.strategy} ({r.choice})" if r.choice else r.strategy
    ci = [
        _num(factor * x, digits + 1 if factor == 1 else digits, True) for x in (r.delta, r.ci_low, r.ci_high)
    ]
    return [
        r.backbone,
        name,
        str(r.n),
        _num(factor * r.sign * r.mean_base, digits),
        _num(factor * r.sign * r.mean, digits),
        f"{ci[0]} [{ci[1]}, {ci[2]}]",
        "–" if math.isnan(r.pct) else f"{r.pct:+.2f}%",
        _p(r.p),
        _p(r.p_adj),
        _verdict(r.verdict, refs),
    ]


def _dataset_section(
    table: pd.DataFrame,
    comparisons: pd.DataFrame,
    config: SignificanceConfig,
    metric_of: dict[str, str],
    percent: bool,
) -> list[Block]:
    blocks: list[Block] = [
        Heading(3, f"Per dataset: each strategy against `{config.baseline}` over paired seeds")
    ]
    missing = _without_baseline(table, config.baseline)
    if missing:
        blocks.append(Para(f"No `{config.baseline}` results, so no comparison, on: {', '.join(missing)}."))
    p_head = "p (Holm)" if config.adjust == "holm" else "p"
    for dataset, group in comparisons.groupby("dataset", sort=True):
        metric = metric_of[dataset]
        factor, digits, unit = _scale(metric, percent)
        refs = Refs()
        rows = [_comparison_row(r, factor, digits, refs) for r in group.itertuples()]
        header = ["backbone", "strategy", "paired seeds", f"{config.baseline} mean", "strategy mean",
                  f"Δ{unit} [95% CI]", "Δ% (Davila)", "p", p_head, "verdict"]  # fmt: skip
        unit_of = "in %, Δ in percentage points (pp)" if factor == 100 else "and Δ in the metric's own units"
        caption = (
            f"Means {unit_of}; Δ% (Davila) is the relative change, in % of the `{config.baseline}` mean."
        )
        table_ = doc_table(header, rows, caption, refs.notes())
        blocks += [Heading(4, f"{dataset} ({METRICS[metric].label})"), table_]
    return blocks


def significance_blocks(
    frame: pd.DataFrame,
    config: SignificanceConfig,
    plots_dir: Path,
    metrics: Mapping[str, str],
    *,
    link: str | None = None,
    files: dict[Path, bytes] | None = None,
    require_baseline: bool | None = None,
    percent: bool = False,
) -> list[Block]:
    """The section's blocks; CD diagrams' PNG and PDF bytes go into `files` (by their path under `plots_dir`) and
    are shown as `<link>/<file>`.

    `frame`: one row per finished cell (columns dataset, architecture, source, strategy, seed, modality,
    test_<metric>, val_<metric>; optional `sweep` (sweep point label) and `choice` (what the report already chose
    on validation, shown in brackets)); `metrics`: dataset → the metric it is ranked on (its first primary metric);
    `link`: the path of `plots_dir` as the document sees it (default: its folder name); `require_baseline`: a
    missing baseline is a UserError (default: when `baseline` was set explicitly), else the comparisons with it
    are left out in words and the rankings still run; `percent`: means and Δ in % (the report's `scale`).
    """
    prepared = scores(frame, metrics, config)
    table = prepared.table
    required = "baseline" in config.model_fields_set if require_baseline is None else require_baseline
    if required:
        check_baseline(table, config.baseline)
    blocks = _intro(config, prepared.metric_of, prepared.notes)
    if table.empty:
        return [*blocks, Para("No finished results with a test metric: nothing to compare.")]
    comparisons = compare_to_baseline(table, config)
    blocks += _recommendation_section(table, config)
    if not comparisons.empty:
        blocks += _effectiveness_section(comparisons, config)
    kept = files if files is not None else {}
    blocks += _across_section(table, config, Path(plots_dir), link or Path(plots_dir).name, kept)
    if config.baseline not in set(table["strategy"]):
        blocks.append(
            Para(
                f"No `{config.baseline}` results, so no comparison with it (set `report.significance.baseline`)."
            )
        )
    elif not comparisons.empty:
        blocks += _dataset_section(table, comparisons, config, prepared.metric_of, percent)
    return blocks


def render_significance(
    frame: pd.DataFrame,
    config: SignificanceConfig,
    plots_dir: Path,
    metrics: Mapping[str, str],
    *,
    link: str | None = None,
    require_baseline: bool | None = None,
) -> str:
    """The section's markdown on its own, its CD diagrams written to `plots_dir` (PNG and PDF); the report uses
    `significance_blocks`, which leaves the writing to it. Arguments as there."""
    files: dict[Path, bytes] = {}
    blocks = significance_blocks(
        frame, config, plots_dir, metrics, link=link, files=files, require_baseline=require_baseline
    )
    for path, data in files.items():
        atomic_write_bytes(path, data)
    return to_markdown(blocks)
