"""The `significance` report section: markdown (returned) and critical-difference diagrams (written as PNG).

A pure function of the frame and the config: rows are sorted, the bootstrap is seeded, numbers have fixed
precision, so the same results give byte-identical markdown whatever order the rows come in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from tabulate import tabulate

from suite.matrix.report import SignificanceConfig
from suite.metrics import METRICS
from suite.stats.paired import compare_to_baseline, effectiveness
from suite.stats.prepare import cell_means, check_baseline, scores
from suite.stats.ranks import RankOutcome, cd_diagram, friedman_nemenyi
from suite.stats.recommend import POOLED, recommendations
from suite.stats.text import fmt_p, p_is


def _table(rows: list[list[str]], header: list[str]) -> str:
    return tabulate(rows, headers=header, tablefmt="github", disable_numparse=True)


def _num(x: float, digits: int = 3, sign: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def _p(x: float) -> str:
    return "–" if x is None or math.isnan(x) else fmt_p(x)


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-").lower()


def _intro(config: SignificanceConfig, metric_of: dict[str, str], notes: list[str]) -> list[str]:
    by_metric: dict[str, list[str]] = {}
    for dataset, metric in sorted(metric_of.items()):
        by_metric.setdefault(METRICS[metric].label, []).append(dataset)
    metrics = "; ".join(f"{label} on {', '.join(names)}" for label, names in sorted(by_metric.items()))
    adjust = (
        "Holm-adjusted over the strategies on one dataset × backbone"
        if config.adjust == "holm"
        else "unadjusted"
    )
    lines = [
        "## Significance: which strategy should I use?",
        "",
        f"Each dataset is ranked on its first primary metric: {metrics}. Scores of ↓ metrics are negated, so a "
        f"positive Δ is always better. Baseline: `{config.baseline}`. Level: α = {config.alpha:g}.",
        "",
        f"- **Per dataset:** paired t-test over seeds (same seed = one pair), two-sided, p {adjust}. With 3 seeds "
        "a rank test (Wilcoxon) has a smallest possible p of 0.25, so it could never flag anything; the t-test can, under a "
        "normality assumption 3 seeds cannot check. The 95% CI of Δ is a percentile bootstrap "
        f"({config.bootstrap} resamples, seed {config.seed}); with 3 seeds it equals the range of the seed "
        "differences (about 75% real coverage), so it describes the spread and the test decides.",
        "- **Across datasets:** Friedman test over strategies with the Nemenyi post-hoc (autorank), on mean scores "
        "over seeds, as in Demšar (2006). A critical-difference (CD) diagram joins strategies whose mean ranks "
        "differ by less than CD.",
        f"- **Too little evidence:** no per-dataset test with fewer than {config.min_seeds} paired seeds, no test "
        f"across datasets with fewer than {config.min_datasets} datasets or 3 strategies; the tables say so in "
        "words instead of printing a p-value.",
    ]
    lines.append(
        "- Where a strategy has variants or sweep points (`swft@3`, `lr=1e-4`), one is chosen per dataset × "
        "backbone on the validation score, never on test, and shown in brackets."
    )
    lines += [f"- {n}" for n in notes]
    return [*lines, ""]


def _recommendation_section(table: pd.DataFrame, config: SignificanceConfig) -> list[str]:
    rows = []
    for rec in recommendations(table, config):
        worse = [s for s in rec.ranked.index if s not in rec.kept]
        rows.append(
            [
                rec.modality,
                rec.backbone,
                str(rec.datasets),
                ", ".join(f"{s} ({rec.ranked[s]:.2f})" for s in rec.kept),
                ", ".join(worse) or "–",
                rec.evidence,
            ]
        )
    header = [
        "modality",
        "backbone",
        "datasets",
        "not sig. worse than the best (mean rank)",
        "sig. worse",
        "evidence",
    ]
    return [
        "### Recommendation",
        "",
        "Per modality and backbone, the strategies not significantly worse than the best, best mean rank first "
        "(rank 1 = best on every dataset).",
        "",
        _table(rows, header) if rows else "No results to rank.",
        "",
    ]


def _effectiveness_section(comparisons: pd.DataFrame, config: SignificanceConfig) -> list[str]:
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
    return [
        f"### Effectiveness against `{config.baseline}`: Davila's count and the significant part of it",
        "",
        f"Each cell is raw / significant: raw counts the datasets where the strategy's mean beats "
        f"`{config.baseline}` by more than {config.threshold_pct:g}% (Davila et al. 2024, Table 12); significant "
        f"counts those where the paired test also says better. Untestable: fewer than {config.min_seeds} paired seeds.",
        "",
        _table(rows, header)
        if rows
        else f"No strategy shares a dataset and backbone with `{config.baseline}`.",
        "",
    ]


def _friedman_row(label: str, outcome: RankOutcome, config: SignificanceConfig) -> list[str]:
    ranks = ", ".join(f"{s} {r:.2f}" for s, r in outcome.mean_ranks.items())
    if outcome.tested:
        found = "differences found" if outcome.pvalue < config.alpha else "no difference found"
        verdict = f"{p_is(outcome.pvalue)}: {found}"
        cd = f"{outcome.cd:.2f}"
    else:
        verdict, cd = f"too little evidence: {outcome.reason}", "–"
    dropped = "; left out: " + ", ".join(outcome.dropped) if outcome.dropped else ""
    return [label, str(outcome.blocks), str(len(outcome.mean_ranks)), verdict, cd, ranks + dropped]


def _across_section(
    table: pd.DataFrame, config: SignificanceConfig, plots_dir: Path, link: str, written: list[Path]
) -> list[str]:
    means = cell_means(table)
    groups = [(b, means[means["backbone"] == b], ["dataset"]) for b in sorted(means["backbone"].unique())]
    if len(groups) > 1:
        groups.append((f"{POOLED} (pooled)", means, ["dataset", "backbone"]))
    rows, images = [], []
    for label, sub, block in groups:
        outcome = friedman_nemenyi(sub, block, config)
        rows.append(_friedman_row(label, outcome, config))
        if outcome.tested:
            name = f"significance-cd-{_slug(label)}.png"
            title = (
                f"{label}: Friedman {p_is(outcome.pvalue)}, {outcome.blocks} "
                f"{'blocks' if len(block) > 1 else 'datasets'}, Nemenyi CD = {outcome.cd:.2f} (α = {config.alpha:g})"
            )
            written.append(cd_diagram(outcome, title, plots_dir / name))
            images += [f"![Critical-difference diagram, {label}]({link}/{name})", ""]
    header = ["backbone", "blocks", "strategies", "Friedman", "Nemenyi CD", "mean rank (1 = best)"]
    return [
        "### Across datasets: Friedman test and critical-difference diagrams",
        "",
        "A block is a dataset; the pooled row makes each dataset × backbone a block. Blocks that share a dataset "
        "are not independent, so the pooled p-value is optimistic: read the per-backbone rows first.",
        "",
        _table(rows, header),
        "",
        *images,
    ]


def _without_baseline(table: pd.DataFrame, baseline: str) -> list[str]:
    """`dataset / backbone` pairs that have results but none of the baseline, so nothing there is compared."""
    has = table.groupby(["dataset", "backbone"], sort=True)["strategy"].apply(lambda s: baseline in set(s))
    return [f"{d} / {b}" for (d, b), ok in has.items() if not ok]


def _dataset_section(
    table: pd.DataFrame, comparisons: pd.DataFrame, config: SignificanceConfig, metric_of: dict[str, str]
) -> list[str]:
    lines = [f"### Per dataset: each strategy against `{config.baseline}` over paired seeds", ""]
    missing = _without_baseline(table, config.baseline)
    if missing:
        lines += [f"No `{config.baseline}` results, so no comparison, on: {', '.join(missing)}.", ""]
    p_head = "p (Holm)" if config.adjust == "holm" else "p"
    for dataset, group in comparisons.groupby("dataset", sort=True):
        label = METRICS[metric_of[dataset]].label
        rows = []
        for r in group.itertuples():
            name = f"{r.strategy} ({r.choice})" if r.choice else r.strategy
            rows.append(
                [
                    r.backbone,
                    name,
                    str(r.n),
                    _num(r.sign * r.mean_base),
                    _num(r.sign * r.mean),
                    f"{_num(r.delta, 4, True)} [{_num(r.ci_low, 4, True)}, {_num(r.ci_high, 4, True)}]",
                    "–" if math.isnan(r.pct) else f"{r.pct:+.2f}%",
                    _p(r.p),
                    _p(r.p_adj),
                    r.verdict,
                ]
            )
        header = ["backbone", "strategy", "paired seeds", config.baseline, "strategy", "Δ [95% CI]",
                  "Δ% (Davila)", "p", p_head, "verdict"]  # fmt: skip
        lines += [f"#### {dataset} ({label})", "", _table(rows, header), ""]
    return lines


def render_significance(
    frame: pd.DataFrame,
    config: SignificanceConfig,
    plots_dir: Path,
    metrics: Mapping[str, str],
    *,
    link: str | None = None,
    written: list[Path] | None = None,
    require_baseline: bool | None = None,
) -> str:
    """The section's markdown; CD diagrams go to `plots_dir` and are linked as `<link>/<file>`.

    `frame`: one row per finished cell (columns dataset, architecture, source, strategy, seed, modality,
    test_<metric>, val_<metric>; optional `sweep` (sweep point label) and `choice` (what the report already chose
    on validation, shown in brackets)); `metrics`: dataset → the metric it is ranked on (its first primary metric);
    `link`: the path of `plots_dir` as the markdown file sees it (default: its folder name); `written`: the PNG
    paths written are appended to it (so a caller that prunes stale plots keeps them); `require_baseline`: a
    missing baseline is a UserError (default: when `baseline` was set explicitly), else the comparisons with it
    are left out in words and the rankings still run.
    """
    prepared = scores(frame, metrics, config)
    table = prepared.table
    required = "baseline" in config.model_fields_set if require_baseline is None else require_baseline
    if required:
        check_baseline(table, config.baseline)
    lines = _intro(config, prepared.metric_of, prepared.notes)
    if table.empty:
        return "\n".join([*lines, "No finished results with a test metric: nothing to compare.", ""])
    comparisons = compare_to_baseline(table, config)
    lines += _recommendation_section(table, config)
    if not comparisons.empty:
        lines += _effectiveness_section(comparisons, config)
    plots = written if written is not None else []
    lines += _across_section(table, config, Path(plots_dir), link or Path(plots_dir).name, plots)
    if config.baseline not in set(table["strategy"]):
        lines += [
            f"No `{config.baseline}` results, so no comparison with it (set `report.significance.baseline`).",
            "",
        ]
    elif not comparisons.empty:
        lines += _dataset_section(table, comparisons, config, prepared.metric_of)
    return "\n".join(lines).rstrip("\n") + "\n"
