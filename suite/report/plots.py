"""Plots: relative change vs the baseline per dataset with error bars (Davila's Figs 6-11) and ROC curves as the
mean over seeds with a band (Fang's Fig 5). The Pareto and learning-curve figures are in suite/report/curves.py.

Figures are drawn with matplotlib's object API on the Agg canvas (no pyplot global state, no display) and returned
as PNG and PDF bytes with fixed metadata (suite/figures.py), so the same results give the same bytes; the report
writes them once everything has rendered.
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from suite.errors import UserError
from suite.figures import figure_bytes
from suite.lazy import lazy_module
from suite.report.changes import Change
from suite.report.naming import metric_label, source_label, strategy_label
from suite.report.select import Row, ordered

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# loaded when a figure is drawn, so that reading the table registry (every `run --dry-run`) stays cheap
mpl_figure = lazy_module("matplotlib.figure")
mpl_patches = lazy_module("matplotlib.patches")
skm = lazy_module("sklearn.metrics")

DPI = 100
FPR_GRID = np.linspace(0.0, 1.0, 201)
"""The common false-positive-rate grid every seed's ROC curve is interpolated on before averaging."""


def render(fig: Figure) -> dict[str, bytes]:
    return figure_bytes(fig, dpi=DPI)


def new_figure(width: float, height: float) -> Figure:
    return mpl_figure.Figure(figsize=(width, height))


def relative_plot(changes: list[Change], dataset: str, baseline: str) -> dict[str, bytes] | None:
    """Grouped bars: one group per strategy, one bar per architecture (and source), ±1 SE error bars (the delta
    method, suite/report/changes.py); None if nothing to draw. Bars of rows with fewer finished seeds than asked
    (theirs or the baseline's) are hatched."""
    drawn = [c for c in changes if not math.isnan(c.percent)]
    if not drawn:
        return None
    multi_source = len({c.row.source for c in drawn}) > 1

    def series_of(row: Row) -> str:
        return f"{row.architecture} ({source_label(row.source)})" if multi_source else row.architecture

    labels = ordered([c.row for c in drawn], lambda r: r.label)
    series = ordered([c.row for c in drawn], series_of)
    value = {(c.row.label, series_of(c.row)): c for c in drawn}
    fig = new_figure(max(5.0, 1.1 * len(labels) * max(1, len(series)) ** 0.5 + 2), 3.8)
    ax = fig.add_subplot()
    width = min(0.8 / len(series), 0.4)
    x = np.arange(len(labels))
    handles = []
    for k, name in enumerate(series):
        found = [value.get((label, name)) for label in labels]
        heights = [c.percent if c else math.nan for c in found]
        errors = [c.se if c and not math.isnan(c.se) else 0.0 for c in found]
        bars = ax.bar(
            x + (k - (len(series) - 1) / 2) * width, heights, width, yerr=errors, capsize=3,
            error_kw={"elinewidth": 0.9, "ecolor": "0.2"},
        )  # fmt: skip
        handles.append(mpl_patches.Patch(facecolor=bars.patches[0].get_facecolor(), label=name))
        for patch, c in zip(bars.patches, found):
            if c and not (c.row.complete and c.baseline.complete):
                patch.set_hatch("///")
        ax.bar_label(bars, fmt="%+.1f", fontsize=7, padding=2)
    if any(not (c.row.complete and c.baseline.complete) for c in drawn):
        hatched = {"facecolor": "white", "edgecolor": "black", "hatch": "///"}
        handles.append(mpl_patches.Patch(**hatched, label="fewer seeds than asked"))
    ax.axhline(0.0, color="black", linewidth=0.8)
    tilt = len(labels) > 4
    ax.set_xticks(x, labels, rotation=30 if tilt else 0, ha="right" if tilt else "center")
    metric = metric_label(drawn[0].metric)
    ax.set_ylabel(f"Δ {metric} vs {strategy_label(baseline)} (%)")
    ax.set_title(
        f"{dataset}: relative {metric} vs {strategy_label(baseline)}\nerror bars: ±1 SE (delta method)",
        fontsize=10,
    )
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.margins(y=0.2)
    ax.legend(handles=handles, fontsize=8, frameon=False)
    fig.tight_layout()
    return render(fig)


