"""Figures of the two analyses (matplotlib, Agg): the CAM grid, and the SVCCA curves per cut point (Peng Fig 4/7).

Each figure is written as PNG (linked from the leaderboard, inlined in its HTML page) and as PDF beside it, with
fixed metadata (suite/figures.py), each file atomically.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib import cm, colors
from matplotlib.figure import Figure  # the object API: no pyplot state, no GUI backend needed

from suite.figures import figure_bytes, figure_files
from suite.results import atomic_write_bytes

CMAP = "inferno"
"""Perceptually uniform (bright yellow = most attention, black = least): equal steps in activation look like equal
steps in colour and survive greyscale printing, where Fang's jet invents bands and hides its middle range."""


@dataclass
class CamRow:
    """One cell on one image: the image, its maps per place, and the words around them."""

    image: np.ndarray  # H × W × 3 floats in [0, 1]
    maps: np.ndarray  # P × H × W in [0, 1]
    places: list[str]
    title: str  # left of the row: image id and true class
    caption: str  # the cell, its prediction and the explained class


def cam_figure(rows: list[CamRow], path: Path, heading: str) -> Path:
    """Rows of [input | map per place]; one 0–1 colour bar for the whole figure."""
    cols = 1 + max(len(r.places) for r in rows)
    fig = Figure(figsize=(1.7 * cols + 2.4, 2.0 * len(rows) + 0.5), layout="constrained")
    axes = fig.subplots(len(rows), cols, squeeze=False)
    for ax_row, row in zip(axes, rows):
        for ax in ax_row:
            ax.set_axis_off()  # no ticks to lay out: they cost more than the images
        ax_row[0].imshow(row.image)
        ax_row[0].set_title(row.title, fontsize=7)
        ax_row[0].text(
            -0.06, 0.5, row.caption, transform=ax_row[0].transAxes, ha="right", va="center", fontsize=6.5
        )
        for j, ax in enumerate(ax_row[1 : len(row.places) + 1]):
            ax.imshow(row.image)
            ax.imshow(row.maps[j], cmap=CMAP, vmin=0.0, vmax=1.0, alpha=0.5)
            ax.set_title(row.places[j], fontsize=7)
    bar = fig.colorbar(cm.ScalarMappable(colors.Normalize(0.0, 1.0), CMAP), ax=axes, shrink=0.6, aspect=40)
    bar.set_label("class activation (0–1, scaled per map)", fontsize=8)
    fig.suptitle(textwrap.fill(heading, width=int(22 * cols)), fontsize=9)
    return _save(fig, path)


@dataclass
class SvccaCurve:
    """One cut point: the real coefficients (descending) and the random ones (draws × k, each descending)."""

    label: str
    real: np.ndarray
    random: np.ndarray
    overlaps: bool
    effect: float


def svcca_figure(
    curves: list[SvccaCurve], cutoff: int | None, path: Path, heading: str, decision: str, max_effect: float
) -> Path:
    """Left, as Peng's Fig 4: coefficient curves on a 0–1 index, bold = before vs after FT, light = random.
    Right, as Peng's Fig 7: the distributions per cut point, random in grey; the chosen truncation point in green."""
    fig = Figure(figsize=(13, 5.2), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.4])
    palette = matplotlib.colormaps["viridis"](np.linspace(0, 0.9, len(curves)))
    for colour, c in zip(palette, curves):
        if c.real.size == 0:
            continue
        index = np.linspace(0, 1, c.real.size)
        left.plot(index, c.real, color=colour, lw=2, label=c.label)
        left.plot(index, c.random.mean(axis=0), color=colour, lw=1, alpha=0.45, ls="--")
    left.set(xlabel="coefficient index (normalised)", ylabel="SVCCA coefficient", ylim=(0, 1.02))
    left.set_title("bold: before vs after fine-tuning · dashed: random features", fontsize=9)
    left.legend(fontsize=6, ncol=2, loc="upper right")
    _distribution_panel(right, curves, cutoff, max_effect)
    fig.suptitle(f"{heading}\n{decision}", fontsize=10)
    return _save(fig, path)


def _distribution_panel(ax, curves: list[SvccaCurve], cutoff: int | None, max_effect: float) -> None:
    x = np.arange(len(curves))
    shown = [i for i, c in enumerate(curves) if c.real.size]
    box = {"widths": 0.32, "showfliers": False, "patch_artist": True, "medianprops": {"color": "black"}}
    grey = ax.boxplot([curves[i].random.ravel() for i in shown], positions=x[shown] + 0.18, **box)
    real = ax.boxplot([curves[i].real for i in shown], positions=x[shown] - 0.18, **box)
    for patch in grey["boxes"]:
        patch.set(facecolor="0.8", edgecolor="0.5")
    for i, patch in zip(shown, real["boxes"]):
        patch.set(facecolor="tab:orange" if curves[i].overlaps else "tab:blue", alpha=0.8)
    if cutoff is not None:  # the cut is the transition after the chosen cut point (Peng: "TTLx")
        ax.axvline(
            cutoff + 0.5, color="tab:green", lw=2, alpha=0.7, label=f"truncate after {curves[cutoff].label}"
        )
        ax.legend(fontsize=7, loc="lower left")
    for i in shown:
        ax.annotate(f"A={curves[i].effect:.2f}", (x[i], 1.04), ha="center", fontsize=6)
    ax.set_xticks(x, [c.label for c in curves], rotation=60, ha="right", fontsize=7)
    ax.set(ylabel="SVCCA coefficient", ylim=(0, 1.1))
    ax.set_title(
        f"A = P(ρ before/after > ρ random) · blue: above random · orange: overlap (A ≤ {max_effect:g}) · grey: random",
        fontsize=8,
    )


def _save(fig: Figure, path: Path) -> Path:
    """`path` (PNG) and the same figure as PDF beside it; returns `path`."""
    for file, data in figure_files(path, figure_bytes(fig, dpi=110, bbox_inches="tight")).items():
        atomic_write_bytes(file, data)
    return path
