"""The significance section: planted effects are found, null sets are not, error rates are nominal, and the
too-little-evidence paths speak in words. Synthetic frames come from tests/stats_synth.py."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats
from stats_synth import metrics_of, synth_frame
from statsmodels.stats.multitest import multipletests

from suite.errors import UserError
from suite.matrix.report import SignificanceConfig
from suite.stats import render_significance
from suite.stats.paired import adjust, bootstrap_ci, compare_to_baseline, effectiveness, holm, paired_pvalues
from suite.stats.prepare import cell_means, scores
from suite.stats.ranks import complete_table, friedman_nemenyi
from suite.stats.recommend import recommendations

CONFIG = SignificanceConfig()
ALPHA = CONFIG.alpha


def _table(
    frame: pd.DataFrame, config: SignificanceConfig = CONFIG, metric: str = "accuracy"
) -> pd.DataFrame:
    return scores(frame, metrics_of(frame, metric), config).table


# ---- the per-dataset test: why a t-test, and that it holds its level ----


def test_no_rank_test_can_reject_with_three_seeds_but_the_t_test_can():
    """Wilcoxon's smallest two-sided p with n = 3 is 2/2³ = 0.25 whatever the data: it could never flag anything."""
    smallest = min(
        stats.wilcoxon(np.array(signs) * np.array([0.01, 0.02, 0.03])).pvalue
        for signs in itertools.product([-1, 1], repeat=3)
    )
    assert smallest == pytest.approx(0.25)
    assert paired_pvalues(np.array([0.030, 0.031, 0.032])) < ALPHA


def test_paired_t_false_positive_rate_is_nominal_under_the_null():
    """20,000 null comparisons of 3 paired seeds: rate within 4 binomial SEs (±0.0062) of α. The t-test is exact
    for normal differences, so a wider miss means the code, not the theory, is wrong."""
    rng = np.random.default_rng(7)
    diffs = rng.normal(0.0, 0.01, size=(20_000, 3))
    rate = np.mean(paired_pvalues(diffs) < ALPHA)
    se = np.sqrt(ALPHA * (1 - ALPHA) / len(diffs))
    assert abs(rate - ALPHA) < 4 * se


def test_holm_keeps_the_family_wise_rate_at_alpha_where_raw_p_values_do_not():
    """5 strategies vs a shared baseline, 3 seeds, 4,000 null tables: Holm's family-wise rate is ≤ α + 4 SE
    (and not far below it), the unadjusted 'anything significant' rate is several times α."""
    rng = np.random.default_rng(11)
    base = rng.normal(size=(4_000, 1, 3))
    p = paired_pvalues(rng.normal(size=(4_000, 5, 3)) - base)
    fwer = np.mean([(adjust(row, "holm") < ALPHA).any() for row in p])
    se = np.sqrt(ALPHA * (1 - ALPHA) / len(p))
    assert 0.02 < fwer < ALPHA + 4 * se
    assert np.mean((p < ALPHA).any(axis=1)) > 3 * ALPHA


def test_holm_matches_statsmodels():
    rng = np.random.default_rng(3)
    for m in (3, 14):
        p = rng.uniform(size=m) ** 3
        np.testing.assert_allclose(holm(p), multipletests(p, method="holm")[1])
    assert np.isnan(adjust(np.array([0.01, np.nan]), "holm")[1])


def test_bootstrap_ci_of_three_seeds_is_their_range():
    """The documented reason the CI is descriptive only: with n = 3 the percentile interval is [min, max]."""
    diffs = np.array([[0.010, 0.025, 0.013], [-0.02, 0.01, 0.0]])
    low, high = bootstrap_ci(diffs, CONFIG)
    np.testing.assert_allclose(low, diffs.min(axis=1))
    np.testing.assert_allclose(high, diffs.max(axis=1))


def test_constant_differences_are_not_called_significant():
    """Same difference on every seed: the t statistic is infinite, but there is no noise to test against."""
    assert np.isnan(paired_pvalues(np.array([0.01, 0.01, 0.01])))
    frame = synth_frame(datasets=1, backbones=("resnet50",), strategies=("ft", "lp"), noise=0.0, shared=0.0)
    frame.loc[frame["strategy"] == "lp", "test_accuracy"] += 0.01
    row = compare_to_baseline(_table(frame), CONFIG).iloc[0]
    assert not row["significant"] and "same difference on every seed" in row["verdict"]


# ---- planted and null result sets ----


