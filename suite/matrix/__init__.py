"""Matrix files: schema, located YAML loading, expansion into cells, filters and shards. Never imports torch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from suite.matrix.expand import Catalog, Cell, Expander
from suite.matrix.loader import find_matrix, load_with_includes, validate
from suite.matrix.schema import Matrix, TrainConfig

__all__ = ["Catalog", "Cell", "LoadedMatrix", "Matrix", "TrainConfig", "load_matrix"]


@dataclass
class LoadedMatrix:
    name: str
    path: Path
    spec: Matrix
    cells: list[Cell]


def load_matrix(name_or_path: str, catalog: Catalog) -> LoadedMatrix:
    """Find, read, validate and expand a matrix; any user mistake is a one-line `UserError`."""
    path = find_matrix(name_or_path)
    located = load_with_includes(path)
    spec = validate(located)
    cells = Expander(spec, located, catalog).expand()
    return LoadedMatrix(spec.name or path.stem, path, spec, cells)
