"""The "Recommendation" table: per modality group × backbone, the strategies not significantly worse than the best.

Two kinds of evidence, said in the table:
- enough datasets (≥ `min_datasets`): Friedman + Nemenyi across the group's datasets; a strategy is recommended when
  its mean rank is within the critical difference of the best one (all of them if the Friedman test finds nothing).
- fewer datasets (a modality often has one or two): the seeds within each dataset. Every pair of strategies gets a
  paired t-test over seeds on every dataset, and Holm runs over that whole family, so picking "the best" after
  looking at the data is covered by the correction. A strategy is ruled out when the best is significantly better
  on some dataset. With 3 seeds and many strategies this rarely rules anything out, and the table says so.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from suite.matrix.report import SignificanceConfig
from suite.stats.paired import adjust, paired_pvalues
from suite.stats.prepare import cell_means
from suite.stats.ranks import RankOutcome, friedman_nemenyi
from suite.stats.text import p_is, plural

POOLED = "all backbones"


@dataclass
class Recommendation:
    modality: str
    backbone: str
    datasets: int
    ranked: pd.Series
    kept: list[str]
    evidence: str


def _pair_pvalues(table: pd.DataFrame, block: list[str], strategies: list[str], config: SignificanceConfig):
    """Raw paired-t p-values for every pair of strategies on every block with enough paired seeds.

    Returns rows (block key, a, b, mean of a − b, p)."""
    rows = []
    for key, rows_b in table.groupby(block, sort=True):
        by = {s: g.set_index("seed")["score"] for s, g in rows_b.groupby("strategy")}
        for a, b in itertools.combinations(strategies, 2):
            if a not in by or b not in by:
                continue
            both = pd.concat([by[a], by[b]], axis=1, join="inner").dropna()
            if len(both) < config.min_seeds:
                continue
            diffs = (both.iloc[:, 0] - both.iloc[:, 1]).to_numpy()
            rows.append((key, a, b, float(diffs.mean()), float(paired_pvalues(diffs))))
    return rows


def seed_level(
    table: pd.DataFrame, block: list[str], ranked: pd.Series, config: SignificanceConfig
) -> tuple[list[str], str]:
    """Strategies not significantly worse than the best by paired seeds on any block (Holm over all pairs)."""
    strategies = list(ranked.index)
    rows = [r for r in _pair_pvalues(table, block, strategies, config) if np.isfinite(r[4])]
    if not rows:
        return strategies, (
            f"no strategy pair has ≥ {config.min_seeds} paired seeds with seed-to-seed variation on any dataset:"
            " nothing can be ruled out"
        )
    p_adj = adjust(np.array([r[4] for r in rows]), config.adjust)
    best, worse = strategies[0], set()
    for (_, a, b, mean, _), p in zip(rows, p_adj):
        if not p < config.alpha or best not in (a, b):
            continue
        other, best_gain = (b, mean) if a == best else (a, -mean)
        if best_gain > 0:
            worse.add(other)
    kept = [s for s in strategies if s not in worse]
    pairs = plural(len(rows), "tested strategy pair")
    how = f"paired t-tests over seeds on each dataset, {'Holm over' if config.adjust == 'holm' else 'unadjusted,'} {pairs}"
    return kept, how + ("" if worse else ": nothing significantly worse than the best")


def _evidence(outcome: RankOutcome, config: SignificanceConfig, pooled: bool) -> str:
    over = f"{outcome.blocks} dataset × backbone blocks" if pooled else f"{outcome.blocks} datasets"
    if outcome.pvalue < config.alpha:
        return f"Friedman {p_is(outcome.pvalue)} over {over}; Nemenyi CD = {outcome.cd:.2f} ranks"
    return f"Friedman {p_is(outcome.pvalue)} over {over}: no difference found, so none is ruled out"


def recommend_group(
    table: pd.DataFrame, modality: str, backbone: str, config: SignificanceConfig
) -> Recommendation | None:
    """One Recommendation row for the datasets in `table` (one modality, one backbone or all pooled)."""
    block = ["dataset"] if backbone != POOLED else ["dataset", "backbone"]
    means = cell_means(table)
    outcome = friedman_nemenyi(means, block, config)
    if outcome.mean_ranks.empty:
        return None
    if outcome.tested:
        kept = outcome.not_worse_than_best(config.alpha)
        evidence = _evidence(outcome, config, pooled=backbone == POOLED)
    elif len(outcome.mean_ranks) < 2:
        kept, evidence = list(outcome.mean_ranks.index), "one strategy only: nothing to compare"
    else:
        kept, how = seed_level(table, block, outcome.mean_ranks, config)
        evidence = f"no test across datasets ({outcome.reason}); {how}"
    if outcome.dropped:
        evidence += "; left out: " + ", ".join(outcome.dropped)
    datasets = table["dataset"].nunique()
    return Recommendation(modality, backbone, datasets, outcome.mean_ranks, kept, evidence)


def recommendations(table: pd.DataFrame, config: SignificanceConfig) -> list[Recommendation]:
    """Rows for every modality × backbone, plus each modality's backbones pooled when it has more than one."""
    out = []
    for modality, group in table.groupby("modality", sort=True):
        backbones = sorted(group["backbone"].unique())
        for backbone in [*backbones, *([POOLED] if len(backbones) > 1 else [])]:
            rows = group if backbone == POOLED else group[group["backbone"] == backbone]
            rec = recommend_group(rows, str(modality), backbone, config)
            if rec is not None:
                out.append(rec)
    return out
