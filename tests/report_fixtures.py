"""A small factory of result files with known values, for the report tests and their golden files.

A test states, per cell, the validation and test accuracy (and optionally status, NaN AUROC, profiling); the factory
writes complete `CellResult` JSON files (and test predictions) exactly where the runner would, with fixed dates
and environment, so the leaderboard built from them is fully determined by the test.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from suite.errors import UserError
from suite.matrix import Cell, LoadedMatrix, load_matrix
from suite.matrix.cell import StrategyRef
from suite.matrix.expand import ResolvedArchitecture
from suite.metrics import METRICS
from suite.results import CellResult, RunPaths, SplitMetrics, sanitise, write_predictions, write_result

CLASSES = {"synthetic-vessels": ["benign", "malignant"], "synthetic-fundus": ["grade0", "grade1", "grade2"]}
TTL_VARIANTS = ["block1", "block2", "block3", "layer2.1", "layer3.1", "layer3.2", "layer4.1"]
ENV = {
    "git_sha": "0123456789abcdef0123456789abcdef01234567",
    "git_dirty": False,
    "torch": "2.15.0",
    "timm": "1.0.31",
    "cuda": None,
    "gpu": None,
    "cpu": "x86_64",
    "threads": 2,
    "datasets_lock": "f00dfeed" * 8,
}


class FakeCatalog:
    """Any strategy name resolves (the report must not depend on which strategies are registered)."""

    metrics: ClassVar = {
        "synthetic-vessels": ["accuracy", "auroc"],
        "synthetic-fundus": ["accuracy", "kappa"],
    }

    def dataset_metrics(self, name: str) -> list[str]:
        if name not in self.metrics:
            raise UserError(f"unknown dataset {name!r}")
        return self.metrics[name]

    def check_metric(self, name: str) -> None:
        METRICS.get(name)  # metric names are real even in a fake catalog

    def check_table(self, name: str) -> None:
        return None

    def architecture(self, entry) -> ResolvedArchitecture:
        return ResolvedArchitecture(entry.name, entry.name, "tv_in1k", 1e-3, 224)

    def strategy(self, name: str, params: dict[str, Any], architecture: ResolvedArchitecture) -> StrategyRef:
        base, _, variant = name.partition("@")
        return StrategyRef(name=base, variant=variant or None, params=dict(params))

    def strategy_variants(self, name: str, architecture: ResolvedArchitecture) -> list[str]:
        return TTL_VARIANTS if name == "ttl" else ["1", "2", "3"]


def load(path: Path, catalog=None) -> LoadedMatrix:
    return load_matrix(str(path), catalog or FakeCatalog())


def _metrics(acc: float, auroc: float | None, classes: list[str], shift: float) -> SplitMetrics:
    """Scalars from the accuracy; per class, precision/recall/F1 spread around it by a fixed pattern."""
    per_class = {
        c: {"precision": acc + shift * (i - 0.5), "recall": acc - shift * (i - 0.5), "f1": acc, "support": 50}
        for i, c in enumerate(classes)
    }
    macro = {k: float(np.mean([v[k] for v in per_class.values()])) for k in ("precision", "recall", "f1")}
    scalars = {
        "accuracy": acc,
        "auroc": math.nan if auroc is None else auroc,
        "kappa": 2 * acc - 1,
        "precision_macro": macro["precision"],
        "recall_macro": macro["recall"],
        "f1_macro": macro["f1"],
        "loss": 1 - acc,
    }
    return SplitMetrics(scalars=scalars, per_class=per_class)


def _predictions(path: Path, seed: int, acc: float, n_classes: int) -> None:
    """Scores whose argmax is right for about `acc` of 60 samples, deterministic in the seed."""
    rng = np.random.default_rng(1000 + seed)
    targets = np.arange(60) % n_classes
    logits = rng.normal(0.0, 1.0, (60, n_classes))
    logits[np.arange(60), targets] += 4.0 * acc - 1.5
    scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    write_predictions(
        path, scores, targets, [f"img{i}" for i in range(60)], [f"c{k}" for k in range(n_classes)]
    )


def _history(epochs: int, val: float, seed: int) -> list[dict[str, Any]]:
    """Per epoch as the training loop records it: training loss falling, validation loss and accuracy levelling
    off towards the cell's validation accuracy, a little different per seed."""
    out = []
    for e in range(1, epochs + 1):
        level = 1.0 - 0.5**e
        out.append(
            {
                "epoch": e,
                "train_loss": round(0.7 * 0.8**e + 0.01 * seed, 6),
                "val_loss": round(0.7 - 0.3 * level + 0.005 * seed, 6),
                "val_accuracy": round(0.5 + (val - 0.5) * level, 6),
                "lr": 1e-3,
            }
        )
    return out


