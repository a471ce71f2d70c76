"""Classification metrics for binary, multi-class and multilabel tasks, computed with scikit-learn.

Conventions (REFERENCE.md): binary AUROC uses the positive-class score; multi-class AUROC is the macro mean of
one-vs-rest AUROCs; multilabel AUROC and mAP are macro means over labels. Macro accuracy is Davila's mean over
classes of (TP + TN) / N. A metric that is undefined on a split (one class only, no predicted positives, a single
sample) is NaN and a warning says why; it is never 0 or 0.5, and it never raises. NaN scores do raise.
"""

from __future__ import annotations

import warnings as pywarnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from sklearn import metrics as skm

TaskType = Literal["binary", "multiclass", "multilabel"]


@dataclass(frozen=True)
class MetricInfo:
    label: str
    higher_is_better: bool = True
    tasks: tuple[str, ...] = ("binary", "multiclass", "multilabel")


METRICS: dict[str, MetricInfo] = {
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
}


@dataclass
class MetricReport:
    scalars: dict[str, float]
    per_class: dict[str, dict[str, float]]
    confusion: list
    warnings: list[str] = field(default_factory=list)


def _check(task: TaskType, y_true: np.ndarray, scores: np.ndarray, n_classes: int) -> None:
    if scores.ndim != 2 or scores.shape[0] != y_true.shape[0] or scores.shape[1] != n_classes:
        raise ValueError(f"scores must be N×{n_classes} for {len(y_true)} samples, got {scores.shape}")
    if not np.isfinite(scores).all():
        raise ValueError(
            f"scores contain {np.count_nonzero(~np.isfinite(scores))} NaN/inf values (diverged model?)"
        )
    if task == "multilabel" and y_true.shape != scores.shape:
        raise ValueError(f"multilabel targets must be N×{n_classes}, got {y_true.shape}")


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
    """AUROC and AP of one binary column; NaN when y holds a single class."""
    if y.min() == y.max():
        return float("nan"), float("nan")
    return _quiet(skm.roc_auc_score, y, s), _quiet(skm.average_precision_score, y, s)


def _one_vs_rest(
    y_onehot: np.ndarray, scores: np.ndarray, names: list[str], note: list[str]
) -> dict[str, list]:
    aurocs, aps = [], []
    for k, name in enumerate(names):
        auroc, ap = _binary_curves(y_onehot[:, k], scores[:, k])
        if np.isnan(auroc):
            note.append(
                f"AUROC/AP for {name!r} undefined: the split has {'no' if y_onehot[:, k].max() == 0 else 'only'}"
                " positive samples"
            )
        aurocs.append(auroc)
        aps.append(ap)
    return {"auroc": aurocs, "auprc": aps}


def _macro(values: list[float], metric: str, note: list[str]) -> float:
    if any(np.isnan(values)):
        note.append(f"macro {metric} is NaN because it is undefined for at least one class")
        return float("nan")
    return float(np.mean(values))