@dataclass(frozen=True)
class MeanCurve:
    """One row's test ROC over its seeds: TPR on FPR_GRID per seed, and the AUC of each seed's own curve."""

    name: str
    tpr: np.ndarray  # seeds × len(FPR_GRID)
    areas: np.ndarray

    @property
    def label(self) -> str:
        seeds = len(self.areas)
        spread = f" ± {np.std(self.areas, ddof=1):.3f}" if seeds > 1 else ""
        return f"{self.name} (AUC {np.mean(self.areas):.3f}{spread}, {seeds} seed{'s' * (seeds > 1)})"


def read_scores(npz: Path) -> tuple[np.ndarray, np.ndarray]:
    """Scores and targets of a predictions file; a damaged or foreign file is a UserError naming it."""
    try:
        with np.load(npz) as data:
            scores, targets = np.asarray(data["scores"], dtype=float), np.asarray(data["targets"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        raise UserError(
            f"{npz}: not a readable predictions file ({type(exc).__name__}: {exc}); rerun its cell"
        ) from None
    if scores.ndim != 2 or len(scores) != len(targets) or not np.isfinite(scores).all():
        raise UserError(
            f"{npz}: predictions need finite scores of shape (samples, classes) and one target per sample; "
            f"found scores {scores.shape} and targets {targets.shape}"
        )
    return scores, targets


def seed_curve(npz: Path) -> tuple[np.ndarray, float] | None:
    """One seed's TPR on FPR_GRID and its AUC. Binary: the positive-class score. Multi-class and multilabel:
    micro-average over one-vs-rest columns. None when the split has a single class."""
    scores, targets = read_scores(npz)
    if targets.ndim == 1 and scores.shape[1] == 2:
        y, s = targets, scores[:, 1]
    elif targets.ndim == 1:
        if targets.min(initial=0) < 0 or targets.max(initial=0) >= scores.shape[1]:
            raise UserError(f"{npz}: targets outside 0..{scores.shape[1] - 1} (the score columns)")
        y, s = np.eye(scores.shape[1], dtype=int)[targets.astype(int)].ravel(), scores.ravel()
    else:
        y, s = targets.ravel(), scores.ravel()
    if len(np.unique(y)) < 2:
        return None
    fpr, tpr, _ = skm.roc_curve(y, s)
    grid = np.interp(FPR_GRID, fpr, tpr)
    grid[0] = 0.0
    return grid, float(skm.auc(fpr, tpr))


def mean_curve(row: Row, runs_dir: Path, name: str) -> MeanCurve | None:
    """The row's finished seeds with predictions on disk, as one mean curve; None when none has a curve."""
    ok = row.ok if row.chosen else row.ok.iloc[0:0]
    files = [runs_dir / p for p in ok.get("predictions", []) if p and (runs_dir / p).is_file()]
    curves = [c for c in map(seed_curve, files) if c is not None]
    if not curves:
        return None
    return MeanCurve(name, np.stack([t for t, _ in curves]), np.array([a for _, a in curves]))


def roc_plot(panels: list[tuple[str, list[MeanCurve]]], title: str) -> dict[str, bytes] | None:
    """One figure per dataset, a panel per experiment (Fang's Fig 5a-d), per architecture the mean curve over
    seeds and a band of ±1 SD (clipped to [0, 1]) where there are two or more seeds."""
    panels = [(name, curves) for name, curves in panels if curves]
    if not panels:
        return None
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig = new_figure(3.6 * cols, 3.5 * rows + 0.4)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, (name, curves) in zip(axes.flat, panels):
        for curve in curves:
            mean = curve.tpr.mean(axis=0)
            mean[-1] = 1.0
            (line,) = ax.plot(FPR_GRID, mean, linewidth=1.3, label=curve.label)
            if len(curve.tpr) > 1:
                sd = curve.tpr.std(axis=0, ddof=1)
                low, high = np.clip(mean - sd, 0, 1), np.clip(mean + sd, 0, 1)
                ax.fill_between(FPR_GRID, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
        ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="False positive rate", ylabel="True positive rate")
        ax.set_title(name, fontsize=9)
        ax.legend(fontsize=6.5, loc="lower right", frameon=False)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_axis_off()
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return render(fig)
