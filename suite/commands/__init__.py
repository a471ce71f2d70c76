"""What each CLI verb does, in terms of the modules that own the work; one module per verb.

    run.py       run a matrix (or print its cells with --dry-run), then write its report
    report.py    write the leaderboard of a results folder (and compare with an older one)
    listing.py   what is registered: datasets, architectures, strategies
    profile.py   one model's cost without data
    weights.py   fetch pretrained weights on an online machine
    data.py      make, lock, verify, add and inspect datasets
    analyze.py   CAM and SVCCA of finished cells

`load_checked` is how every verb reads a matrix: every name resolved against the registries (the report's table
names too), every dataset's primary metrics valid for its task.
"""

from __future__ import annotations

from suite.catalog import SuiteCatalog
from suite.data.lock import lock_entry
from suite.errors import UserError
from suite.matrix import DEFAULT_MAX_CELLS, LoadedMatrix, load_matrix
from suite.metrics import check_task_metrics


def _table_names() -> list[str]:
    from suite.report.tables import TABLES  # registers every table; pandas comes with it

    return TABLES.names()


def load_checked(name: str, max_cells: int = DEFAULT_MAX_CELLS) -> LoadedMatrix:
    """Find, validate and expand a matrix (of at most `max_cells` cells); any mistake is a one-line `UserError`
    naming its file."""
    matrix = load_matrix(name, SuiteCatalog(tables=_table_names), max_cells=max_cells)
    seen = {(c.config.dataset.name, tuple(c.config.dataset.metrics)) for c in matrix.cells}
    for dataset, metrics in sorted(seen):
        try:
            check_task_metrics(lock_entry(dataset).task, list(metrics), dataset)
        except UserError as exc:
            raise UserError(exc.message, where=str(matrix.path)) from None
    return matrix
