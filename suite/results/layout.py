"""Where a matrix's results live, and which of its cells have one.

results/<matrix>/runs/<slug>.json      the result (committed, published); <slug>.npz its test predictions
results/<matrix>/work/<slug>/          cell.json, log.txt, progress.json, best.pt, lock  (git-ignored)
results/<matrix>/work/networks/        MACs and latency per distinct network, shared by its cells (git-ignored)
results/<matrix>/analysis/<kind>/      CAM grids and SVCCA curves, each figure with a <name>.json manifest
results/<matrix>/latency.json          `make bench-latency`'s timings, when run
results/<matrix>/plots/                the report's figures

Every path handed out here is checked to resolve inside the matrix's folder (`suite.paths.inside`), and the
folder's own name is checked to be one safe path component (`RunPaths.for_matrix`), so a matrix named
`../../tmp/x`, or a symlink inside the folder that points elsewhere, stops the command before it writes anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from suite.errors import UserError
from suite.matrix.cell import Cell
from suite.paths import check_name, inside
from suite.results.store import atomic_write_bytes, read_result

ANALYSIS = "analysis"
ANALYSIS_KINDS = ("cam", "svcca")


@dataclass(frozen=True)
class RunPaths:
    root: Path  # results/<matrix>
    _checked: set[tuple[str, ...]] = field(default_factory=set, init=False, repr=False, compare=False)

    @classmethod
    def for_matrix(cls, results: Path | str, name: str) -> RunPaths:
        """`results/<name>`, after checking that `name` is one safe path component and stays inside `results`,
        and that `results` is a folder (or not there yet)."""
        check_name("matrix name", name)
        if Path(results).exists() and not Path(results).is_dir():
            raise UserError(f"results folder {results} is a file, not a folder; give another --results")
        return cls(inside(Path(results), Path(results) / name))

    def _under(self, *parts: str) -> Path:
        """`root/parts...`, checked to resolve inside the root. The folder part is resolved once per RunPaths (a
        dry-run of 1,728 cells asks for ~9,000 paths, and resolving each costed a second); the last part is
        resolved again only when it is a symlink, the one way a checked folder's entry can lead elsewhere."""
        path = self.root.joinpath(*parts)
        folder = parts[:-1]
        if folder not in self._checked:
            inside(self.root, self.root.joinpath(*folder))
            self._checked.add(folder)
        return inside(self.root, path) if path.is_symlink() else path

    @property
    def runs(self) -> Path:
        return self._under("runs")

    @property
    def work(self) -> Path:
        return self._under("work")

    @property
    def plots(self) -> Path:
        return self._under("plots")

    @property
    def latency(self) -> Path:
        return self._under("latency.json")

    def result(self, cell: Cell) -> Path:
        return self._under("runs", f"{cell.slug}.json")

    def predictions(self, cell: Cell) -> Path:
        return self._under("runs", f"{cell.slug}.npz")

    def cell_dir(self, cell: Cell) -> Path:
        return self._under("work", cell.slug)

    def check_cells(self, cells: list[Cell]) -> None:
        """Every folder a run writes for these cells resolves inside the root: checked before anything starts, so a
        bad path stops the run up front instead of in the middle of the schedule."""
        for cell in cells:
            self.result(cell)
            self.cell_dir(cell)

    def checkpoint(self, cell: Cell) -> Path:
        return self._under("work", cell.slug, "best.pt")

    def log(self, cell: Cell) -> Path:
        return self._under("work", cell.slug, "log.txt")

    def progress(self, cell: Cell) -> Path:
        return self._under("work", cell.slug, "progress.json")

    def spec(self, cell: Cell) -> Path:
        return self._under("work", cell.slug, "cell.json")

    def analysis(self, kind: str) -> Path:
        return self._under(ANALYSIS, kind)


def status_of(paths: RunPaths, cell: Cell) -> str:
    """`ok`, `failed` or `missing`; a result whose id does not match the cell (edited config) counts as missing."""
    path = paths.result(cell)
    if not path.is_file():
        return "missing"
    try:
        result = read_result(path)
    except (ValueError, OSError):
        return "missing"
    return result.status if result.cell_id == cell.id else "missing"


def write_manifest(figure: Path, manifest: dict[str, Any]) -> Path:
    """`<figure>.json` beside an analysis figure; `figure` is stored by name so the folder can move."""
    path = figure.with_suffix(".json")
    text = json.dumps({**manifest, "figure": figure.name}, indent=1, allow_nan=False, default=str)
    atomic_write_bytes(path, (text + "\n").encode())
    return path


@dataclass(frozen=True)
class Artifact:
    """One analysis figure of a matrix, as the report links it."""

    kind: str  # "cam" | "svcca"
    title: str
    figure: Path
    manifest: dict[str, Any]


def list_artifacts(paths: RunPaths) -> list[Artifact]:
    """Every CAM and SVCCA figure under analysis/ whose manifest and figure both exist, in file-name order."""
    found = []
    for kind in ANALYSIS_KINDS:
        for path in sorted(paths.analysis(kind).glob("*.json")):
            try:
                manifest = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            figure = path.parent / manifest.get("figure", "")
            if manifest.get("kind") == kind and figure.is_file():
                found.append(Artifact(kind, manifest.get("title", figure.stem), figure, manifest))
    return found
