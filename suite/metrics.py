"""Classification metrics for binary, multi-class and multilabel tasks, computed with scikit-learn.

Conventions (REFERENCE.md):
- binary AUROC and AUPRC use the positive-class score (`scores[:, 1]`); multi-class AUROC and AUPRC are macro means
  of one-vs-rest curves (= `roc_auc_score(multi_class="ovr", average="macro")`); multilabel AUROC and mAP are macro
  means over labels (= `average_precision_score(average="macro")`), as `medmnist.Evaluator` does;
- macro accuracy is Davila's mean over classes of (TP + TN) / N; plain accuracy is reported too (multilabel: the
  mean of the per-label accuracies at the threshold; `subset_accuracy` is the exact-match rate);
- balanced accuracy is sklearn's: the mean recall over the classes present in y_true (per label for multilabel);
- Cohen's kappa is unweighted and quadratic-weighted (for graded tasks such as DR), both over the full label set
  0..K-1, so quadratic weights measure the real distance between grades even when a grade is missing.

Undefined is NaN, never 0 or 0.5, and never an exception: a per-class value that divides by zero (precision of a
class never predicted, recall or AUROC of a class absent from y_true, anything about a label column with one class)
is NaN and a warning says why. A macro mean over K classes is NaN when any class is NaN; this differs on purpose
from sklearn's `zero_division=np.nan`, which silently averages the defined classes only. NaN or inf scores are a
diverged model and raise `ValueError`.
"""

from __future__ import annotations

import warnings as pywarnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from suite.errors import UserError
from suite.lazy import lazy_module
from suite.registry import Registry

skm = lazy_module("sklearn.metrics")  # imported on first computation: the report only reads names and labels

TaskType = Literal["binary", "multiclass", "multilabel"]
TASKS: tuple[TaskType, ...] = ("binary", "multiclass", "multilabel")


@dataclass(frozen=True)
class MetricInfo:
    label: str
    higher_is_better: bool = True
    tasks: tuple[str, ...] = TASKS


METRICS: Registry[MetricInfo] = Registry("metric")
for _name, _info in {
    "accuracy": MetricInfo("Acc"),
    "macro_accuracy": MetricInfo("mAcc"),
    "balanced_accuracy": MetricInfo("BAcc"),
    "subset_accuracy": MetricInfo("SubsetAcc", tasks=("multilabel",)),
    "precision_macro": MetricInfo("P"),
    "recall_macro": MetricInfo("R"),
    "f1_macro": MetricInfo("F1"),
    "auroc": MetricInfo("AUROC"),
    "auprc": MetricInfo("AUPRC"),
    "map": MetricInfo("mAP", tasks=("multilabel",)),
    "kappa": MetricInfo("κ", tasks=("binary", "multiclass")),
    "kappa_quadratic": MetricInfo("κ_quad", tasks=("binary", "multiclass")),
    "loss": MetricInfo("Loss", higher_is_better=False),
}.items():
    METRICS.add(_name, _info)


class NonFiniteScores(ValueError):
    """The model's scores hold NaN or inf: a diverged model, whose metrics would mean nothing."""


@dataclass
class MetricReport:
    scalars: dict[str, float]
    per_class: dict[str, dict[str, float]]
    confusion: list
    warnings: list[str] = field(default_factory=list)


def metrics_for_task(task: str) -> list[str]:
    """The metric names `compute_metrics` reports for `task` (plus `loss`, which the loop adds)."""
    return [name for name, info in METRICS.items() if task in info.tasks]


def check_task_metrics(task: str, names: list[str], dataset: str) -> None:
    """A dataset's primary metrics must exist for its task type (e.g. no `map` on a binary task)."""
    for name in names:
        try:
            info = METRICS.get(name)
        except UserError as exc:
            raise UserError(f"dataset {dataset!r}: {exc}") from None
        if task not in info.tasks:
            raise UserError(
                f"dataset {dataset!r} is {task}: metric {name!r} applies to {'/'.join(info.tasks)}"
                f" tasks only; valid for {task}: {', '.join(metrics_for_task(task))}"
            )


