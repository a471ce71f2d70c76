"""Metrics against scikit-learn, and the undefined cases (NaN with a warning, never 0 or 0.5)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from suite.metrics import compute_metrics


def test_binary_matches_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p1 = np.clip(y * 0.3 + rng.random(200) * 0.7, 0, 1)
    scores = np.stack([1 - p1, p1], axis=1)
    r = compute_metrics("binary", y, scores, ["neg", "pos"])
    pred = scores.argmax(1)
    assert r.scalars["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert r.scalars["auroc"] == pytest.approx(skm.roc_auc_score(y, p1))
    assert r.scalars["auprc"] == pytest.approx(skm.average_precision_score(y, p1))
    assert r.scalars["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert r.scalars["kappa"] == pytest.approx(skm.cohen_kappa_score(y, pred))
    assert r.scalars["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert r.warnings == []


def test_single_class_split_gives_nan_auroc_with_warning():
    y = np.zeros(10, dtype=int)
    scores = np.tile([0.8, 0.2], (10, 1))
    r = compute_metrics("binary", y, scores, ["neg", "pos"])
    assert math.isnan(r.scalars["auroc"]) and r.scalars["accuracy"] == 1.0
    assert any("AUROC" in w for w in r.warnings)


def test_nan_scores_are_rejected():
    with pytest.raises(ValueError, match="NaN"):
        compute_metrics("binary", np.array([0, 1]), np.array([[np.nan, 1.0], [0.5, 0.5]]), ["a", "b"])
