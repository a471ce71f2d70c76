"""LEADERBOARD.md and results.csv from a matrix's result files: a pure function of those files.

One table per dataset: rows are strategies, columns are architecture (source) × the dataset's primary metrics,
values are mean (SE) over seeds with SE = sample std / √n, and the best row per column is bold.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from tabulate import tabulate

from suite.matrix import Cell, LoadedMatrix
from suite.metrics import METRICS
from suite.results import CellResult, atomic_write_bytes, read_result
from suite.runner.state import RunPaths


def collect(cells: list[Cell], paths: RunPaths) -> tuple[pd.DataFrame, list[CellResult], list[Cell]]:
    """(rows of every result that belongs to this matrix, those results, cells without a result)."""
    rows, results, missing = [], [], []
    for cell in cells:
        path = paths.result(cell)
        result = read_result(path) if path.is_file() else None
        if result is None or result.cell_id != cell.id:
            missing.append(cell)
            continue
        results.append(result)
        row = {
            **cell.key,
            "status": result.status,
            "error": result.error,
            "epochs_run": result.epochs_run,
            "best_epoch": result.best_epoch,
            "params_total": result.params.get("total"),
            "params_trainable": result.params.get("trainable"),
            "train_s": result.timings.get("train_s"),
        }
        for split, metrics in result.metrics.items():
            row.update({f"{split}_{k}": metrics.get(k) for k in metrics.scalars})
        rows.append(row)
    return pd.DataFrame(rows), results, missing


def mean_se(values: pd.Series) -> tuple[float, float, int]:
    v = values.dropna().astype(float)
    n = len(v)
    if n == 0:
        return math.nan, math.nan, 0
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan, n


def _fmt(mean: float, se: float) -> str:
    if math.isnan(mean):
        return "–"
    return f"{mean:.3f} ({se:.3f})" if not math.isnan(se) else f"{mean:.3f}"


def dataset_table(frame: pd.DataFrame, metrics: list[str]) -> str:
    ok = frame[frame["status"] == "ok"]
    ok = ok.assign(column=ok["architecture"] + " (" + ok["source"] + ")")
    columns = list(dict.fromkeys(ok["column"]))
    strategies = list(dict.fromkeys(ok["strategy"]))
    cells: dict[tuple[str, str], dict[str, tuple[float, float, int]]] = {}
    for (strategy, column), group in ok.groupby(["strategy", "column"], sort=False):
        cells[(strategy, column)] = {
            m: mean_se(group.get(f"test_{m}", pd.Series(dtype=float))) for m in metrics
        }
    best = {}
    for column in columns:
        for m in metrics:
            sign = 1 if METRICS[m].higher_is_better else -1
            scores = [
                (sign * cells[(s, column)][m][0], s)
                for s in strategies
                if (s, column) in cells and not math.isnan(cells[(s, column)][m][0])
            ]
            best[(column, m)] = max(scores)[1] if scores else None
    header = ["strategy"] + [
        f"{c} {METRICS[m].label} {'↑' if METRICS[m].higher_is_better else '↓'}"
        for c in columns
        for m in metrics
    ]
    body = []
    for s in strategies:
        row = [s]
        for c in columns:
            for m in metrics:
                mean, se, _ = cells.get((s, c), {}).get(m, (math.nan, math.nan, 0))
                text = _fmt(mean, se)
                row.append(f"**{text}**" if best[(c, m)] == s and text != "–" else text)
        body.append(row)
    return tabulate(body, headers=header, tablefmt="github", disable_numparse=True)


def _header(matrix: LoadedMatrix, results: list[CellResult], missing: list[Cell]) -> list[str]:
    ok = [r for r in results if r.status == "ok"]
    failed = [r for r in results if r.status == "failed"]
    env = ok[-1].environment if ok else {}
    shas = sorted(
        {
            r.environment.get("git_sha", "?")[:8] + ("+dirty" if r.environment.get("git_dirty") else "")
            for r in ok
        }
    )
    locks = sorted({r.data.get("lock_digest", "?")[:12] for r in ok})
    dates = sorted(r.finished_at[:10] for r in ok if r.finished_at)
    device = env.get("gpu") or f"CPU ({env.get('cpu', '?')}, {env.get('threads', '?')} threads)"
    hours = sum(r.timings.get("total_s", 0.0) for r in results) / 3600
    return [
        f"# Leaderboard: {matrix.name}",
        "",
        f"{matrix.spec.description.strip()}" if matrix.spec.description else "",
        "",
        f"- Matrix: `{matrix.path.name}`; results dated {dates[0] if dates else '–'}"
        + (f" to {dates[-1]}" if dates and dates[-1] != dates[0] else ""),
        f"- Code: git {', '.join(shas) or '–'}; datasets.lock {', '.join(locks) or '–'}",
        f"- Environment: torch {env.get('torch', '?')}, timm {env.get('timm', '?')}, CUDA {env.get('cuda') or 'none'}"
        f", {device}",
        f"- Cells: {len(ok)} finished, {len(failed)} failed, {len(missing)} missing; compute {hours:.2f} h",
        "- Values are test-split mean (SE) over seeds at the best-validation epoch; SE = sample std / √n; "
        "bold is the best strategy per column.",
        "",
    ]


def write_report(matrix: LoadedMatrix, paths: RunPaths) -> Path:
    frame, results, missing = collect(matrix.cells, paths)
    lines = _header(matrix, results, missing)
    if not frame.empty:
        for dataset in dict.fromkeys(frame["dataset"]):
            sub = frame[frame["dataset"] == dataset]
            metrics = next(
                c.config["dataset"]["metrics"] for c in matrix.cells if c.key["dataset"] == dataset
            )
            seeds = sorted(sub["seed"].unique())
            lines += [
                f"## {dataset}",
                "",
                f"Seeds: {', '.join(map(str, seeds))}.",
                "",
                dataset_table(sub, metrics),
                "",
            ]
        failed = frame[frame["status"] == "failed"]
        if not failed.empty:
            lines += ["## Failed cells", ""]
            lines += [
                f"- `{r.id}` {r.dataset}/{r.architecture}/{r.source}/{r.strategy}/s{r.seed}: {r.error}"
                for r in failed.itertuples()
            ]
            lines.append("")
        csv = frame.sort_values(["dataset", "architecture", "source", "strategy", "seed"], kind="stable")
        atomic_write_bytes(paths.root / "results.csv", csv.to_csv(index=False, lineterminator="\n").encode())
    out = paths.root / "LEADERBOARD.md"
    atomic_write_bytes(out, ("\n".join(line for line in lines) + "\n").encode())
    return out