def write_cell(paths: RunPaths, matrix: str, cell: Cell, spec: dict[str, Any]) -> None:
    """One result file from a spec: {val, test, status, error, auroc_nan, params, macs, latency_ms, epochs, phases,
    best_phase, best_epoch, diverged, data, history}."""
    seed, dataset = cell.config.seed, cell.config.dataset.name
    classes = CLASSES[dataset]
    status = spec.get("status", "ok")
    common = {
        "cell_id": cell.id,
        "matrix": matrix,
        "slug": cell.slug,
        "config": cell.config,
        "parents": list(cell.parents),
        "seed": seed,
        "environment": ENV,
        "started_at": f"2026-01-0{1 + seed}T10:00:00+00:00",
        "finished_at": f"2026-01-0{1 + seed}T10:05:00+00:00",
    }
    if status == "failed":
        write_result(
            CellResult(status="failed", error=spec.get("error", "CUDA out of memory"), **common),
            paths.result(cell),
        )
        return
    val, test = spec["val"], spec.get("test")
    metrics = {"val": _metrics(val, val / 2 + 0.5, classes, 0.04)}
    if test is not None:
        metrics["test"] = _metrics(test, None if spec.get("auroc_nan") else test / 2 + 0.5, classes, 0.06)
        _predictions(paths.predictions(cell), seed, test, len(classes))
    lat = spec.get("latency_ms")
    epochs = spec.get("epochs", 10 + seed)
    history = spec.get("history", _history(epochs, val, seed) if not math.isnan(val) else [])
    result = CellResult(
        status="ok",
        metrics=metrics,
        history=history,
        epochs_run=epochs,
        best_epoch=spec.get("best_epoch", spec.get("epochs", 10 + seed) - 2),
        phases=spec.get("phases", 1),
        best_phase=spec.get("best_phase", spec.get("phases", 1)),
        diverged=spec.get("diverged", False),
        timings={"total_s": 60.0},
        params={"total": spec.get("params", 1_000_000), "trainable": spec.get("trainable", 1_000_000)},
        macs={"image_size": 224, "fvcore": spec["macs"], "thop": spec["macs"] * 1.01}
        if "macs" in spec
        else {},
        latency={
            "device": "cpu",
            "dtype": "float32",
            "threads": 2,
            "channels_last": False,
            "batch_1": {"median_ms": lat, "iqr_ms": 0.1, "n": 30},
        }
        if lat is not None
        else {},
        data={"lock_digest": ENV["datasets_lock"], **spec.get("data", {})},
        predictions=paths.predictions(cell).name if test is not None else None,
        **common,
    )
    write_result(sanitise(result), paths.result(cell))


def write_results(matrix: LoadedMatrix, root: Path, spec_of: Callable[[Cell], dict | None]) -> RunPaths:
    """Results for every cell whose spec is not None (None = the cell never ran: missing)."""
    paths = RunPaths(root / matrix.name)
    for cell in matrix.cells:
        spec = spec_of(cell)
        if spec is not None:
            write_cell(paths, matrix.name, cell, spec)
    return paths
