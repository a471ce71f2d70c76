"""From the report's frame (one row per finished cell) to one score per dataset × backbone × strategy × seed.

A *score* is the test value of the dataset's ranking metric multiplied by +1 or −1 so that higher is always better
(`suite.metrics.METRICS[m].higher_is_better`); every later step can then take maxima and positive differences
without asking which way a metric points. A *backbone* is `architecture (source)`: strategies are only compared on
the same architecture and the same pretraining source.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from suite.errors import UserError, did_you_mean
from suite.matrix.report import SignificanceConfig
from suite.metrics import METRICS

KEYS = ("dataset", "architecture", "source", "strategy", "seed")
REQUIRED = (*KEYS, "modality")
COLUMNS = ["dataset", "modality", "backbone", "strategy", "choice", "seed", "score", "sign"]


@dataclass
class Scores:
    """Long table with COLUMNS, the metric each dataset is ranked on, and notes for the reader."""

    table: pd.DataFrame
    metric_of: dict[str, str]
    notes: list[str] = field(default_factory=list)


def family(strategy: str) -> str:
    """`swft@3` → `swft`: the strategy a variant belongs to."""
    return strategy.split("@", 1)[0]


def _check_frame(frame: pd.DataFrame) -> None:
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ValueError(f"significance frame lacks columns {missing}; it has {sorted(frame.columns)}")
    keys = [*KEYS, "sweep"] if "sweep" in frame else list(KEYS)
    dup = frame[frame.duplicated(keys, keep=False)]
    if not dup.empty:
        r = dup.iloc[0]
        raise UserError(
            f"significance: {len(dup)} results share {r.dataset}/{r.architecture}/{r.source}/{r.strategy}"
            f"/seed {r.seed}; the section needs one result per cell (sweep points need a `sweep` column)"
        )


def _metric_column(frame: pd.DataFrame, split: str, metric: str) -> pd.Series:
    column = f"{split}_{metric}"
    return frame[column].astype(float) if column in frame else pd.Series(math.nan, index=frame.index)


def _candidates(rows: pd.DataFrame, config: SignificanceConfig) -> pd.DataFrame:
    """Per row: the group a choice is made in (`pick`), the candidate (strategy and sweep point) and the text
    that says what was chosen. A `choice` column (rows the report already selected) is taken as it is."""
    strategy = rows["strategy"].astype(str)
    sweep = rows["sweep"].fillna("").astype(str) if "sweep" in rows else pd.Series("", index=rows.index)
    pick = strategy.map(family) if config.variants == "best-on-val" else strategy
    if "choice" in rows:
        shown = rows["choice"].fillna("").astype(str)
    else:
        named = strategy.where(strategy.str.contains("@", regex=False), "")
        shown = (named + ", " + sweep).str.strip(", ")
    return pd.DataFrame({"strategy": pick, "candidate": strategy + "|" + sweep, "choice": shown})


def _choose(table: pd.DataFrame) -> pd.DataFrame:
    """Keep one candidate per dataset × backbone × strategy: the best mean validation score (ties: first by name).

    Variants and sweep points are chosen on validation, never on test, so the test comparison stays honest; it
    is the choice a user could make without the test split.
    """
    keys = ["dataset", "backbone", "strategy"]
    means = table.groupby([*keys, "candidate"], sort=True)["val"].mean().reset_index()
    means["val"] = means["val"].fillna(-math.inf)
    best = means.loc[means.groupby(keys, sort=True)["val"].idxmax()]
    chosen = set(zip(best["dataset"], best["backbone"], best["strategy"], best["candidate"]))
    keep = [
        k in chosen for k in zip(table["dataset"], table["backbone"], table["strategy"], table["candidate"])
    ]
    return table[keep]


def scores(frame: pd.DataFrame, metrics: Mapping[str, str], config: SignificanceConfig) -> Scores:
    """One signed test score per dataset × backbone × strategy × seed; datasets without one are noted and left out."""
    _check_frame(frame)
    if "status" in frame:
        frame = frame[frame["status"] == "ok"]
    notes: list[str] = []
    parts, metric_of = [], {}
    for dataset, rows in frame.groupby("dataset", sort=True):
        metric = config.metric or metrics.get(dataset)
        if metric is None:
            raise ValueError(f"no ranking metric given for dataset {dataset!r}")
        try:
            sign = 1.0 if METRICS.get(metric).higher_is_better else -1.0
        except UserError as exc:
            raise UserError(f"significance: dataset {dataset!r} ranks on {exc.message}") from None
        test = _metric_column(rows, "test", metric)
        if test.isna().all():
            notes.append(f"{dataset}: no test-split {metric} in any result; left out.")
            continue
        metric_of[dataset] = metric
        part = pd.DataFrame(
            {
                "dataset": dataset,
                "modality": rows["modality"].astype(str),
                "backbone": rows["architecture"].astype(str) + " (" + rows["source"].astype(str) + ")",
                "seed": rows["seed"].astype(int),
                "score": sign * test,
                "val": sign * _metric_column(rows, "val", metric),
                "sign": sign,
            }
        )
        parts.append(part.join(_candidates(rows, config)))
    if not parts:
        return Scores(pd.DataFrame(columns=COLUMNS), metric_of, notes)
    table = _choose(pd.concat(parts, ignore_index=True))
    dropped = table["score"].isna()
    if dropped.any():
        notes.append(f"{int(dropped.sum())} results with an undefined (NaN) test metric are left out.")
    table = table[~dropped]
    table = table.sort_values(["dataset", "backbone", "strategy", "seed"], kind="stable")
    return Scores(table[COLUMNS].reset_index(drop=True), metric_of, notes)


def check_baseline(table: pd.DataFrame, baseline: str) -> None:
    """The baseline must be one of the strategies that finished somewhere; else a did-you-mean error."""
    if table.empty or baseline in set(table["strategy"]):
        return
    raise UserError(
        f"report.significance.baseline: {did_you_mean(baseline, set(table['strategy']))}"
        " (set `baseline:` in the matrix's report.significance block)"
    )


def cell_means(table: pd.DataFrame) -> pd.DataFrame:
    """Mean signed score over seeds per dataset × modality × backbone × strategy (what ranks are computed on)."""
    keys = ["dataset", "modality", "backbone", "strategy"]
    return table.groupby(keys, sort=True)["score"].mean().reset_index()
