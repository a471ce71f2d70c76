"""The result of one cell, typed: its config, metrics per split, history, timings, cost records and provenance.

Undefined metrics are stored as null and read as NaN. The cost records (MACs, latency, memory) dump exactly the keys
they were given, in a fixed order, so a result read and written again is the same file byte for byte; a failed
cell's records are empty (`{}`).
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer, model_validator

from suite.matrix.cell import CellConfig

SCHEMA_VERSION = 1


class Record(BaseModel):
    """A result section that dumps only the keys it was given (so old and new files keep their exact shape)."""

    model_config = ConfigDict(extra="forbid")

    @model_serializer(mode="wrap")
    def _given(self, handler) -> dict[str, Any]:
        data = handler(self)
        given = self.model_fields_set | set(self.__pydantic_extra__ or {})
        return {k: v for k, v in data.items() if k in given}

    @property
    def measured(self) -> bool:
        return bool(self.model_fields_set)


class MacsRecord(Record):
    """GMACs of one forward pass at 1×3×`image_size`², per counter (None: the counter failed, see `errors`)."""

    image_size: int | None = None
    unsupported_ops: dict[str, int] | None = None
    fvcore: float | None = None
    thop: float | None = None
    errors: dict[str, str] | None = None
    network: str | None = None
    """The network's key digest in the matrix's store of network costs (suite/profiling/shared.py)."""
    measured_by: str | None = None
    """The slug of the cell that measured these figures; this cell's own, or another's with the same network."""

    def by(self, counter: str) -> float | None:
        return getattr(self, counter, None)


class BatchTiming(BaseModel):
    model_config = ConfigDict(extra="forbid")

    median_ms: float
    iqr_ms: float
    n: int
    warmup: int | None = None

    @model_serializer(mode="wrap")
    def _given(self, handler) -> dict[str, Any]:
        data = handler(self)
        return {k: v for k, v in data.items() if k != "warmup" or "warmup" in self.model_fields_set}


_BATCH = re.compile(r"^batch_(\d+)$")


class LatencyRecord(Record):
    """Inference latency per batch size (`batch_<b>` entries) and the conditions it was measured under."""

    model_config = ConfigDict(extra="allow")

    device: str | None = None
    dtype: str | None = None
    threads: int | None = None
    channels_last: bool | None = None
    image_size: int | None = None
    warmup: int | None = None
    error: str | None = None
    network: str | None = None
    measured_by: str | None = None
    """As in `MacsRecord`: the network's key digest and the cell that measured it."""

    @model_validator(mode="after")
    def _batches(self) -> LatencyRecord:
        extra = self.__pydantic_extra__ or {}
        for key, value in extra.items():
            if not _BATCH.match(key):
                raise ValueError(f"latency: unknown key {key!r} (batch entries are batch_<size>)")
            if not isinstance(value, BatchTiming):
                extra[key] = BatchTiming.model_validate(value)
        return self

    @property
    def batches(self) -> dict[int, BatchTiming]:
        """Batch size → its timing, smallest first."""
        found = {int(_BATCH.match(k).group(1)): v for k, v in (self.__pydantic_extra__ or {}).items()}
        return dict(sorted(found.items()))

    def batch(self, size: int) -> BatchTiming | None:
        return self.batches.get(size)


class MemoryRecord(Record):
    peak_bytes: int | None = None
    kind: str | None = None
    """`cuda_max_allocated` or `cpu_peak_rss`."""
    scope: str | None = None
    """The window the peak covers, e.g. `training`."""


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
    diverged: bool = False
    """Finished, but its validation loss is far above chance level (suite/runner/cell.py): flagged, never ranked."""
    config: CellConfig
    parents: list[str] = []
    seed: int
    metrics: dict[str, SplitMetrics] = Field({}, description="'val' at the best epoch, and 'test'")
    history: list[dict[str, Any]] = []
    epochs_run: int = 0
    best_epoch: int = 0
    best_phase: int = 0
    """The phase (of `phases`) the kept state comes from; multi-phase strategies: the last, by default."""
    phases: int = 1
    stop_reason: str | None = None
    timings: dict[str, float] = {}
    params: dict[str, int] = {}
    macs: MacsRecord = MacsRecord()
    latency: LatencyRecord = LatencyRecord()
    memory: MemoryRecord = MemoryRecord()
    throughput: dict[str, float | None] = {}
    feature_cache: dict[str, Any] = {}
    """Whether head-only epochs trained on the frozen backbone's cached features (used, built), or why not."""
    data: dict[str, Any] = {}
    strategy_log: dict[str, Any] = {}
    warnings: list[str] = []
    predictions: str | None = None
    environment: dict[str, Any] = {}
    started_at: str | None = None
    finished_at: str | None = None
