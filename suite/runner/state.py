"""Which cells still need to run (resume), and the per-cell lock that keeps two drivers off one cell.

The folder layout is suite/results/layout.py (`RunPaths`).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from suite.matrix import Cell
from suite.results import RunPaths, remove_temps_of, status_of


def plan(
    cells: list[Cell], paths: RunPaths, retry_failed: bool = True, recompute: bool = False
) -> tuple[list[Cell], list[Cell], list[Cell]]:
    """(to run, already done, failed before and kept). A finished parent runs again only if a pending child needs
    its lost checkpoint; with `recompute` every cell runs again (`run --recompute`, e.g. to rebuild the
    checkpoints an analysis reads; a finished result is replaced only by a finished one). The kept failures
    (`retry_failed=False`) are their own list so that the run's summary and exit code cannot count them as done."""
    status = {c.id: status_of(paths, c) for c in cells}
    pending = {
        c.id
        for c in cells
        if recompute or status[c.id] == "missing" or (retry_failed and status[c.id] == "failed")
    }
    by_id = {c.id: c for c in cells}
    for cell in cells:
        if cell.id in pending:
            for pid in cell.parents:
                if pid not in pending and not paths.checkpoint(by_id[pid]).is_file():
                    pending.add(pid)
    todo = [c for c in cells if c.id in pending]
    done = [c for c in cells if c.id not in pending and status[c.id] == "ok"]
    kept = [c for c in cells if c.id not in pending and status[c.id] == "failed"]
    return todo, done, kept


class CellLock:
    """An exclusive, non-blocking lock per cell, so two drivers (shards, an orphan) never run the same cell.

    The kernel drops a `flock` when its holder dies, even by SIGKILL, so a crash never leaves a stale lock.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def sweep_cell(paths: RunPaths, cell: Cell) -> None:
    """Remove the temporary files a killed writer left among the cell's own files (its work folder, its result and
    predictions). Only while holding the cell's `CellLock`, when no live process may be writing them."""
    remove_temps_of(paths.cell_dir(cell))
    result = paths.result(cell)
    remove_temps_of(result.parent, [result.name, paths.predictions(cell).name])
