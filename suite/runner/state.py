"""Where a matrix's cells keep their state, and which cells still need to run (resume).

results/<matrix>/runs/<slug>.json   the result (committed, published); <slug>.npz its test predictions
results/<matrix>/work/<slug>/       cell.json, log.txt, progress.json, best.pt, lock  (git-ignored)
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from suite.matrix import Cell
from suite.results import read_result


@dataclass(frozen=True)
class RunPaths:
    root: Path  # results/<matrix>

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def work(self) -> Path:
        return self.root / "work"

    def result(self, cell: Cell) -> Path:
        return self.runs / f"{cell.slug}.json"

    def predictions(self, cell: Cell) -> Path:
        return self.runs / f"{cell.slug}.npz"

    def cell_dir(self, cell: Cell) -> Path:
        return self.work / cell.slug

    def checkpoint(self, cell: Cell) -> Path:
        return self.cell_dir(cell) / "best.pt"

    def log(self, cell: Cell) -> Path:
        return self.cell_dir(cell) / "log.txt"

    def progress(self, cell: Cell) -> Path:
        return self.cell_dir(cell) / "progress.json"

    def spec(self, cell: Cell) -> Path:
        return self.cell_dir(cell) / "cell.json"


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


def plan(cells: list[Cell], paths: RunPaths, retry_failed: bool = True) -> tuple[list[Cell], list[Cell]]:
    """(to run, already done). A finished parent runs again only if a pending child needs its lost checkpoint."""
    status = {c.id: status_of(paths, c) for c in cells}
    pending = {
        c.id for c in cells if status[c.id] == "missing" or (retry_failed and status[c.id] == "failed")
    }
    by_id = {c.id: c for c in cells}
    for cell in cells:
        if cell.id in pending:
            for pid in cell.parents:
                if pid not in pending and not paths.checkpoint(by_id[pid]).is_file():
                    pending.add(pid)
    return [c for c in cells if c.id in pending], [c for c in cells if c.id not in pending]


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
