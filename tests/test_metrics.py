"""Metrics against scikit-learn on random inputs (hypothesis, every task type), the undefined cases (NaN with a
warning, never 0 or 0.5, never an exception), NaN scores rejected, primary metrics from datasets.lock and their
matrix override, and metrics recomputed from the stored test predictions."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn import metrics as skm

from suite.cli import main
from suite.data.lock import load_lock
from suite.metrics import METRICS, TASKS, compute_metrics, metrics_for_task, metrics_from_predictions
from suite.results import write_predictions

REPO = Path(__file__).resolve().parents[1]
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Scores with ties (a few fixed values) as well as arbitrary ones, so sklearn's tie handling is exercised too.
SCORE = st.one_of(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]), st.floats(0.0, 1.0))


def same(a: float, b: float) -> bool:
    """Equal within float noise, with NaN equal to NaN (undefined on both sides)."""
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def sk(fn, *args, **kwargs) -> float:
    """A sklearn metric with its warnings silenced; its own NaN or its ValueError (undefined) → NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return float(fn(*args, **kwargs))
        except ValueError:
            return float("nan")


def strict_mean(values) -> float:
    """Macro mean that is NaN when any class is NaN (the suite's rule, see suite/metrics.py)."""
    values = np.asarray(values, dtype=float)
    return float("nan") if np.isnan(values).any() else float(values.mean())


def assert_matches(report, expected: dict[str, float]) -> None:
    for name, value in expected.items():
        assert same(report.scalars[name], value), (name, report.scalars[name], value)
    nan = [k for k, v in report.scalars.items() if math.isnan(v)]
    assert not nan or report.warnings, f"NaN {nan} without a warning"


def reference_single_label(task: str, y: np.ndarray, scores: np.ndarray, k: int) -> dict[str, float]:
    """Every scalar of a single-label task, straight from sklearn."""
    labels = list(range(k))
    pred = scores.argmax(1)
    p, r, f1, _ = sk_prf(y, pred, labels)
    onehot = np.eye(k, dtype=int)[y]
    if task == "binary":
        auroc = sk(skm.roc_auc_score, y, scores[:, 1]) if len(set(y)) == 2 else math.nan
        auprc = sk(skm.average_precision_score, y, scores[:, 1]) if len(set(y)) == 2 else math.nan
    else:
        everyone = len(set(y)) == k
        auroc = sk(skm.roc_auc_score, y, scores, multi_class="ovr", labels=labels) if everyone else math.nan
        auprc = sk(skm.average_precision_score, onehot, scores, average="macro") if everyone else math.nan
    return {
        "accuracy": skm.accuracy_score(y, pred),
        "macro_accuracy": float(np.mean([skm.accuracy_score(y == c, pred == c) for c in labels])),
        "balanced_accuracy": sk(skm.balanced_accuracy_score, y, pred),
        "precision_macro": strict_mean(p),
        "recall_macro": strict_mean(r),
        "f1_macro": strict_mean(f1),
        "auroc": auroc,
        "auprc": auprc,
        "kappa": sk(skm.cohen_kappa_score, y, pred, labels=labels),
        "kappa_quadratic": sk(skm.cohen_kappa_score, y, pred, labels=labels, weights="quadratic"),
    }


