"""Per dataset × backbone: each strategy against the baseline over paired seeds.

- Δ is the mean over paired seeds (same seed = same pair) of the signed score difference, so Δ > 0 means better.
- Its 95% CI is scipy's percentile bootstrap over the seed differences. With 3 seeds the percentile interval is
  exactly [min, max] of the three differences (P(a resample is all-min) = 1/27 > 2.5%), whose real coverage is
  about 75%, not 95%: the CI describes the spread, and the decision is the t-test's, never the CI's.
- The test is the paired t-test (`scipy.stats.ttest_1samp` on the differences), two-sided. With n = 3 it is the
  only standard test that can reject at all: every rank or sign-flip test (Wilcoxon signed-rank, sign test,
  permutation of signs) has 2³ = 8 equally likely outcomes under H0, so its smallest two-sided p is 2/8 = 0.25.
  The t-test buys that with an assumption (normal seed-to-seed differences) that 3 seeds cannot check, and it has
  2 degrees of freedom (critical t = 4.30), so only differences several SDs wide come out significant.
- Holm's step-down correction runs over the strategies compared on one dataset × backbone (`adjust: none` turns it
  off): with 8–14 strategies per table, uncorrected p-values would flag a false "better" somewhere most of the time.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from suite.matrix.report import SignificanceConfig
from suite.stats.text import plural

# Differences whose sample SD is below this (relative to 1 + |mean|) count as constant: the t statistic is then
# ±inf or 0/0 and the p-value says nothing about noise, so the verdict says so in words.
CONSTANT_TOL = 1e-9


def paired_pvalues(diffs: np.ndarray) -> np.ndarray:
    """Two-sided paired t-test p-values along the last axis; NaN where the differences are (nearly) constant."""
    diffs = np.asarray(diffs, dtype=float)
    sd = diffs.std(axis=-1, ddof=1)
    constant = sd <= CONSTANT_TOL * (1.0 + np.abs(diffs.mean(axis=-1)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        p = np.asarray(stats.ttest_1samp(diffs, 0.0, axis=-1).pvalue, dtype=float)
    return np.where(constant, np.nan, p)


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values: sorted ascending, p_(i)·(m − i + 1), made monotone, capped at 1.

    Hand-written (4 lines) because statsmodels' `multipletests(method="holm")`, which the tests use as the
    reference, calls `gc.collect()` on every call: 0.2 s each here, and a report makes hundreds of calls.
    """
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(p[order] * np.arange(len(p), 0, -1))
    out = np.empty_like(p)
    out[order] = np.minimum(stepped, 1.0)
    return out


def adjust(pvalues: np.ndarray, method: str) -> np.ndarray:
    """Holm-adjusted (or unadjusted) p-values over the finite entries; NaN (no test) stays NaN."""
    p = np.asarray(pvalues, dtype=float)
    ok = np.isfinite(p)
    out = np.where(ok, p, np.nan)
    if method == "holm" and ok.any():
        out[ok] = holm(p[ok])
    return out


def bootstrap_ci(diffs: np.ndarray, config: SignificanceConfig) -> tuple[np.ndarray, np.ndarray]:
    """Percentile-bootstrap 95% CI of the mean along the last axis, all rows in one vectorised scipy call."""
    diffs = np.atleast_2d(np.asarray(diffs, dtype=float))
    if diffs.shape[-1] < 2:
        nan = np.full(diffs.shape[0], np.nan)
        return nan, nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ci = stats.bootstrap(
            (diffs,),
            np.mean,
            axis=-1,
            vectorized=True,
            n_resamples=config.bootstrap,
            method="percentile",
            rng=np.random.default_rng(config.seed),
        ).confidence_interval
    return np.asarray(ci.low, dtype=float), np.asarray(ci.high, dtype=float)


