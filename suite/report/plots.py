"""PNG plots: relative change vs the baseline per dataset (Davila's Figs 6-11) and ROC curves (Fang's Fig 5).

Figures are drawn with matplotlib's object API on the Agg canvas (no pyplot global state, no display), saved with
fixed size, dpi and no "Software" metadata, so the same results give the same bytes.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from suite.lazy import lazy_module
from suite.report.changes import Change
from suite.report.naming import metric_label, source_label, strategy_label
from suite.report.select import Row, ordered
from suite.results import atomic_write_bytes

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# loaded when a figure is drawn, so that reading the table registry (every `run --dry-run`) stays cheap
mpl_agg = lazy_module("matplotlib.backends.backend_agg")
mpl_figure = lazy_module("matplotlib.figure")
mpl_patches = lazy_module("matplotlib.patches")
skm = lazy_module("sklearn.metrics")

DPI = 100


def _save(fig: Figure, path: Path) -> Path:
    mpl_agg.FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    atomic_write_bytes(path, buffer.getvalue())
    return path


def relative_plot(changes: list[Change], dataset: str, baseline: str, path: Path) -> Path | None:
    """Grouped bars: one group per strategy, one bar per architecture (and source); None if nothing to draw.
    Bars of rows with fewer finished seeds than asked (theirs or the baseline's) are hatched."""
    drawn = [c for c in changes if not math.isnan(c.percent)]
    if not drawn:
        return None
    multi_source = len({c.row.source for c in drawn}) > 1

    def series_of(row: Row) -> str:
        return f"{row.architecture} ({source_label(row.source)})" if multi_source else row.architecture

    labels = ordered([c.row for c in drawn], lambda r: r.label)
    series = ordered([c.row for c in drawn], series_of)
    value = {(c.row.label, series_of(c.row)): c for c in drawn}
    fig = mpl_figure.Figure(figsize=(max(5.0, 1.1 * len(labels) * max(1, len(series)) ** 0.5 + 2), 3.8))
    ax = fig.add_subplot()
    width = min(0.8 / len(series), 0.4)
    x = np.arange(len(labels))
    handles = []
    for k, name in enumerate(series):
        found = [value.get((label, name)) for label in labels]
        heights = [c.percent if c else math.nan for c in found]
        bars = ax.bar(x + (k - (len(series) - 1) / 2) * width, heights, width)
        handles.append(mpl_patches.Patch(facecolor=bars.patches[0].get_facecolor(), label=name))
        for patch, c in zip(bars.patches, found):
            if c and not (c.row.complete and c.baseline.complete):
                patch.set_hatch("///")
        ax.bar_label(bars, fmt="%+.1f", fontsize=7, padding=2)
    if any(not (c.row.complete and c.baseline.complete) for c in drawn):
        handles.append(
            mpl_patches.Patch(
                facecolor="white", edgecolor="black", hatch="///", label="fewer seeds than asked"
            )
        )
    ax.axhline(0.0, color="black", linewidth=0.8)
    tilt = len(labels) > 4
    ax.set_xticks(x, labels, rotation=30 if tilt else 0, ha="right" if tilt else "center")
    metric = metric_label(drawn[0].metric)
    ax.set_ylabel(f"Δ {metric} vs {strategy_label(baseline)} (%)")
    ax.set_title(f"{dataset}: relative {metric} vs {strategy_label(baseline)}")
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.margins(y=0.2)
    ax.legend(handles=handles, fontsize=8, frameon=False)
    fig.tight_layout()
    return _save(fig, path)


@dataclass(frozen=True)
class Curve:
    name: str
    fpr: np.ndarray
    tpr: np.ndarray
    area: float


def representative(row: Row, runs_dir: Path) -> str | None:
    """The finished run whose test accuracy is closest to the row's mean (Fang), with predictions on disk."""
    ok = row.ok
    if not row.chosen or "test_accuracy" not in ok or ok.empty:
        return None
    ok = ok[ok["predictions"].astype(bool) & ok["test_accuracy"].notna()]
    ok = ok[[(runs_dir / p).is_file() for p in ok["predictions"]]]
    if ok.empty:
        return None
    distance = (ok["test_accuracy"] - row.metric("accuracy", "test").mean).abs()
    return str(ok.loc[distance.idxmin(), "predictions"])  # idxmin: first of equals (lowest seed in order)


def roc_curve_of(npz: Path, name: str) -> Curve | None:
    """Binary: the positive-class score. Multi-class and multilabel: micro-average over one-vs-rest columns."""
    with np.load(npz) as data:
        scores, targets = data["scores"].astype(float), data["targets"]
    if targets.ndim == 1 and scores.shape[1] == 2:
        y, s = targets, scores[:, 1]
    elif targets.ndim == 1:
        y, s = np.eye(scores.shape[1], dtype=int)[targets].ravel(), scores.ravel()
    else:
        y, s = targets.ravel(), scores.ravel()
    if len(np.unique(y)) < 2:
        return None
    fpr, tpr, _ = skm.roc_curve(y, s)
    return Curve(name, fpr, tpr, float(skm.auc(fpr, tpr)))


def roc_plot(panels: list[tuple[str, list[Curve]]], title: str, path: Path) -> Path | None:
    """One figure per dataset, a panel per experiment (Fang's Fig 5a-d), a curve per architecture."""
    panels = [(name, curves) for name, curves in panels if curves]
    if not panels:
        return None
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig = mpl_figure.Figure(figsize=(3.6 * cols, 3.5 * rows + 0.4))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, (name, curves) in zip(axes.flat, panels):
        for curve in curves:
            ax.plot(curve.fpr, curve.tpr, linewidth=1.3, label=f"{curve.name} (AUC {curve.area:.3f})")
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
        ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="False positive rate", ylabel="True positive rate")
        ax.set_title(name, fontsize=9)
        ax.legend(fontsize=7, loc="lower right", frameon=False)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_axis_off()
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
