"""The latency benchmark of a matrix (benchmarks/latency/, `make bench-latency MATRIX=...`): what it measures and
the file it writes, `results/<matrix>/latency.json`.

The file is pytest-benchmark's JSON (`machine_info`, `commit_info`, `datetime`, `version`, `benchmarks`) plus a
`medtl` block (`format`, `matrix`, `environment`). Each entry of `benchmarks` has pytest-benchmark's `stats` in
seconds and, in `extra_info`, the suite's keys: architecture, timm, image_size, num_classes, strategy (null when
the strategy leaves the network as built), batch_size, device, dtype, threads, channels_last, params_total,
median_ms, iqr_ms, n. `latency_rows` flattens it; `BatchOneLatency` is what the efficiency table reads. The networks to time are
`suite.networks.latency_targets`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = 1


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
    if fmt != FORMAT:
        raise ValueError(f"{path}: latency file format {fmt!r}, expected {FORMAT} (rerun make bench-latency)")
    return [dict(bench["extra_info"]) for bench in data["benchmarks"]]


@dataclass
class BatchOneLatency:
    """Batch-1 medians (ms) from a matrix's latency.json, by (architecture, image size, classes, strategy or None)."""

    device: str = ""
    median_ms: dict[tuple[str, int, int, str | None], float] = field(default_factory=dict)

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
        return found

    def lookup(
        self, architecture: str, image_size: int, num_classes: int | None, strategy: str | None
    ) -> float:
        """The benchmark's median for this network; NaN when it was not benchmarked. With `num_classes` unknown,
        a network benchmarked at one head size only still matches."""
        if num_classes is not None:
            return self.median_ms.get((architecture, image_size, num_classes, strategy), math.nan)
        hits = [
            v
            for (a, s, _, st), v in self.median_ms.items()
            if (a, s, st) == (architecture, image_size, strategy)
        ]
        return hits[0] if len(hits) == 1 else math.nan
