"""Matrix files: schema, located YAML loading, expansion into cells, filters and shards. Never imports torch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from suite.errors import UserError
from suite.matrix.cell import Cell, CellConfig
from suite.matrix.expand import DEFAULT_MAX_CELLS, Catalog, Expander, check_report_names, too_many_cells
from suite.matrix.loader import Located, find_matrix, load_with_includes, sibling_file, validate
from suite.matrix.schema import Matrix, TrainConfig
from suite.paths import name_problem

__all__ = [
    "DEFAULT_MAX_CELLS",
    "Catalog",
    "Cell",
    "CellConfig",
    "LoadedMatrix",
    "Matrix",
    "TrainConfig",
    "load_matrix",
]


@dataclass
class LoadedMatrix:
    name: str
    path: Path
    spec: Matrix
    cells: list[Cell]


def load_matrix(
    name_or_path: str,
    catalog: Catalog,
    _seen: tuple[Path, ...] = (),
    max_cells: int = DEFAULT_MAX_CELLS,
) -> LoadedMatrix:
    """Find, read, validate and expand a matrix of at most `max_cells` cells; any user mistake is a one-line
    `UserError`."""
    path = find_matrix(name_or_path)
    located = load_with_includes(path)
    spec = validate(located)
    name = spec.name or path.stem
    problem = name_problem(name)
    if problem:  # `name:` was checked by the schema; this is the file's name standing in for it
        raise UserError(
            f"matrix name {name!r} (the file's name) {problem}; set `name:` in the file", where=str(path)
        )
    check_report_names(spec, located, catalog)
    if spec.union:
        cells = _union(path, spec, located, catalog, (*_seen, path.resolve()), max_cells)
    else:
        cells = Expander(spec, located, catalog, max_cells).expand()
    return LoadedMatrix(name, path, spec, cells)


def _union(
    path: Path, spec: Matrix, located: Located, catalog: Catalog, seen: tuple[Path, ...], max_cells: int
) -> list[Cell]:
    """The cells of every listed matrix, each expanded with its own settings; a cell in two of them runs once.

    `include:` cannot do this: it merges one file's keys under another's, so each paper's `train:` and `grids:`
    would overwrite the others'.
    """
    cells: dict[str, Cell] = {}
    for i, rel in enumerate(spec.union):
        member = sibling_file(path, rel, "union", located.where(("union", i)), "matrix file")
        if member in seen:
            raise UserError(f"union cycle: {' -> '.join(p.name for p in (*seen, member))}")
        for cell in load_matrix(str(member), catalog, seen, max_cells).cells:
            cells.setdefault(cell.id, cell)
        if len(cells) > max_cells:
            raise UserError(too_many_cells(f"more than {max_cells:,}", max_cells), where=str(path))
    return list(cells.values())
