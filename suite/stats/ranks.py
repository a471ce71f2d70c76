"""Across datasets: Friedman test over strategies, Nemenyi post-hoc and critical-difference diagrams (Demšar 2006).

The blocks are datasets (or dataset × backbone when backbones are pooled), the treatments are strategies, and each
value is a strategy's mean signed score over seeds on that block. Ranks make metrics of different datasets
comparable (accuracy on one, mAP on another). `autorank` runs the tests (forced to the non-parametric branch, so
it is always Friedman + Nemenyi, never ANOVA + Tukey) and draws the diagram; this module only shapes the data and
decides when there is too little evidence to run it.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import pandas as pd
from autorank import autorank, plot_stats

from suite.figures import figure_bytes
from suite.matrix.report import SignificanceConfig


@dataclass
class RankOutcome:
    """Mean ranks (1 = best) on a complete blocks × strategies table, and the Friedman/Nemenyi result if run."""

    mean_ranks: pd.Series
    blocks: int
    dropped: list[str] = field(default_factory=list)
    pvalue: float | None = None
    cd: float | None = None
    reason: str | None = None
    result: object = None

    @property
    def tested(self) -> bool:
        return self.pvalue is not None

    def not_worse_than_best(self, alpha: float) -> list[str]:
        """Strategies whose mean rank is within CD of the best, ordered by mean rank; all of them if untested
        or if the Friedman test found no difference (then no post-hoc difference may be claimed)."""
        if not self.tested or self.pvalue >= alpha:
            return list(self.mean_ranks.index)
        best = self.mean_ranks.iloc[0]
        return [s for s, r in self.mean_ranks.items() if r - best <= self.cd]


def complete_table(means: pd.DataFrame, block: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """blocks × strategies with no gaps. Either the strategies missing on some block or the blocks missing some
    strategy are dropped, whichever keeps more values (ties keep every strategy); what went is named."""
    wide = means.pivot_table(index=block, columns="strategy", values="score", aggfunc="first")
    wide = wide.sort_index().sort_index(axis=1)
    full_cols = wide.loc[:, wide.notna().all(axis=0)]
    full_rows = wide.loc[wide.notna().all(axis=1)]
    if full_cols.size > full_rows.size:
        gone = [
            f"strategy {s} [missing on some datasets]" for s in wide.columns if s not in full_cols.columns
        ]
        return full_cols, gone
    gone_rows = [r for r in wide.index if r not in full_rows.index]
    gone = [f"{' / '.join(map(str, r)) if isinstance(r, tuple) else r} [lacks a strategy]" for r in gone_rows]
    return full_rows, gone


def mean_ranks(wide: pd.DataFrame) -> pd.Series:
    """Mean rank of each strategy (1 = best; ties share the average rank), best first, ties by name."""
    ranks = wide.rank(axis=1, ascending=False).mean(axis=0)
    order = sorted(ranks.index, key=lambda s: (round(float(ranks[s]), 12), s))
    return ranks.reindex(order)


def friedman_nemenyi(means: pd.DataFrame, block: list[str], config: SignificanceConfig) -> RankOutcome:
    """Friedman + Nemenyi over the complete part of `means`; too few blocks or strategies is said in `reason`."""
    wide, dropped = complete_table(means, block)
    ranks = mean_ranks(wide) if not wide.empty else pd.Series(dtype=float)
    outcome = RankOutcome(ranks, blocks=len(wide), dropped=dropped)
    if wide.shape[1] < 3:
        outcome.reason = f"{wide.shape[1]} strategies; the Friedman test compares 3 or more"
        return outcome
    # Pooled blocks (dataset × backbone) that share a dataset are not independent evidence: count datasets.
    datasets = wide.index.get_level_values("dataset").nunique()
    if datasets < config.min_datasets:
        outcome.reason = (
            f"{datasets} dataset{'' if datasets == 1 else 's'} with every strategy; "
            f"a test across datasets needs ≥ {config.min_datasets}"
        )
        return outcome
    if (wide.nunique(axis=1) == 1).all():
        outcome.reason = "every strategy scores the same on every dataset"
        return outcome
    data = wide.reset_index(drop=True).rename_axis(columns=None)
    # autorank prints its rank table and warns on constant columns (Shapiro); neither is for the report's reader.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = autorank(data, alpha=config.alpha, order="descending", force_mode="nonparametric")
    outcome.pvalue, outcome.cd, outcome.result = float(result.pvalue), float(result.cd), result
    return outcome


def cd_diagram(outcome: RankOutcome, title: str) -> dict[str, bytes]:
    """autorank's CD diagram with a title line that says what was tested, as PNG and PDF bytes with no version
    or date stamp (suite/figures.py)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ax = plot_stats(
            outcome.result, allow_insignificant=True, width=max(6.0, 0.5 * len(outcome.mean_ranks) + 4)
        )
    fig = ax.figure
    width, height = fig.get_size_inches()
    extra = 0.45
    fig.set_size_inches(width, height + extra)
    ax.set_position([0.0, 0.0, 1.0, height / (height + extra)])
    fig.text(0.5, 1.0 - 0.12 / (height + extra), title, ha="center", va="top", fontsize=9)
    try:
        return figure_bytes(fig, dpi=120)
    finally:
        plt.close(fig)