def _check(task: str, y_true: np.ndarray, scores: np.ndarray, n_classes: int) -> None:
    if task not in TASKS:
        raise ValueError(f"unknown task type {task!r}; valid: {', '.join(TASKS)}")
    if scores.ndim != 2 or scores.shape[0] != y_true.shape[0] or scores.shape[1] != n_classes:
        raise ValueError(f"scores must be N×{n_classes} for {len(y_true)} samples, got {scores.shape}")
    if len(y_true) == 0:
        raise ValueError("cannot compute metrics on an empty split")
    if not np.isfinite(scores).all():
        raise NonFiniteScores(
            f"scores contain {np.count_nonzero(~np.isfinite(scores))} NaN/inf values (diverged model?);"
            " metrics are not computed on them"
        )
    if task == "multilabel":
        if y_true.shape != scores.shape or not np.isin(y_true, (0, 1)).all():
            raise ValueError(f"multilabel targets must be an N×{n_classes} array of 0/1, got {y_true.shape}")
    elif y_true.ndim != 1 or not np.isin(y_true, np.arange(n_classes)).all():
        raise ValueError(f"{task} targets must be N class indices in 0..{n_classes - 1}")


def _quiet(fn, *args, **kwargs) -> float:
    """Run a sklearn metric; an undefined result (warning, ValueError, 0/0) comes back as NaN."""
    with pywarnings.catch_warnings():
        pywarnings.simplefilter("ignore")
        try:
            value = float(fn(*args, **kwargs))
        except ValueError:
            return float("nan")
    return value if np.isfinite(value) else float("nan")


