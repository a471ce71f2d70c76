"""Dataset adapters: read a dataset in its published layout into one index table.

An adapter returns a DataFrame with at least `path` (relative to the dataset root, never escaping it) and `label`
(a class name), plus `patient` where the data has one. More adapters arrive with the real-datasets work.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from suite.data.lock import LockEntry
from suite.errors import UserError
from suite.registry import Registry

Adapter = Callable[[Path, LockEntry], pd.DataFrame]
ADAPTERS: Registry[Adapter] = Registry("dataset adapter")


@ADAPTERS.register("csv-index")
def csv_index(root: Path, entry: LockEntry) -> pd.DataFrame:
    """`index.csv` (or `options.file`) with `path`, `label` and optional `patient` columns."""
    file = root / entry.adapter.options.get("file", "index.csv")
    if not file.is_file():
        raise UserError(f"index file {file} not found")
    index = pd.read_csv(file, dtype=str, keep_default_na=False)
    for column in ("path", "label"):
        if column not in index:
            raise UserError(f"{file}: no {column!r} column; columns are {list(index.columns)}")
    unknown = sorted(set(index["label"]) - set(entry.classes))
    if unknown:
        raise UserError(f"{file}: label(s) {unknown[:5]} are not in the lock's classes {entry.classes}")
    return index