def sk_prf(y, pred, labels=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return skm.precision_recall_fscore_support(y, pred, labels=labels, zero_division=np.nan)


@st.composite
def binary_case(draw):
    n = draw(st.integers(1, 40))
    y = draw(arrays(np.int64, n, elements=st.integers(0, 1)))
    p1 = draw(arrays(np.float64, n, elements=SCORE))
    return y, np.stack([1 - p1, p1], axis=1)


@st.composite
def multiclass_case(draw):
    k, n = draw(st.integers(3, 6)), draw(st.integers(1, 50))
    y = draw(arrays(np.int64, n, elements=st.integers(0, k - 1)))
    weights = draw(arrays(np.float64, (n, k), elements=st.floats(0.01, 1.0))) + 0.0
    return y, weights / weights.sum(axis=1, keepdims=True), k


@st.composite
def multilabel_case(draw):
    k, n = draw(st.integers(2, 5)), draw(st.integers(1, 40))
    y = draw(arrays(np.int64, (n, k), elements=st.integers(0, 1)))
    return y, draw(arrays(np.float64, (n, k), elements=SCORE)), k


@SETTINGS
@given(binary_case())
def test_binary_matches_sklearn(case):
    y, scores = case
    report = compute_metrics("binary", y, scores, ["neg", "pos"])
    assert_matches(report, reference_single_label("binary", y, scores, 2))
    assert report.confusion == skm.confusion_matrix(y, scores.argmax(1), labels=[0, 1]).tolist()


@SETTINGS
@given(multiclass_case())
def test_multiclass_matches_sklearn(case):
    y, scores, k = case
    names = [f"c{i}" for i in range(k)]
    report = compute_metrics("multiclass", y, scores, names)
    assert_matches(report, reference_single_label("multiclass", y, scores, k))
    p, r, f1, support = sk_prf(y, scores.argmax(1), list(range(k)))
    for i, name in enumerate(names):
        got = report.per_class[name]
        assert same(got["precision"], p[i]) and same(got["recall"], r[i]) and same(got["f1"], f1[i])
        assert got["support"] == support[i]


@SETTINGS
@given(multilabel_case())
def test_multilabel_matches_sklearn(case):
    y, scores, k = case
    names = [f"l{i}" for i in range(k)]
    pred = (scores >= 0.5).astype(int)
    report = compute_metrics("multilabel", y, scores, names)
    defined = all(0 < y[:, i].sum() < len(y) for i in range(k))
    p, r, f1, _ = sk_prf(y, pred)
    assert_matches(
        report,
        {
            "accuracy": 1 - skm.hamming_loss(y, pred),
            "macro_accuracy": 1 - skm.hamming_loss(y, pred),
            "subset_accuracy": skm.accuracy_score(y, pred),
            "balanced_accuracy": np.mean(
                [sk(skm.balanced_accuracy_score, y[:, i], pred[:, i]) for i in range(k)]
            ),
            "precision_macro": strict_mean(p),
            "recall_macro": strict_mean(r),
            "f1_macro": strict_mean(f1),
            "auroc": sk(skm.roc_auc_score, y, scores, average="macro") if defined else math.nan,
            "map": sk(skm.average_precision_score, y, scores, average="macro") if defined else math.nan,
        },
    )
    for i, name in enumerate(names):
        assert same(report.per_class[name]["accuracy"], skm.accuracy_score(y[:, i], pred[:, i]))
    assert report.confusion == skm.multilabel_confusion_matrix(y, pred).tolist()


@pytest.mark.parametrize("task", TASKS)
def test_every_metric_of_a_task_is_reported(task):
    k = 3
    y = (
        np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1]])
        if task == "multilabel"
        else np.array([0, 1, 1, 0])
    )
    scores = np.full((4, 2 if task == "binary" else k), 0.5)
    names = [f"c{i}" for i in range(scores.shape[1])]
    got = set(compute_metrics(task, y, scores, names).scalars)
    assert got == set(metrics_for_task(task)) - {"loss"}


# --- undefined cases: NaN with a warning, never 0 or 0.5, never an exception --------------------------------


def test_class_absent_from_y_true():
    y = np.array([0, 0, 2, 2, 0])  # class 1 never occurs
    scores = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.3, 0.3, 0.4], [0.6, 0.3, 0.1]])
    r = compute_metrics("multiclass", y, scores, ["a", "b", "c"])
    assert math.isnan(r.per_class["b"]["recall"]) and math.isnan(r.per_class["b"]["auroc"])
    assert math.isnan(r.scalars["recall_macro"]) and math.isnan(r.scalars["auroc"])
    assert r.scalars["balanced_accuracy"] == pytest.approx(
        sk(skm.balanced_accuracy_score, y, scores.argmax(1))
    )
    assert any("'b' undefined" in w for w in r.warnings)
    assert any("balanced accuracy averages only" in w for w in r.warnings)


def test_quadratic_kappa_uses_the_distance_between_grades_even_when_one_is_missing():
    """Grade 2 is absent: sklearn's default label set would make grades 1 and 3 neighbours."""
    y, pred = np.array([0, 1, 3, 3]), np.array([0, 3, 1, 3])
    scores = np.eye(4)[pred]
    r = compute_metrics("multiclass", y, scores, ["g0", "g1", "g2", "g3"])
    assert r.scalars["kappa_quadratic"] == pytest.approx(
        skm.cohen_kappa_score(y, pred, weights="quadratic", labels=[0, 1, 2, 3])
    )
    assert r.scalars["kappa_quadratic"] != pytest.approx(skm.cohen_kappa_score(y, pred, weights="quadratic"))


def test_constant_predictions():
    y = np.array([0, 1, 0, 1, 1])
    scores = np.tile([0.9, 0.1], (5, 1))  # always "negative", same score for everyone
    r = compute_metrics("binary", y, scores, ["neg", "pos"])
    assert math.isnan(r.per_class["pos"]["precision"]) and math.isnan(r.scalars["precision_macro"])
    assert r.per_class["pos"]["f1"] == 0.0 and r.per_class["pos"]["recall"] == 0.0  # defined, and bad
    assert r.scalars["auroc"] == 0.5  # computed (all scores tie), not substituted
    assert r.scalars["kappa"] == 0.0
    assert any("precision for 'pos' undefined" in w for w in r.warnings)


def test_multilabel_column_without_positives():
    y = np.array([[1, 0], [0, 0], [1, 0], [0, 0]])
    scores = np.array([[0.9, 0.2], [0.1, 0.7], [0.6, 0.1], [0.3, 0.4]])
    r = compute_metrics("multilabel", y, scores, ["effusion", "nodule"])
    assert math.isnan(r.per_class["nodule"]["auroc"]) and math.isnan(r.per_class["nodule"]["auprc"])
    assert math.isnan(r.scalars["map"]) and math.isnan(r.scalars["auroc"])
    assert r.per_class["nodule"]["accuracy"] == 0.75 and r.per_class["effusion"]["auroc"] == 1.0
    assert any("'nodule' undefined: the split has no positive" in w for w in r.warnings)


