"""The hand-off from the executor to a cell process: everything `run_cell` needs, as one JSON file."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from suite.results import CellResult


@dataclass
class CellSpec:
    cell_id: str
    slug: str
    matrix: str
    config: dict[str, Any]
    parents: dict[str, str]  # parent cell id → its best checkpoint
    result_path: str
    predictions_path: str
    checkpoint_path: str
    progress_path: str
    environment: dict[str, Any]
    allow_unverified: bool = (
        False  # `run --allow-unverified`: a run option, not part of the cell's config or id
    )

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def read(cls, path: Path) -> CellSpec:
        return cls(**json.loads(path.read_text()))


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def failed_result(spec: CellSpec, error: str, started: str | None = None) -> CellResult:
    """The record of a cell that did not finish: the reason, the config, the environment."""
    return CellResult(
        cell_id=spec.cell_id,
        matrix=spec.matrix,
        slug=spec.slug,
        status="failed",
        error=error,
        config=spec.config,
        parents=list(spec.parents),
        seed=spec.config["seed"],
        environment=spec.environment,
        started_at=started,
        finished_at=now(),
    )
