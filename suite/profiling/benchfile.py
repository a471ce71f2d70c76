"""The latency benchmark of a matrix (benchmarks/latency/, `make bench-latency MATRIX=...`): what it measures and
the file it writes, `results/<matrix>/latency.json`.

The file is pytest-benchmark's JSON (`machine_info`, `commit_info`, `datetime`, `version`, `benchmarks`) plus a
`medtl` block (`format`, `matrix`, `environment`). Each entry of `benchmarks` has pytest-benchmark's `stats` in
seconds and, in `extra_info`, the suite's keys: architecture, timm, image_size, num_classes, strategy (null when
the strategy leaves the network as built), batch_size, device, dtype, threads, channels_last, params_total,
median_ms, iqr_ms, n. `latency_rows` flattens it for the report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
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


def _reshapes(strategy_name: str) -> bool:
    """True when the strategy's `prepare_model` changes the network (truncation, halving, adapters)."""
    from suite.strategies import STRATEGIES, Strategy

    return STRATEGIES.get(strategy_name).prepare_model is not Strategy.prepare_model


def latency_targets(cells) -> list[Target]:
    """The distinct networks of a matrix's cells, in first-seen order (strategies that only freeze collapse)."""
    from suite.data.lock import lock_entry

    seen: dict[Target, None] = {}
    for cell in cells:
        c = cell.config
        s = c["strategy"]
        strategy, params = None, "{}"
        if _reshapes(s["name"]):
            strategy = s["name"] + (f"@{s['variant']}" if s["variant"] else "")
            params = json.dumps(s["params"], sort_keys=True)
        target = Target(
            c["architecture"]["name"],
            c["train"]["image_size"],
            lock_entry(c["dataset"]["name"]).num_classes,
            strategy,
            params,
        )
        seen.setdefault(target, None)
    return list(seen)


def latency_rows(path: Path) -> list[dict[str, Any]]:
    """One flat row per (network, batch size) from a latency.json, for merging into the report's tables."""
    data = json.loads(Path(path).read_text())
    fmt = data.get("medtl", {}).get("format")
    if fmt != FORMAT:
        raise ValueError(f"{path}: latency file format {fmt!r}, expected {FORMAT} (rerun make bench-latency)")
    return [dict(bench["extra_info"]) for bench in data["benchmarks"]]