def _binary_curves(y: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """AUROC and AP of one binary column; NaN when y holds a single class (no ranking to measure)."""
    if y.min() == y.max():
        return float("nan"), float("nan")
    return _quiet(skm.roc_auc_score, y, s), _quiet(skm.average_precision_score, y, s)


def _one_vs_rest(
    y_onehot: np.ndarray, scores: np.ndarray, names: list[str], note: list[str]
) -> dict[str, list[float]]:
    aurocs, aps = [], []
    for k, name in enumerate(names):
        auroc, ap = _binary_curves(y_onehot[:, k], scores[:, k])
        if np.isnan(auroc):
            kind = "no" if y_onehot[:, k].max() == 0 else "only"
            note.append(f"AUROC/AP for {name!r} undefined: the split has {kind} positive samples")
        aurocs.append(auroc)
        aps.append(ap)
    return {"auroc": aurocs, "auprc": aps}


def _macro(values, metric: str, note: list[str]) -> float:
    """Mean over classes; NaN (with a warning) when any class is undefined."""
    values = np.asarray(values, dtype=float)
    if np.isnan(values).any():
        note.append(f"macro {metric} is NaN because it is undefined for at least one class")
        return float("nan")
    return float(values.mean())


def _prf(y: np.ndarray, pred: np.ndarray, names: list[str], note: list[str], labels=None) -> tuple:
    """Per-class precision, recall, F1 and support; NaN where sklearn would divide by zero."""
    with pywarnings.catch_warnings():
        pywarnings.simplefilter("ignore")
        p, r, f1, support = skm.precision_recall_fscore_support(y, pred, labels=labels, zero_division=np.nan)
    for metric, values in (("precision", p), ("recall", r), ("F1", f1)):
        for name, v in zip(names, values):
            if np.isnan(v):
                missing = {"precision": "predicted", "recall": "true", "F1": "true or predicted"}[metric]
                note.append(f"{metric} for {name!r} undefined (no {missing} samples)")
    return p, r, f1, support


def _kappas(y: np.ndarray, pred: np.ndarray, k: int, note: list[str]) -> tuple[float, float]:
    labels = np.arange(k)
    kappa = _quiet(skm.cohen_kappa_score, y, pred, labels=labels)
    kappa_q = _quiet(skm.cohen_kappa_score, y, pred, labels=labels, weights="quadratic")
    if np.isnan(kappa):
        note.append(
            "Cohen's kappa undefined (expected agreement is 1: a single class in truth and prediction)"
        )
    return kappa, kappa_q


def _single_label(task: str, y: np.ndarray, scores: np.ndarray, names: list[str]) -> MetricReport:
    note: list[str] = []
    k, n = len(names), len(y)
    pred = scores.argmax(axis=1)
    conf = skm.confusion_matrix(y, pred, labels=np.arange(k))
    tp = np.diag(conf)
    tn = n - conf.sum(0) - conf.sum(1) + tp
    p, r, f1, support = _prf(y, pred, names, note, labels=np.arange(k))
    curves = _one_vs_rest(np.eye(k, dtype=int)[y], scores, names, note if task == "multiclass" else [])
    if task == "binary":
        auroc, auprc = _binary_curves(y, scores[:, 1])
        if np.isnan(auroc):
            note.append("AUROC/AUPRC undefined: the split holds a single class")
    else:
        auroc, auprc = _macro(curves["auroc"], "AUROC", note), _macro(curves["auprc"], "AUPRC", note)
    if (support == 0).any():
        note.append("balanced accuracy averages only the classes present in the split")
    kappa, kappa_q = _kappas(y, pred, k, note)
    scalars = {
        "accuracy": float((pred == y).mean()),
        "macro_accuracy": float(np.mean((tp + tn) / n)),
        "balanced_accuracy": float(np.mean(r[support > 0])),
        "precision_macro": _macro(p, "precision", note),
        "recall_macro": _macro(r, "recall", note),
        "f1_macro": _macro(f1, "F1", note),
        "auroc": auroc,
        "auprc": auprc,
        "kappa": kappa,
        "kappa_quadratic": kappa_q,
    }
    per_class = _per_class(names, p, r, f1, support, curves)
    return MetricReport(scalars, per_class, conf.tolist(), sorted(set(note)))


def _multilabel(y: np.ndarray, scores: np.ndarray, names: list[str], threshold: float) -> MetricReport:
    note: list[str] = []
    y = y.astype(int)
    pred = (scores >= threshold).astype(int)
    p, r, f1, support = _prf(y, pred, names, note)
    curves = _one_vs_rest(y, scores, names, note)
    label_acc = (pred == y).mean(axis=0)
    balanced = [_quiet(skm.balanced_accuracy_score, y[:, i], pred[:, i]) for i in range(len(names))]
    if (y.min(axis=0) == y.max(axis=0)).any():
        note.append("balanced accuracy of a label with one class in the split averages that class only")
    auprc = _macro(curves["auprc"], "AP", note)
    scalars = {
        "accuracy": float(label_acc.mean()),
        "macro_accuracy": float(label_acc.mean()),
        "subset_accuracy": float((pred == y).all(axis=1).mean()),
        "balanced_accuracy": float(np.mean(balanced)),
        "precision_macro": _macro(p, "precision", note),
        "recall_macro": _macro(r, "recall", note),
        "f1_macro": _macro(f1, "F1", note),
        "auroc": _macro(curves["auroc"], "AUROC", note),
        "auprc": auprc,
        "map": auprc,
    }
    per_class = _per_class(
        names, p, r, f1, support, curves, accuracy=[float(a) for a in label_acc], balanced_accuracy=balanced
    )
    conf = skm.multilabel_confusion_matrix(y, pred).tolist()
    return MetricReport(scalars, per_class, conf, sorted(set(note)))


def _per_class(names, p, r, f1, support, curves, **extra: list[float]) -> dict[str, dict[str, float]]:
    """One dict per class: precision, recall, F1, support, AUROC, AUPRC, and any `extra` per-class lists."""
    return {
        name: {
            "precision": float(p[i]),
            "recall": float(r[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
            "auroc": curves["auroc"][i],
            "auprc": curves["auprc"][i],
            **{key: values[i] for key, values in extra.items()},
        }
        for i, name in enumerate(names)
    }


def compute_metrics(
    task: TaskType, y_true: np.ndarray, scores: np.ndarray, class_names: list[str], threshold: float = 0.5
) -> MetricReport:
    """All metrics for one split. `scores` are probabilities: softmax for single-label, sigmoid for multilabel.

    Single-label predictions are the argmax; multilabel predictions are `scores >= threshold` per label.
    """
    y_true = np.asarray(y_true)
    scores = np.asarray(scores, dtype=np.float64)
    _check(task, y_true, scores, len(class_names))
    if task == "multilabel":
        return _multilabel(y_true, scores, class_names, threshold)
    return _single_label(task, y_true.astype(int), scores, class_names)


def metrics_from_predictions(path: Path, task: TaskType | None = None) -> MetricReport:
    """Recompute a cell's test metrics from its `<slug>.npz` (scores, targets, classes and task), no retraining.

    Files that do not store the task infer it: 2-D targets are multilabel, two classes binary, else multi-class.
    """
    with np.load(path, allow_pickle=False) as saved:
        scores, targets, classes = saved["scores"], saved["targets"], [str(c) for c in saved["classes"]]
        stored = str(saved["task"]) if "task" in saved.files else None
    inferred = "multilabel" if targets.ndim == 2 else "binary" if len(classes) == 2 else "multiclass"
    task = task or stored or inferred
    return compute_metrics(task, targets, scores, classes)