def _single_label(task: TaskType, y: np.ndarray, scores: np.ndarray, names: list[str]) -> MetricReport:
    note: list[str] = []
    k = len(names)
    pred = scores.argmax(axis=1)
    labels = np.arange(k)
    conf = skm.confusion_matrix(y, pred, labels=labels)
    n = len(y)
    tp = np.diag(conf)
    fp, fn = conf.sum(0) - tp, conf.sum(1) - tp
    tn = n - tp - fp - fn
    with pywarnings.catch_warnings():
        pywarnings.simplefilter("ignore")
        p, r, f1, support = skm.precision_recall_fscore_support(y, pred, labels=labels, zero_division=np.nan)
    for metric, values in (("precision", p), ("recall", r), ("F1", f1)):
        for name, v in zip(names, values):
            if np.isnan(v):
                note.append(
                    f"{metric} for {name!r} undefined (no {'predicted' if metric == 'precision' else 'true'}"
                    " samples)"
                )
    onehot = np.eye(k, dtype=int)[y]
    if task == "binary":
        auroc, auprc = _binary_curves(y, scores[:, 1])
        if np.isnan(auroc):
            note.append("AUROC/AUPRC undefined: the split holds a single class")
        curves = _one_vs_rest(onehot, scores, names, [])
    else:
        curves = _one_vs_rest(onehot, scores, names, note)
        auroc, auprc = _macro(curves["auroc"], "AUROC", note), _macro(curves["auprc"], "AUPRC", note)
    kappa = _quiet(skm.cohen_kappa_score, y, pred)
    kappa_q = _quiet(skm.cohen_kappa_score, y, pred, weights="quadratic")
    if np.isnan(kappa):
        note.append(
            "Cohen's kappa undefined (expected agreement is 1: a single class in truth and prediction)"
        )
    bacc = float(np.mean(r[support > 0])) if (support > 0).any() else float("nan")
    if (support == 0).any():
        note.append("balanced accuracy averages only the classes present in the split")
    scalars = {
        "accuracy": float((pred == y).mean()),
        "macro_accuracy": float(np.mean((tp + tn) / n)),
        "balanced_accuracy": bacc,
        "precision_macro": _macro(list(p), "precision", note),
        "recall_macro": _macro(list(r), "recall", note),
        "f1_macro": _macro(list(f1), "F1", note),
        "auroc": auroc,
        "auprc": auprc,
        "kappa": kappa,
        "kappa_quadratic": kappa_q,
    }
    per_class = {
        name: {
            "precision": float(p[i]),
            "recall": float(r[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
            "auroc": curves["auroc"][i],
            "auprc": curves["auprc"][i],
        }
        for i, name in enumerate(names)
    }
    return MetricReport(scalars, per_class, conf.tolist(), sorted(set(note)))


def _multilabel(y: np.ndarray, scores: np.ndarray, names: list[str], threshold: float) -> MetricReport:
    note: list[str] = []
    pred = (scores >= threshold).astype(int)
    y = y.astype(int)
    with pywarnings.catch_warnings():
        pywarnings.simplefilter("ignore")
        p, r, f1, support = skm.precision_recall_fscore_support(y, pred, zero_division=np.nan)
    curves = _one_vs_rest(y, scores, names, note)
    label_acc = (pred == y).mean(axis=0)
    bal = [
        _quiet(skm.balanced_accuracy_score, y[:, k], pred[:, k])
        if y[:, k].min() != y[:, k].max()
        else float("nan")
        for k in range(len(names))
    ]
    auprc = _macro(curves["auprc"], "AP", note)
    scalars = {
        "accuracy": float(label_acc.mean()),
        "macro_accuracy": float(label_acc.mean()),
        "subset_accuracy": float((pred == y).all(axis=1).mean()),
        "balanced_accuracy": _macro(bal, "balanced accuracy", note),
        "precision_macro": _macro(list(p), "precision", note),
        "recall_macro": _macro(list(r), "recall", note),
        "f1_macro": _macro(list(f1), "F1", note),
        "auroc": _macro(curves["auroc"], "AUROC", note),
        "auprc": auprc,
        "map": auprc,
    }
    per_class = {
        name: {
            "precision": float(p[i]),
            "recall": float(r[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
            "auroc": curves["auroc"][i],
            "auprc": curves["auprc"][i],
            "accuracy": float(label_acc[i]),
        }
        for i, name in enumerate(names)
    }
    conf = skm.multilabel_confusion_matrix(y, pred).tolist()
    return MetricReport(scalars, per_class, conf, sorted(set(note)))


def compute_metrics(
    task: TaskType, y_true: np.ndarray, scores: np.ndarray, class_names: list[str], threshold: float = 0.5
) -> MetricReport:
    """All metrics for one split. `scores` are probabilities: softmax for single-label, sigmoid for multilabel."""
    y_true = np.asarray(y_true)
    scores = np.asarray(scores, dtype=np.float64)
    _check(task, y_true, scores, len(class_names))
    if len(y_true) == 0:
        raise ValueError("cannot compute metrics on an empty split")
    if task == "multilabel":
        return _multilabel(y_true, scores, class_names, threshold)
    return _single_label(task, y_true.astype(int), scores, class_names)
