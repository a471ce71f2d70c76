"""The result of one cell (a typed schema) and the store: one JSON per cell, written atomically.

A result is written once, whole, by renaming a finished temporary file, so a crash or `kill -9` at any moment
leaves either the previous state or the complete new file, never a partial one. Test predictions go beside it as
`<slug>.npz` (written first; the JSON is the commit marker). Undefined metrics are stored as null and read as NaN.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION = 1


class SplitMetrics(BaseModel):
    scalars: dict[str, float | None] = {}
    per_class: dict[str, dict[str, float | None]] = {}
    confusion: list = []
    warnings: list[str] = []

    @field_validator("scalars", mode="before")
    @classmethod
    def _nan_to_none(cls, value: dict) -> dict:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in value.items()}

    def get(self, name: str) -> float:
        value = self.scalars.get(name)
        return float("nan") if value is None else float(value)


class CellResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    cell_id: str
    matrix: str
    slug: str
    status: Literal["ok", "failed"]
    error: str | None = None
    config: dict[str, Any]
    parents: list[str] = []
    seed: int
    metrics: dict[str, SplitMetrics] = Field({}, description="'val' at the best epoch, and 'test'")
    history: list[dict[str, Any]] = []
    epochs_run: int = 0
    best_epoch: int = 0
    stop_reason: str | None = None
    timings: dict[str, float] = {}
    params: dict[str, int] = {}
    macs: dict[str, Any] = {}
    latency: dict[str, Any] = {}
    memory: dict[str, Any] = {}
    throughput: dict[str, float | None] = {}
    data: dict[str, Any] = {}
    strategy_log: dict[str, Any] = {}
    warnings: list[str] = []
    predictions: str | None = None
    environment: dict[str, Any] = {}
    started_at: str | None = None
    finished_at: str | None = None


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_result(result: CellResult, path: Path) -> None:
    text = json.dumps(result.model_dump(mode="json"), indent=1, sort_keys=False, allow_nan=False, default=str)
    atomic_write_bytes(path, (text + "\n").encode())


def _finite(obj: Any) -> Any:
    """NaN/inf anywhere (history, logs) → None, so the JSON stays standard."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def sanitise(result: CellResult) -> CellResult:
    data = _finite(result.model_dump())
    return CellResult.model_validate(data)


def write_predictions(
    path: Path,
    scores: np.ndarray,
    targets: np.ndarray,
    ids: list[str],
    classes: list[str],
    task: str | None = None,
) -> None:
    """Test scores (float32), targets, sample ids, class names and the task type, for ROC curves and any metric
    recomputed later (`suite.metrics.metrics_from_predictions`)."""
    import io

    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        scores=scores.astype(np.float32),
        targets=targets,
        ids=np.array(ids),
        classes=np.array(classes),
        **({"task": np.array(task)} if task else {}),
    )
    atomic_write_bytes(path, buffer.getvalue())


def read_result(path: Path) -> CellResult:
    return CellResult.model_validate_json(path.read_text())


def load_results(runs_dir: Path) -> list[CellResult]:
    """Every result in a runs folder, in file-name order (stable, so reports are deterministic)."""
    if not runs_dir.is_dir():
        return []
    return [read_result(p) for p in sorted(runs_dir.glob("*.json"))]
