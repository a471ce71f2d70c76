"""The hand-off from the executor to a cell process: everything `run_cell` needs, as one JSON file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from suite.matrix.cell import Cell, CellConfig
from suite.results import CellResult, RunPaths, read_result, write_result

THREADS_ENV = "MEDTL_THREADS"
"""The executor's thread count for a cell whose `train.threads` is unset (the cores shared by the cells at once)."""
MEMORY_ENV = "MEDTL_MEMORY_LIMIT"
"""Local executor, `--memory`: bytes of address space a cell may map beyond what its imports mapped (RLIMIT_AS)."""


class CellSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cell_id: str
    slug: str
    matrix: str
    config: CellConfig
    parents: dict[str, str]  # parent cell id → its best checkpoint
    result_path: str
    predictions_path: str
    checkpoint_path: str
    progress_path: str
    environment: dict[str, Any]
    allow_unverified: bool = (
        False  # `run --allow-unverified`: a run option, not part of the cell's config or id
    )

    @classmethod
    def for_cell(
        cls,
        cell: Cell,
        paths: RunPaths,
        matrix: str,
        environment: dict[str, Any],
        parents: dict[str, Cell] | None = None,
        allow_unverified: bool = False,
    ) -> CellSpec:
        """The hand-off for `cell` of a matrix whose results live in `paths` (`parents`: its parent cells by id)."""
        parents = parents or {}
        return cls(
            cell_id=cell.id,
            slug=cell.slug,
            matrix=matrix,
            config=cell.config,
            parents={pid: str(paths.checkpoint(parents[pid]).resolve()) for pid in cell.parents},
            result_path=str(paths.result(cell).resolve()),
            predictions_path=str(paths.predictions(cell).resolve()),
            checkpoint_path=str(paths.checkpoint(cell).resolve()),
            progress_path=str(paths.progress(cell).resolve()),
            environment=environment,
            allow_unverified=allow_unverified,
        )

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=1))

    @classmethod
    def read(cls, path: Path) -> CellSpec:
        return cls.model_validate_json(path.read_text())

    def identity(self) -> dict[str, Any]:
        """The result fields that name the cell, whether it finished or failed."""
        return {
            "cell_id": self.cell_id,
            "matrix": self.matrix,
            "slug": self.slug,
            "config": self.config,
            "parents": list(self.parents),
            "seed": self.config.seed,
        }


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def record_failure(spec: CellSpec, error: str, started: str | None = None) -> bool:
    """Write the cell's failed result, unless a finished result of this same cell is already there (a recomputed
    cell that failed this time): nothing finished is ever replaced by a failure. Returns whether it wrote."""
    path = Path(spec.result_path)
    try:
        earlier = read_result(path) if path.is_file() else None
    except (ValueError, OSError):
        earlier = None
    if earlier is not None and earlier.status == "ok" and earlier.cell_id == spec.cell_id:
        return False
    write_result(failed_result(spec, error, started), path)
    return True


def failed_result(spec: CellSpec, error: str, started: str | None = None) -> CellResult:
    """The record of a cell that did not finish: the reason, the config, the environment."""
    return CellResult(
        **spec.identity(),
        status="failed",
        error=error,
        environment=spec.environment,
        started_at=started,
        finished_at=now(),
    )
