"""What every leaderboard table reads: one object, so every table has one signature, `render(ctx) -> lines`.

A matrix-wide table reads `ctx.by_dataset`; a per-dataset table gets a context whose `dataset` is set and reads
`ctx.rows` and `ctx.metrics` for that dataset. A table returns document blocks (suite/document.py). Figures go
through `ctx.plot`, which keeps their PNG and PDF bytes in `ctx.files`: the report writes every file only after
all of them rendered, so a bad input leaves nothing half-written, and removes figures a previous report wrote and
this one did not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from suite.data.lock import load_lock
from suite.document import Block, Figure
from suite.errors import UserError
from suite.figures import figure_files
from suite.matrix.report import ReportConfig
from suite.report.select import Row, dataset_metrics
from suite.results import CellResult, RunPaths
from suite.results.latency import BatchOneLatency


def file_slug(*parts: str) -> str:
    """A file-name-safe name for a plot: `relative-synthetic-vessels`."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(parts).replace(">", "-to-")).strip("_")


def lock_modalities() -> dict[str, str]:
    """Modality per dataset from datasets.lock (Davila's "medical domain" column); empty if unavailable."""
    try:
        return {name: entry.modality for name, entry in load_lock()[0].datasets.items()}
    except (UserError, OSError):
        return {}


@dataclass
class ReportContext:
    config: ReportConfig
    frame: pd.DataFrame
    """One row per cell of the matrix (suite/report/collect.py)."""
    all_rows: list[Row]
    """Every table row, variants and sweep points already chosen on validation (suite/report/select.py)."""
    results: dict[str, CellResult]
    paths: RunPaths
    runs_dir: Path
    bench: BatchOneLatency
    modalities: dict[str, str]
    """Dataset → its modality in datasets.lock (Davila's "medical domain")."""
    files: dict[Path, bytes] = field(default_factory=dict)
    """Every figure file rendered so far (PNG and PDF), written by the report at the end."""
    dataset: str | None = None

    @property
    def parents(self) -> set[str]:
        """Ids of cells that other cells start from (two-step sources)."""
        return {p for p in self.frame.get("parent", []) if p}

    @property
    def datasets(self) -> list[str]:
        return list(dict.fromkeys(self.frame["dataset"])) if not self.frame.empty else []

    def rows_of(self, dataset: str) -> list[Row]:
        return [r for r in self.all_rows if r.dataset == dataset]

    def metrics_of(self, dataset: str) -> list[str]:
        """The dataset's primary metrics (the first is the main one), or the report's override."""
        return dataset_metrics(self.frame, dataset, self.config)

    @property
    def by_dataset(self) -> dict[str, tuple[list[Row], list[str]]]:
        return {d: (self.rows_of(d), self.metrics_of(d)) for d in self.datasets}

    def for_dataset(self, dataset: str) -> ReportContext:
        return replace(self, dataset=dataset)

    @property
    def rows(self) -> list[Row]:
        """This dataset's rows (a per-dataset table), or every row."""
        return self.rows_of(self.dataset) if self.dataset is not None else self.all_rows

    @property
    def metrics(self) -> list[str]:
        assert self.dataset is not None, "metrics: only per-dataset tables have one dataset"
        return self.metrics_of(self.dataset)

    def plot_path(self, *name: str) -> Path:
        return self.paths.plots / f"{file_slug(*name)}.png"  # `plots` is checked to stay inside the root

    def plot(self, path: Path, rendered: dict[str, bytes] | None) -> list[Block]:
        """The block that shows a rendered figure (nothing when none was drawn); its files are kept for writing."""
        if rendered is None:
            return []
        self.files.update(figure_files(path, rendered))
        return [Figure(f"plots/{path.name}", path.stem)]

    @property
    def pngs(self) -> list[Path]:
        return [p for p in self.files if p.suffix == ".png"]
