"""Two more figures per dataset: the main metric against cost with its Pareto front (Peng's question: what does a
strategy cost for what it gains?), and learning curves per strategy from each result's `history`.

Pareto: one point per table row, the mean of the main metric over seeds with ±1 SE bars, against MACs (G, log
scale) and against batch-1 latency (ms); colour = strategy, marker = architecture. A point is on the front when no
other row is at most as costly and strictly better (or cheaper and as good); the front is drawn as a step line.
Learning curves: a column per strategy row label, training loss on top and the validation metric below, one line
per architecture (and source): the mean over seeds at each epoch among the seeds that reached it, and a band from
their minimum to their maximum (early stopping ends seeds at different epochs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from suite.errors import UserError
from suite.report.naming import higher_is_better, metric_label, source_label
from suite.report.plots import new_figure, render
from suite.report.select import Row, ordered
from suite.results import CellResult

MARKERS = "osD^vP*Xhp<>"


@dataclass(frozen=True)
class Point:
    row: Row
    value: float
    se: float
    cost: float


def front(points: list[Point], higher: bool) -> list[Point]:
    """The non-dominated points, cheapest first: each is strictly better than every cheaper-or-equal one."""
    sign = 1.0 if higher else -1.0
    best, out = -math.inf, []
    for p in sorted(points, key=lambda p: (p.cost, -sign * p.value)):
        if sign * p.value > best:
            out.append(p)
            best = sign * p.value
    return out


def cost_points(rows: list[Row], metric: str, cost: str, factor: float) -> list[Point]:
    """Rows with a defined metric mean and a defined cost column (`macs_fvcore`, `latency_ms`)."""
    out = []
    for row in rows:
        stat, spend = row.metric(metric), row.stat(cost)
        if stat.defined and spend.defined and spend.mean > 0:
            se = stat.se * factor if not math.isnan(stat.se) else 0.0
            out.append(Point(row, stat.mean * factor, se, spend.mean))
    return out


def pareto_plot(
    rows: list[Row], metric: str, costs: list[tuple[str, str]], factor: float, title: str
) -> tuple[dict[str, bytes] | None, dict[str, list[Point]]]:
    """The figure (None when no panel has two points) and each panel's front, by its cost column."""
    panels = [(col, label, cost_points(rows, metric, col, factor)) for col, label in costs]
    panels = [p for p in panels if len(p[2]) >= 2]
    if not panels:
        return None, {}
    higher = higher_is_better(metric)
    name_of = series_name(rows)
    labels, names = ordered(rows, lambda r: r.label), ordered(rows, name_of)
    style = {lab: f"C{i % 10}" for i, lab in enumerate(labels)}
    legend_width = 0.07 * max(len(text) for text in [*labels, *names]) + 0.8
    width = 5.2 * len(panels) + legend_width
    fig = new_figure(width, 4.2)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    fronts = {}
    for ax, (col, label, points) in zip(axes, panels):
        best = front(points, higher)
        fronts[col] = best
        for p in points:
            ax.errorbar(
                p.cost, p.value, yerr=p.se, fmt=MARKERS[names.index(name_of(p.row)) % len(MARKERS)],
                color=style[p.row.label], markersize=6, capsize=2, elinewidth=0.8,
                markeredgecolor="black" if p in best else style[p.row.label],
            )  # fmt: skip
        ax.step([p.cost for p in best], [p.value for p in best], where="post", color="0.3", ls="--", lw=1)
        costs_seen = [p.cost for p in points]
        log = max(costs_seen) > 10 * min(costs_seen)  # a log axis only where the costs span a decade
        ax.set_xscale("log" if log else "linear")
        ax.set(xlabel=label + (", log scale" if log else ""))
        ax.set_ylabel(f"{metric_label(metric)}{' (%)' if factor == 100 else ''}")
        ax.grid(True, which="major", alpha=0.3)
    handles = [_proxy(ax, style[lab], "s", lab) for lab in labels]
    if len(names) > 1:
        handles += [
            _proxy(ax, "black", MARKERS[i % len(MARKERS)], n, hollow=True) for i, n in enumerate(names)
        ]
    handles.append(ax.plot([], [], color="0.3", ls="--", lw=1, label="Pareto front (black edge)")[0])
    fig.legend(handles=handles, loc="center right", fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1 - legend_width / width, 1))
    return render(fig), fronts


def _proxy(ax, colour: str, marker: str, label: str, hollow: bool = False):
    face = "none" if hollow else colour
    return ax.plot([], [], color=colour, marker=marker, ls="", markerfacecolor=face, label=label)[0]


