"""Matrix files: schema, located YAML loading, expansion into cells, filters and shards. Never imports torch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from suite.errors import UserError
from suite.matrix.cell import Cell, CellConfig
from suite.matrix.expand import Catalog, Expander, check_report_names
from suite.matrix.loader import Located, find_matrix, load_with_includes, validate
from suite.matrix.schema import Matrix, TrainConfig

__all__ = ["Catalog", "Cell", "CellConfig", "LoadedMatrix", "Matrix", "TrainConfig", "load_matrix"]


@dataclass
class LoadedMatrix:
    name: str
    path: Path
    spec: Matrix
    cells: list[Cell]


def load_matrix(name_or_path: str, catalog: Catalog, _seen: tuple[Path, ...] = ()) -> LoadedMatrix:
    """Find, read, validate and expand a matrix; any user mistake is a one-line `UserError`."""
    path = find_matrix(name_or_path)
    located = load_with_includes(path)
    spec = validate(located)
    check_report_names(spec, located, catalog)
    if spec.union:
        cells = _union(path, spec, located, catalog, (*_seen, path.resolve()))
    else:
        cells = Expander(spec, located, catalog).expand()
    return LoadedMatrix(spec.name or path.stem, path, spec, cells)


def _union(
    path: Path, spec: Matrix, located: Located, catalog: Catalog, seen: tuple[Path, ...]
) -> list[Cell]:
    """The cells of every listed matrix, each expanded with its own settings; a cell in two of them runs once.

    `include:` cannot do this: it merges one file's keys under another's, so each paper's `train:` and `grids:`
    would overwrite the others'.
    """
    cells: dict[str, Cell] = {}
    for i, rel in enumerate(spec.union):
        member = (path.parent / rel).resolve()
        if not member.is_file():
            raise UserError(
                f"union: matrix file {rel!r} not found next to {path.name}", where=located.where(("union", i))
            )
        if member in seen:
            raise UserError(f"union cycle: {' -> '.join(p.name for p in (*seen, member))}")
        for cell in load_matrix(str(member), catalog, seen).cells:
            cells.setdefault(cell.id, cell)
    return list(cells.values())