def test_planted_effect_is_found_on_every_dataset_and_counted_as_effective():
    frame = synth_frame(strategies=("ft", "good", "lp"), effect={"good": 0.03}, noise=0.002, shared=0.004)
    comparisons = compare_to_baseline(_table(frame), CONFIG)
    good = comparisons[comparisons["strategy"] == "good"]
    assert len(good) == 12 and good["significant"].all() and (good["verdict"] == "**better**").all()
    assert good["delta"].between(0.02, 0.04).all() and (good["ci_low"] > 0).all()
    counts = effectiveness(comparisons, CONFIG).set_index(["strategy", "backbone"])
    assert (counts.loc["good", "sig"] == 6).all() and (counts.loc["good", "raw"] == 6).all()
    assert (counts.loc["lp", "sig"] == 0).all()


def test_planted_effect_is_separated_in_the_cd_diagram(tmp_path):
    """16 datasets, 4 strategies: the planted one ranks first on every dataset and is more than CD from the rest,
    per backbone and pooled, so the Recommendation lists it alone."""
    frame = synth_frame(
        datasets=16, strategies=("ft", "good", "lp", "l2-sp"), effect={"good": 0.03}, modalities=("x-ray",)
    )
    table = _table(frame)
    for block, sub in (
        (["dataset"], table[table["backbone"] == "resnet50 (imagenet)"]),
        (["dataset", "backbone"], table),
    ):
        outcome = friedman_nemenyi(cell_means(sub), block, CONFIG)
        assert outcome.pvalue < ALPHA and outcome.mean_ranks.index[0] == "good"
        assert outcome.mean_ranks.iloc[0] == 1.0
        assert (outcome.mean_ranks.iloc[1:] - 1.0 > outcome.cd).all()
        assert outcome.not_worse_than_best(ALPHA) == ["good"]
    assert all(rec.kept == ["good"] for rec in recommendations(table, CONFIG))
    render_significance(frame, CONFIG, tmp_path, metrics_of(frame))
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pngs == [
        "significance-cd-all-backbones-pooled.png",
        "significance-cd-densenet121-imagenet.png",
        "significance-cd-resnet50-imagenet.png",
    ]
    assert all((tmp_path / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_null_set_has_nothing_significant():
    """Identical distributions for every strategy (seeded): no per-dataset difference, no Friedman difference,
    nothing ruled out. The calibration tests above are what make this more than one lucky draw."""
    frame = synth_frame(datasets=8, strategies=("ft", "a", "b", "c"), rng=5)
    table = _table(frame)
    comparisons = compare_to_baseline(table, CONFIG)
    assert not comparisons["significant"].any()
    assert (comparisons["verdict"] == "no significant difference").all()
    for backbone in table["backbone"].unique():
        outcome = friedman_nemenyi(cell_means(table[table["backbone"] == backbone]), ["dataset"], CONFIG)
        assert outcome.tested and outcome.pvalue >= ALPHA
    assert all(sorted(rec.kept) == ["a", "b", "c", "ft"] for rec in recommendations(table, CONFIG))


def test_friedman_p_value_is_scipys_on_the_mean_over_seeds():
    """The wiring into autorank: blocks are datasets, values are seed means, no seed is a block."""
    frame = synth_frame(datasets=7, backbones=("resnet50",), strategies=("ft", "a", "b"), rng=2)
    means = cell_means(_table(frame))
    wide = means.pivot(index="dataset", columns="strategy", values="score")
    outcome = friedman_nemenyi(means, ["dataset"], CONFIG)
    assert outcome.blocks == 7
    assert outcome.pvalue == pytest.approx(stats.friedmanchisquare(*wide.to_numpy().T).pvalue)


@pytest.mark.slow
def test_friedman_false_positive_rate_is_near_nominal():
    """1,000 null sets of 8 datasets × 4 strategies: the χ² Friedman test is slightly conservative at this size
    (about 0.04 in simulation), so the window is [0.02, α + 3 SE]."""
    rng = np.random.default_rng(13)
    hits = 0
    for _ in range(1_000):
        values = rng.normal(size=(8, 4)) + rng.normal(size=(8, 1))
        means = pd.DataFrame(
            [(f"d{i}", s, values[i, j]) for i in range(8) for j, s in enumerate("abcd")],
            columns=["dataset", "strategy", "score"],
        )
        hits += friedman_nemenyi(means, ["dataset"], CONFIG).pvalue < ALPHA
    assert 0.02 < hits / 1_000 < ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / 1_000)


# ---- too little evidence, selection, signs, and user mistakes ----


def test_too_little_evidence_is_said_in_words_not_p_values(tmp_path):
    frame = synth_frame(datasets=3, seeds=(0, 1), effect={"lp": -0.05})
    markdown = render_significance(frame, CONFIG, tmp_path, metrics_of(frame))
    # in words, once per table as a numbered note, so the table's lines stay short
    assert "| too little evidence [1] |" in markdown and "- [1] 2 paired seeds (a test needs ≥ 3)" in markdown
    assert "3 datasets with every strategy; a test across datasets needs ≥ 5" in markdown
    assert "no strategy pair has ≥ 3 paired seeds with seed-to-seed variation on any dataset" in markdown
    results = markdown.split("### Recommendation", 1)[1]
    assert "p =" not in results and "p <" not in results
    per_dataset = results.split("### Per dataset", 1)[1]
    rows = [
        [c.strip() for c in line.split("|")[1:-1]]
        for line in per_dataset.splitlines()
        if "(imagenet)" in line
    ]
    assert len(rows) == 12 and all(row[7:9] == ["–", "–"] for row in rows)
    assert not list(tmp_path.glob("*.png"))


def test_variants_are_chosen_on_validation_never_on_test():
    frame = synth_frame(datasets=2, backbones=("resnet50",), strategies=("ft", "swft@1", "swft@2"))
    is1, is2 = frame["strategy"] == "swft@1", frame["strategy"] == "swft@2"
    frame.loc[is1, ["val_accuracy", "test_accuracy"]] = [0.90, 0.50]
    frame.loc[is2, ["val_accuracy", "test_accuracy"]] = [0.80, 0.99]
    table = _table(frame)
    assert set(table["choice"]) == {"", "swft@1"} and set(table["strategy"]) == {"ft", "swft"}
    separate = _table(frame, SignificanceConfig(variants="separate"))
    assert set(separate["strategy"]) == {"ft", "swft@1", "swft@2"}
    swept = pd.concat([frame.assign(sweep="lr=1e-3"), frame.assign(sweep="lr=1e-4")], ignore_index=True)
    high_val = swept["sweep"] == "lr=1e-4"
    swept.loc[high_val, "val_accuracy"] += 0.05
    swept.loc[high_val, "test_accuracy"] -= 0.30
    assert set(_table(swept)["choice"]) == {"lr=1e-4", "swft@1, lr=1e-4"}


def test_lower_is_better_metrics_are_negated_so_a_lower_loss_is_better():
    frame = synth_frame(
        datasets=1, backbones=("resnet50",), strategies=("ft", "lp"), metric="loss", noise=0.001
    )
    frame.loc[frame["strategy"] == "lp", "test_loss"] -= 0.05
    row = compare_to_baseline(_table(frame, metric="loss"), CONFIG).iloc[0]
    assert row["delta"] > 0 and row["verdict"] == "**better**" and row["pct"] > 0


def test_davila_count_and_significant_count_differ_on_a_noisy_small_gain():
    """+0.005 on average (about +0.6%) with seed differences of ±0.03: Davila counts it, the paired test does not."""
    frame = synth_frame(
        datasets=4, backbones=("resnet50",), strategies=("ft", "l2-sp"), noise=0.0, shared=0.0
    )
    gain = np.tile([0.035, -0.030, 0.010], 4)
    frame.loc[frame["strategy"] == "l2-sp", "test_accuracy"] += gain
    comparisons = compare_to_baseline(_table(frame), CONFIG)
    assert (comparisons["pct"] > 0.1).all() and (comparisons["p"] > 0.5).all()
    counts = effectiveness(comparisons, CONFIG).iloc[0]
    assert (counts["experiments"], counts["raw"], counts["sig"], counts["untestable"]) == (4, 4, 0, 0)


def test_missing_cells_drop_whichever_keeps_more_and_say_so():
    means = pd.DataFrame(
        [(f"d{i}", s, float(i + j)) for i in range(6) for j, s in enumerate("abc") if (i, s) != (0, "c")],
        columns=["dataset", "strategy", "score"],
    )
    wide, dropped = complete_table(means, ["dataset"])
    assert wide.shape == (5, 3) and dropped == ["d0 [lacks a strategy]"]
    means = means[(means["strategy"] != "c") | (means["dataset"] == "d1")]
    wide, dropped = complete_table(means, ["dataset"])
    assert list(wide.columns) == ["a", "b"] and dropped == ["strategy c [missing on some datasets]"]


def test_datasets_without_a_test_metric_are_left_out_with_a_note():
    frame = synth_frame(datasets=2, backbones=("resnet50",))
    frame.loc[frame["dataset"] == "ds01", "test_accuracy"] = np.nan
    prepared = scores(frame, metrics_of(frame), CONFIG)
    assert set(prepared.table["dataset"]) == {"ds00"}
    assert prepared.notes == ["ds01: no test-split accuracy in any result; left out."]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"metric": "acuracy"}, "did you mean 'accuracy'"),
        ({"min_datasets": 3}, "min_datasets"),
        ({"alpha": 1.5}, "alpha"),
        ({"baselin": "ft"}, "baselin"),
    ],
)
def test_config_mistakes_are_one_line_user_errors(tmp_path, section, message):
    """A mistake in `report: significance:` is one line at its file and line, when the matrix is loaded."""
    from suite.catalog import SuiteCatalog
    from suite.matrix import load_matrix

    path = tmp_path / "m.yaml"
    matrix = {
        "datasets": ["synthetic-vessels"],
        "architectures": ["resnet18"],
        "strategies": ["ft"],
        "seeds": 1,
        "report": {"significance": section},
    }
    path.write_text(yaml.safe_dump(matrix, sort_keys=False))
    with pytest.raises(UserError, match=message) as info:
        load_matrix(str(path), SuiteCatalog())
    assert "\n" not in str(info.value)
    assert re.match(r".*m\.yaml:\d+:\d+: report\.significance\.", str(info.value))


