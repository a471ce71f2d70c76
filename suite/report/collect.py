"""Result files → one pandas row per cell (finished, failed or missing), the frame every table is built from.

The matrix says which cells should exist; a result file counts only if its cell id matches a cell of the matrix
(an edited config makes the old file stale, and stale files are counted, never used). Undefined metrics stay NaN.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from suite.errors import UserError
from suite.matrix import Cell, CellConfig
from suite.results import CellResult, RunPaths, read_result

KEY = ["dataset", "architecture", "source", "strategy", "params", "sweep", "seed"]


@dataclass
class Collected:
    """The per-cell frame, the results by cell id, and how many result files were stale."""

    frame: pd.DataFrame
    results: dict[str, CellResult] = field(default_factory=dict)
    stale: int = 0
    runs_dir: Path | None = None
    unreadable: dict[str, str] = field(default_factory=dict)
    """Result files that are not valid results (truncated, edited, from an unknown version) → why; their cells
    count as missing and `run` computes them again."""


def format_value(value: Any) -> str:
    """Sweep values as people write them: 1e-4 rather than 0.0001, 0.5 rather than 0.50000."""
    if isinstance(value, float) and value != 0 and abs(value) < 1e-2:
        mantissa, exponent = f"{value:.6e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def sweep_label(config: CellConfig) -> str:
    """`lr=1e-4, batch_size=32` in the matrix's order, or '' when the cell is not a sweep point."""
    return ", ".join(f"{k}={format_value(v)}" for k, v in config.sweep_point.items())


def params_key(params: dict[str, Any]) -> str:
    """A strategy's resolved parameters as canonical JSON: cells that differ only here (Peng's no-pooling TTL
    ablation) are different rows, never averaged together (`suite.report.select` names what differs)."""
    return json.dumps(params, sort_keys=True, default=str)


def _key(config: CellConfig) -> dict[str, Any]:
    strategy = config.strategy
    return {
        "dataset": config.dataset.name,
        "architecture": config.architecture.name,
        "source": config.source.name,
        "strategy": strategy.spec,
        "base": strategy.name,
        "variant": strategy.variant or "",
        "params": params_key(strategy.params),
        "sweep": sweep_label(config),
        "seed": config.seed,
        "image_size": config.train.image_size,
        "parent": config.source.parent or "",
        "metrics": tuple(config.dataset.metrics),
    }


def _num(value: Any) -> float:
    return math.nan if value is None else float(value)


def _profile(result: CellResult) -> dict[str, Any]:
    """The shared profiling contract (brief): params, macs.<counter> GMACs, latency.batch_1.median_ms, memory."""
    lat, macs, env = result.latency, result.macs, result.environment
    batches = lat.batches
    one = batches.get(1)
    larger = [
        t for b, t in batches.items() if b != 1
    ]  # batch N: the largest other batch size (32 by default)
    return {
        "params_total": _num(result.params.get("total")),
        "params_trainable": _num(result.params.get("trainable")),
        "macs_fvcore": _num(macs.fvcore),
        "macs_thop": _num(macs.thop),
        "macs_image_size": _num(macs.image_size),
        "latency_ms": _num(one.median_ms if one else None),
        "latency_iqr_ms": _num(one.iqr_ms if one else None),
        "latency_batch_ms": _num(larger[-1].median_ms if larger else None),
        "latency_device": lat.device or "",
        "latency_threads": _num(lat.threads),
        "memory_peak_bytes": _num(result.memory.peak_bytes),
        "memory_kind": result.memory.kind or "",
        "train_img_s": _num(result.throughput.get("train_img_s")),
        "git_sha": env.get("git_sha") or "",
        "git_dirty": bool(env.get("git_dirty")),
        "lock_digest": result.data.get("lock_digest") or env.get("datasets_lock") or "",
        "torch": env.get("torch") or "",
        "timm": env.get("timm") or "",
        "cuda": env.get("cuda") or "",
        "gpu": env.get("gpu") or "",
        "cpu": env.get("cpu") or "",
        "threads": _num(env.get("threads")),
    }


def _seconds(result: CellResult) -> float:
    """Compute time of a cell: its measured total, or started→finished for a failed cell."""
    if "total_s" in result.timings:
        return float(result.timings["total_s"])
    if result.started_at and result.finished_at:
        return (pd.Timestamp(result.finished_at) - pd.Timestamp(result.started_at)).total_seconds()
    return 0.0


def result_row(result: CellResult) -> dict[str, Any]:
    """Everything the tables need from one result, flat; metrics as val_<name> and test_<name>."""
    row: dict[str, Any] = {
        "id": result.cell_id,
        **_key(result.config),
        "status": result.status,
        "error": result.error or "",
        "epochs_run": result.epochs_run if result.status == "ok" else math.nan,
        "best_epoch": result.best_epoch if result.status == "ok" else math.nan,
        "best_phase": result.best_phase if result.status == "ok" else math.nan,
        "phases": result.phases if result.status == "ok" else math.nan,
        "diverged": bool(result.diverged),
        "compute_s": _seconds(result),
        "finished_at": result.finished_at or "",
        "predictions": result.predictions or "",
        "has_test": "test" in result.metrics,
        **_profile(result),
    }
    for split, metrics in result.metrics.items():
        row.update({f"{split}_{name}": metrics.get(name) for name in metrics.scalars})
    return row


def missing_row(cell: Cell) -> dict[str, Any]:
    return {"id": cell.id, **_key(cell.config), "status": "missing", "error": "", "compute_s": 0.0}


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=["id", *KEY, "base", "variant", "status"])
    frame["order"] = range(len(frame))
    return frame


def why_unreadable(path: Path) -> tuple[CellResult | None, str]:
    """A result file and "", or None and one line saying why it is not a result (truncated, edited, unknown)."""
    try:
        return read_result(path), ""
    except ValidationError as exc:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": str(exc)}
        where = ".".join(map(str, first.get("loc", ()))) or "the file"
        return None, f"not a valid result file ({where}: {first.get('msg')})"
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"cannot read the result file ({exc})"


def read_checked(path: Path) -> CellResult:
    """A result file, or one line naming it (`report --compare`'s old side, which has no matrix to rerun)."""
    result, why = why_unreadable(path)
    if result is None:
        raise UserError(f"{path}: {why}; remove it or point --compare elsewhere")
    return result


def collect(cells: list[Cell], paths: RunPaths) -> Collected:
    """One row per cell of the matrix, in the matrix's order; a result whose id matches no cell is stale."""
    results: dict[str, CellResult] = {}
    unreadable: dict[str, str] = {}
    rows = []
    for cell in cells:
        path = paths.result(cell)
        result, why = why_unreadable(path) if path.is_file() else (None, "")
        if why:
            unreadable[path.name] = why
        if result is None or result.cell_id != cell.id:
            rows.append(missing_row(cell))
            continue
        results[cell.id] = result
        rows.append(result_row(result))
    wanted = {paths.result(c).name for c in cells if c.id in results} | set(unreadable)
    stale = sum(1 for p in paths.runs.glob("*.json") if p.name not in wanted) if paths.runs.is_dir() else 0
    return Collected(_frame(rows), results, stale, paths.runs, unreadable)


def collect_folder(folder: Path) -> Collected:
    """Every result in a runs folder, without a matrix (the old side of `--compare`)."""
    found = [read_checked(p) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []
    rows = [result_row(r) for r in found]
    return Collected(_frame(rows), {r.cell_id: r for r in found}, 0, folder)