def _pairs(table: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """One row per dataset × backbone × strategy × seed with the strategy's and the baseline's score."""
    base = table[table["strategy"] == baseline][["dataset", "backbone", "seed", "score"]]
    other = table[table["strategy"] != baseline]
    return other.merge(base, on=["dataset", "backbone", "seed"], suffixes=("", "_base"))


def _summaries(table: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """All-seed means of each strategy and its baseline (Davila's raw % change is computed from these)."""
    keys = ["dataset", "modality", "backbone", "strategy"]
    means = table.groupby(keys, sort=True).agg(
        choice=("choice", "first"),
        sign=("sign", "first"),
        mean=("score", "mean"),
    )
    means = means.reset_index()
    base = means[means["strategy"] == baseline][["dataset", "backbone", "mean"]]
    out = means[means["strategy"] != baseline].merge(
        base, on=["dataset", "backbone"], suffixes=("", "_base"), how="inner"
    )
    diff = out["mean"] - out["mean_base"]
    out["pct"] = np.where(out["mean_base"] != 0, 100.0 * diff / out["mean_base"].abs(), np.nan)
    return out


def _tests(pairs: pd.DataFrame, config: SignificanceConfig) -> pd.DataFrame:
    """n, Δ, CI and raw p per comparison; the bootstrap and t-test run once per distinct n, vectorised."""
    keys = ["dataset", "backbone", "strategy"]
    pairs = pairs.assign(diff=pairs["score"] - pairs["score_base"]).sort_values([*keys, "seed"])
    grouped = pairs.groupby(keys, sort=True)["diff"].apply(lambda s: s.to_numpy())
    rows = pd.DataFrame({"diffs": grouped}).reset_index()
    rows["n"] = rows["diffs"].map(len)
    rows["delta"] = rows["diffs"].map(np.mean)
    for col in ("ci_low", "ci_high", "p"):
        rows[col] = np.nan
    for n, idx in rows.groupby("n").groups.items():
        block = np.stack(rows.loc[idx, "diffs"].to_list())
        low, high = bootstrap_ci(block, config)
        rows.loc[idx, "ci_low"], rows.loc[idx, "ci_high"] = low, high
        if n >= config.min_seeds:
            rows.loc[idx, "p"] = paired_pvalues(block)
    return rows.drop(columns="diffs")


def _verdict(row: pd.Series, config: SignificanceConfig) -> str:
    if row["n"] < config.min_seeds:
        return f"too little evidence: {plural(row['n'], 'paired seed')} (a test needs ≥ {config.min_seeds})"
    if math.isnan(row["p"]):
        if abs(row["delta"]) <= CONSTANT_TOL:
            return "identical on every seed"
        return "same difference on every seed: no seed noise to test against"
    if row["p_adj"] < config.alpha:
        return "**better**" if row["delta"] > 0 else "**worse**"
    return "no significant difference"


def compare_to_baseline(table: pd.DataFrame, config: SignificanceConfig) -> pd.DataFrame:
    """Every strategy vs the baseline per dataset × backbone: means, Δ with CI, Davila %, p, Holm p, verdict."""
    summary = _summaries(table, config.baseline)
    if summary.empty:
        return summary.assign(
            n=[], delta=[], ci_low=[], ci_high=[], p=[], p_adj=[], significant=[], verdict=[]
        )
    tests = _tests(_pairs(table, config.baseline), config)
    out = summary.merge(tests, on=["dataset", "backbone", "strategy"], how="left")
    out["n"] = out["n"].fillna(0).astype(int)
    out["p_adj"] = np.nan
    for _, idx in out.groupby(["dataset", "backbone"]).groups.items():
        out.loc[idx, "p_adj"] = adjust(out.loc[idx, "p"].to_numpy(), config.adjust)
    out["significant"] = out["p_adj"] < config.alpha
    out["verdict"] = [_verdict(r, config) for _, r in out.iterrows()]
    return out.sort_values(["dataset", "backbone", "strategy"], kind="stable").reset_index(drop=True)


def effectiveness(comparisons: pd.DataFrame, config: SignificanceConfig) -> pd.DataFrame:
    """Davila's Table 12 counts per strategy × backbone, beside the same counts restricted to significant gains.

    raw: the all-seed mean beats the baseline's by more than `threshold_pct`% of |baseline|, as Davila counts.
    significant: additionally the (Holm-adjusted) paired t-test says better. untestable: too few paired seeds.
    """
    c = comparisons
    # As the report's Table 12 (suite.report.tables.relative.improved): a zero baseline has no % change.
    raw = c["pct"] > config.threshold_pct
    frame = c.assign(
        raw=raw,
        sig=raw & c["significant"] & (c["delta"] > 0),
        untestable=c["n"] < config.min_seeds,
    )
    return (
        frame.groupby(["strategy", "backbone"], sort=True)
        .agg(
            experiments=("dataset", "nunique"),
            raw=("raw", "sum"),
            sig=("sig", "sum"),
            untestable=("untestable", "sum"),
        )
        .reset_index()
    )