def test_unknown_baseline_and_duplicate_cells_are_user_errors(tmp_path):
    frame = synth_frame(datasets=1, backbones=("resnet50",))
    with pytest.raises(UserError, match="did you mean 'ft'"):
        render_significance(frame, SignificanceConfig(baseline="fft"), tmp_path, metrics_of(frame))
    with pytest.raises(UserError, match="one result per cell"):
        render_significance(pd.concat([frame, frame.iloc[:1]]), CONFIG, tmp_path, metrics_of(frame))


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("only the baseline", "one strategy only: nothing to compare"),
        ("no baseline", "No `ft` results, so no comparison with it"),
        ("one seed", "too little evidence [1] |\n\n- [1] 1 paired seed (a test needs ≥ 3)"),
        ("no test metric", "No finished results with a test metric: nothing to compare."),
    ],
)
def test_degenerate_result_sets_render_in_words(case, expected, tmp_path):
    frame = synth_frame(datasets=2, backbones=("resnet50",), seeds=(0, 1, 2))
    frame = {
        "only the baseline": frame[frame["strategy"] == "ft"],
        "no baseline": frame[frame["strategy"] != "ft"],
        "one seed": frame[frame["seed"] == 0],
        "no test metric": frame.assign(test_accuracy=np.nan),
    }[case]
    assert expected in render_significance(frame, CONFIG, tmp_path, metrics_of(frame))