def _number(value: object, where: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserError(f"{where} is {value!r}, not a number; the result file is damaged (rerun the cell)")
    return float(value)


def series(result: CellResult, key: str) -> np.ndarray:
    """`key` (train_loss, val_loss, val_<metric>) per epoch of one result's history; NaN where absent."""
    values = []
    for i, entry in enumerate(result.history):
        if not isinstance(entry, dict):
            raise UserError(
                f"runs/{result.slug}.json: history entry {i + 1} is not a mapping; rerun the cell"
            )
        values.append(_number(entry.get(key), f"runs/{result.slug}.json: history entry {i + 1} {key}"))
    return np.asarray(values, dtype=float)


def validation_key(results: list[CellResult], metric: str) -> str:
    """`val_<main metric>` when every epoch of every history has it (training monitored it), else `val_loss`."""
    key = f"val_{metric}"
    entries = [e for r in results for e in r.history]
    return key if entries and all(isinstance(e, dict) and key in e for e in entries) else "val_loss"


def band(runs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, minimum and maximum per epoch over the runs that reached it (shorter runs padded with NaN)."""
    length = max(len(r) for r in runs)
    stack = np.full((len(runs), length), np.nan)
    for i, r in enumerate(runs):
        stack[i, : len(r)] = r
    with np.errstate(all="ignore"):
        counts = np.sum(~np.isnan(stack), axis=0)
        safe = np.where(np.isnan(stack), 0.0, stack)
        mean = np.where(counts > 0, safe.sum(axis=0) / np.maximum(counts, 1), np.nan)
        low = np.where(counts > 0, np.where(np.isnan(stack), np.inf, stack).min(axis=0), np.nan)
        high = np.where(counts > 0, np.where(np.isnan(stack), -np.inf, stack).max(axis=0), np.nan)
    return mean, low, high


def learning_plot(
    rows: list[Row], results: dict[str, CellResult], val_key: str, factor: float, title: str
) -> dict[str, bytes] | None:
    """Columns per strategy row label, rows of panels: training loss, then `val_key` (× `factor` unless it is the
    loss: the report's unit); one legend for the figure. None when no row has a history."""
    with_history = [r for r in rows if _histories(r, results)]
    labels = ordered(with_history, lambda r: r.label)
    if not labels:
        return None
    cols = min(4, len(labels))
    grid = math.ceil(len(labels) / cols)
    name_of = series_name(with_history)
    names = ordered(with_history, name_of)
    height = 2.4 * 2 * grid + 0.6 + 0.25 * math.ceil(len(names) / 3)
    fig = new_figure(3.3 * cols + 0.4, height)
    axes = fig.subplots(2 * grid, cols, squeeze=False)
    scale = 1.0 if val_key == "val_loss" else factor
    for k, label in enumerate(labels):
        top, bottom = axes[2 * (k // cols), k % cols], axes[2 * (k // cols) + 1, k % cols]
        for row in [r for r in with_history if r.label == label]:
            runs, colour = _histories(row, results), f"C{names.index(name_of(row)) % 10}"
            _draw(top, [series(r, "train_loss") for r in runs], colour)
            _draw(bottom, [scale * series(r, val_key) for r in runs], colour)
        top.set_title(label, fontsize=9)
        top.set_ylabel("training loss", fontsize=8)
        bottom.set_ylabel(_val_label(val_key, factor), fontsize=8)
        bottom.set_xlabel("epoch", fontsize=8)
    for k in range(len(labels), grid * cols):
        axes[2 * (k // cols), k % cols].set_axis_off()
        axes[2 * (k // cols) + 1, k % cols].set_axis_off()
    handles = [top.plot([], [], color=f"C{i % 10}", label=n)[0] for i, n in enumerate(names)]
    legend_height = (0.25 * math.ceil(len(names) / 3) + 0.15) / height
    fig.legend(handles=handles, loc="lower center", ncol=min(3, len(names)), fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, legend_height, 1, 1))
    return render(fig)


def _histories(row: Row, results: dict[str, CellResult]) -> list[CellResult]:
    if not row.chosen:
        return []
    found = [results[i] for i in row.ok["id"] if i in results]
    return [r for r in found if r.history]


def series_name(rows: list[Row]):
    """How a line or marker names its row: the architecture, with the source when the rows have several."""
    several = len({r.source for r in rows}) > 1
    return lambda r: f"{r.architecture} ({source_label(r.source)})" if several else r.architecture


def _draw(ax, runs: list[np.ndarray], colour: str) -> None:
    mean, low, high = band(runs)
    epochs = np.arange(1, len(mean) + 1)
    ax.plot(epochs, mean, color=colour, lw=1.3)
    if len(runs) > 1:
        ax.fill_between(epochs, low, high, color=colour, alpha=0.2, linewidth=0)
    ax.tick_params(labelsize=7)


def _val_label(key: str, factor: float) -> str:
    metric = key.removeprefix("val_")
    if metric == "loss":
        return "validation loss"
    return f"validation {metric_label(metric)}{' (%)' if factor == 100 else ''}"