@pytest.mark.parametrize("task", TASKS)
def test_single_sample(task):
    y = np.array([[1, 0, 1]]) if task == "multilabel" else np.array([1])
    scores = (
        np.array([[0.7, 0.2, 0.9]])
        if task == "multilabel"
        else np.array([[0.3, 0.7, 0.0][: 2 if task == "binary" else 3]])
    )
    r = compute_metrics(task, y, scores, [f"c{i}" for i in range(scores.shape[1])])
    assert r.scalars["accuracy"] == 1.0
    assert math.isnan(r.scalars["auroc"]) and r.warnings
    if task != "multilabel":
        assert math.isnan(r.scalars["kappa"])


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_scores_are_rejected(task, bad):
    k = 2 if task == "binary" else 3
    scores = np.full((3, k), 1 / k)
    scores[1, 0] = bad
    y = np.eye(k, dtype=int)[[1, 0, 0]] if task == "multilabel" else np.array([1, 0, 0])
    with pytest.raises(ValueError, match=r"scores contain 1 NaN/inf values \(diverged model\?\)"):
        compute_metrics(task, y, scores, [f"c{i}" for i in range(k)])


@pytest.mark.parametrize(
    ("task", "y", "needle"),
    [
        ("binary", [0, 2], "class indices in 0..1"),
        ("multiclass", [[0, 1], [1, 0]], "class indices"),
        ("multilabel", [0, 1], "N×2 array of 0/1"),
        ("ordinal", [0, 1], "unknown task type"),
    ],
)
def test_bad_targets_are_rejected(task, y, needle):
    with pytest.raises(ValueError, match=needle):
        compute_metrics(task, np.array(y), np.full((2, 2), 0.5), ["a", "b"])


# --- primary metrics: datasets.lock, and the matrix's override ----------------------------------------------


def test_every_lock_dataset_declares_metrics_its_task_reports():
    lock, _ = load_lock(REPO / "datasets.lock")
    for name, entry in lock.datasets.items():
        assert entry.metrics, name
        for metric in entry.metrics:
            assert entry.task in METRICS[metric].tasks, (name, metric)


MATRIX = """
datasets: [{dataset}]
architectures: [tf_efficientnet_lite0]
strategies: [ft]
seeds: [0]
train: {{epochs: 1, image_size: 32}}
"""


def dry_run_metrics(matrix_file, dataset: str, capsys) -> tuple[int, str, list | None]:
    from suite.commands import load_checked as _load

    path = matrix_file(MATRIX.format(dataset=dataset))
    code = main(["run", str(path), "--dry-run"])
    err = capsys.readouterr().err
    metrics = [c.config.dataset.metrics for c in _load(str(path)).cells] if code == 0 else None
    return code, err, metrics


def test_primary_metrics_come_from_the_lock(matrix_file, capsys):
    code, _, metrics = dry_run_metrics(matrix_file, "synthetic-fundus", capsys)
    assert code == 0 and metrics == [["accuracy", "kappa_quadratic"]]


def test_matrix_overrides_primary_metrics(matrix_file, capsys):
    code, _, metrics = dry_run_metrics(
        matrix_file, "{name: synthetic-fundus, metrics: [f1_macro, auroc]}", capsys
    )
    assert code == 0 and metrics == [["f1_macro", "auroc"]]


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("[f1_makro]", "did you mean 'f1_macro'"),
        ("[map]", "is multiclass: metric 'map' applies to multilabel"),
    ],
)
def test_bad_metric_override_is_one_line(matrix_file, capsys, override, needle):
    code, err, _ = dry_run_metrics(matrix_file, f"{{name: synthetic-fundus, metrics: {override}}}", capsys)
    assert code == 2 and needle in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


# --- stored test predictions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("task", TASKS)
def test_metrics_recompute_from_stored_predictions(tmp_path, task):
    rng = np.random.default_rng(1)
    k = 2 if task == "binary" else 4
    y = rng.integers(0, 2, (30, k)) if task == "multilabel" else rng.integers(0, k, 30)
    logits = rng.normal(size=(30, k)).astype(np.float32)
    scores = (
        1 / (1 + np.exp(-logits))
        if task == "multilabel"
        else np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    )
    names = [f"c{i}" for i in range(k)]
    direct = compute_metrics(task, y, scores.astype(np.float32), names)
    path = tmp_path / "cell.npz"
    write_predictions(path, scores, y, [f"id{i}" for i in range(30)], names, task)
    again = metrics_from_predictions(path)
    assert again.scalars.keys() == direct.scalars.keys()
    assert all(same(again.scalars[m], v) for m, v in direct.scalars.items())
    write_predictions(path, scores, y, [f"id{i}" for i in range(30)], names)  # an older file without the task
    assert metrics_from_predictions(path).scalars.keys() == direct.scalars.keys()