def test_same_results_in_any_order_give_byte_identical_markdown(tmp_path):
    frame = synth_frame(datasets=5, strategies=("ft", "lp", "lp-ft"), effect={"lp-ft": 0.01})
    first = render_significance(frame, CONFIG, tmp_path / "a", metrics_of(frame), link="plots")
    shuffled = frame.sample(frac=1.0, random_state=1)
    assert render_significance(shuffled, CONFIG, tmp_path / "b", metrics_of(frame), link="plots") == first
    assert (tmp_path / "a" / "significance-cd-all-backbones-pooled.png").is_file()


@pytest.mark.slow
def test_real_results_of_a_tiny_matrix_render(tmp_path):
    """The whole path on real result files: run ft and lp for 3 seeds (1 epoch, 32 px), collect and select rows
    as the leaderboard does, and render the section from them. One dataset and two strategies: the per-dataset
    comparison is made, the test across datasets is refused in words."""
    from suite.catalog import SuiteCatalog
    from suite.cli import main
    from suite.document import to_markdown
    from suite.matrix import load_matrix
    from suite.report.collect import collect
    from suite.report.select import select
    from suite.report.tables.significance import significance_section
    from suite.results import RunPaths

    matrix_path = tmp_path / "tiny.yaml"
    matrix_path.write_text(
        "name: tiny\ndatasets: [synthetic-vessels]\narchitectures: ['timm:resnet10t']\nsources: [scratch]\n"
        "strategies: [ft, lp]\nseeds: [0, 1, 2]\n"
        "train: {epochs: 1, batch_size: 16, image_size: 32, threads: 1, timeout_min: 5}\n"
    )
    assert main(["run", str(matrix_path), "--results", str(tmp_path / "results"), "--no-report"]) == 0
    matrix = load_matrix(str(matrix_path), SuiteCatalog())
    collected = collect(matrix.cells, RunPaths(tmp_path / "results" / "tiny"))
    rows = select(collected.frame, matrix.spec.report)
    markdown = to_markdown(significance_section(rows, matrix.spec.report, CONFIG, tmp_path / "plots"))
    assert "#### synthetic-vessels (Acc)" in markdown
    cells = [
        [c.strip() for c in line.split("|")[1:-1]] for line in markdown.splitlines() if "resnet10t" in line
    ]
    lp = next(r for r in cells if r[:2] == ["timm:resnet10t (scratch)", "LP"])
    verdicts = ("**", "no significant", "identical", "same difference")
    assert lp[2] == "3" and lp[9].startswith(verdicts)
    assert "2 strategies; the Friedman test compares 3 or more" in markdown
