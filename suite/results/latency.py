"""The latency benchmark of a matrix (benchmarks/latency/, `make bench-latency MATRIX=...`): what it measures and
the file it writes, `results/<matrix>/latency.json`.

Format 2 (written now): every distinct network of the matrix timed in one process, interleaved in rotating
round-robin blocks (suite/profiling/interleaved.py). `{"medtl": {"format": 2, "method": "interleaved", "matrix",
"matrix_path", "command", "environment", "conditions": {device, dtype, threads, channels_last, warmup, rounds, block,
steal_s, load_before, load_after}}, "networks": [row, ...]}`; each row: architecture, timm, image_size, num_classes,
strategy (null when the strategy leaves the network as built), strategy_params, batch_size, device, dtype, threads,
channels_last, params_total, median_ms, iqr_ms, q1_ms, q3_ms, min_ms, max_ms, n, thread_cpu_median_ms,
process_cpu_median_ms, cpu_per_wall.

Format 1 (older files, still read): pytest-benchmark's JSON plus a `medtl` block; each entry of `benchmarks` has the
same suite keys up to median_ms, iqr_ms and n in `extra_info` (no quartiles: the interval is median ± IQR/2).

`latency_rows` flattens either; `BatchOneLatency` is what the efficiency table reads. The networks to time are
`suite.networks.latency_targets`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = 2
READABLE = (1, 2)


@dataclass(frozen=True)
class Target:
    """One network to time: the architecture as the matrix builds it, and a strategy only if it changes the net."""

    architecture: str
    image_size: int
    num_classes: int
    strategy: str | None = None
    strategy_params: str = "{}"  # canonical JSON, so targets stay hashable

    @property
    def id(self) -> str:
        strategy = f"-{self.strategy}" if self.strategy else ""
        params = "" if self.strategy_params == "{}" else f"-{self.strategy_params}"
        return f"{self.architecture}-{self.image_size}px-{self.num_classes}cls{strategy}{params}"


def latency_rows(path: Path) -> list[dict[str, Any]]:
    """One flat row per (network, batch size) from a latency.json, for merging into the report's tables."""
    data = json.loads(Path(path).read_text())
    fmt = data.get("medtl", {}).get("format")
    if fmt not in READABLE:
        readable = " or ".join(map(str, READABLE))
        raise ValueError(f"{path}: latency file format {fmt!r}, expected {readable} (rerun make bench-latency)")
    if fmt == 1:
        return [dict(bench["extra_info"]) for bench in data["benchmarks"]]
    return [dict(row) for row in data["networks"]]


def interval(row: dict[str, Any]) -> tuple[float, float]:
    """A row's interquartile interval in ms: its quartiles, or median ± IQR/2 where only the IQR was recorded
    (format 1, per-cell records); a row without an IQR is the point at its median."""
    median = float(row["median_ms"])
    if row.get("q1_ms") is not None and row.get("q3_ms") is not None:
        return float(row["q1_ms"]), float(row["q3_ms"])
    half = float(row.get("iqr_ms") or 0.0) / 2
    return median - half, median + half


@dataclass
class BatchOneLatency:
    """Batch-1 medians (ms) from a matrix's latency.json, by (architecture, image size, classes, strategy or None)."""

    device: str = ""
    median_ms: dict[tuple[str, int, int, str | None], float] = field(default_factory=dict)
    interval_ms: dict[tuple[str, int, int, str | None], tuple[float, float]] = field(default_factory=dict)
    """The interquartile interval of each median (`interval`)."""

    @classmethod
    def read(cls, path: Path) -> BatchOneLatency:
        """Empty when the file does not exist (`make bench-latency` was not run)."""
        if not Path(path).is_file():
            return cls()
        rows = [r for r in latency_rows(path) if r.get("batch_size") == 1]
        devices = sorted(
            {f"{r['device']}, {r['threads']} threads" if r.get("threads") else r["device"] for r in rows}
        )
        found = cls("; ".join(devices))
        for r in rows:
            key = (r["architecture"], int(r["image_size"]), int(r["num_classes"]), r.get("strategy"))
            found.median_ms[key] = float(r["median_ms"])
            found.interval_ms[key] = interval(r)
        return found

    def lookup(
        self, architecture: str, image_size: int, num_classes: int | None, strategy: str | None
    ) -> float:
        """The benchmark's median for this network; NaN when it was not benchmarked. With `num_classes` unknown,
        a network benchmarked at one head size only still matches."""
        key = self.key_of(architecture, image_size, num_classes, strategy)
        return math.nan if key is None else self.median_ms[key]

    def key_of(
        self, architecture: str, image_size: int, num_classes: int | None, strategy: str | None
    ) -> tuple[str, int, int, str | None] | None:
        """The benchmarked network this one is, or None."""
        if num_classes is not None:
            key = (architecture, image_size, num_classes, strategy)
            return key if key in self.median_ms else None
        hits = [k for k in self.median_ms if (k[0], k[1], k[3]) == (architecture, image_size, strategy)]
        return hits[0] if len(hits) == 1 else None
