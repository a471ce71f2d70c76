"""Locate, index, verify and split a dataset: everything before the pixels, and nothing that needs torch.

    prepare:  locate (or generate) → adapter index → verify against the lock → skip bad files (if allowed) → split

`data splits`, `data verify` and `data lock` stop here, so they never import torch; `suite.data.dataset` goes on to
the decoded tensors a cell trains on. A cell refuses data that does not match its lock entry unless
`allow_unverified`; the result records it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from suite.data.adapters import build_index, expected_files
from suite.data.lock import LockEntry, load_lock, lock_entry
from suite.data.materialise import materialise
from suite.data.splits import assign_splits, check_not_empty
from suite.data.verify import check
from suite.errors import DataVerificationError
from suite.paths import data_root


@dataclass
class Prepared:
    name: str
    entry: LockEntry
    root: Path
    index: pd.DataFrame  # with a `split` column
    lock_digest: str
    verified: bool
    warnings: list[str]
    skipped: dict[str, int]
    notes: list[str]


def dataset_root(name: str, entry: LockEntry) -> Path:
    """Generated sets live in the cache; real ones under $MEDTL_DATA/<root or name>, or at an absolute `root`."""
    if entry.source.kind == "generator":
        return materialise(name, entry)
    root = Path(entry.root or name).expanduser()
    return root if root.is_absolute() else data_root() / root


def installed(name: str, entry: LockEntry) -> bool:
    """Is any of the dataset on this machine? Generated sets always are (made on demand); a real one when its root
    exists and, where the adapter names its files, one of them is there (MedMNIST's datasets share one folder)."""
    if entry.source.kind == "generator":
        return True
    root = dataset_root(name, entry)
    files = expected_files(entry, name)
    return root.is_dir() and (files is None or any((root / f).is_file() for f in files))


def prepare(name: str, allow_unverified: bool = False) -> Prepared:
    """Locate, index and verify a dataset, apply its bad-file policy, and assign its splits."""
    _, lock_digest = load_lock()
    entry = lock_entry(name)
    root = dataset_root(name, entry)
    built = build_index(root, entry, name)
    index, warnings, skipped = built.index, [], {}
    result = check(name, entry, root, index)
    verified = result.ok
    if not result.ok:
        drop = set(result.missing)
        if entry.bad_files == "skip" and result.ok_skipping:
            drop |= set(result.extra)
            verified = True  # every file kept matches the lock
            skipped = {"missing": len(result.missing), "extra": len(result.extra)}
            warnings.append(
                f"bad_files: skip left out {len(result.missing)} missing, {len(result.extra)} extra file(s)"
            )
        elif allow_unverified:
            skipped = {"missing": len(result.missing)} if result.missing else {}
            warnings.append(f"unverified data (--allow-unverified): {result.summary()}")
        else:
            raise DataVerificationError(
                f"{result.summary()}; `medtl-bench data verify {name}` lists them, `--allow-unverified` trains anyway"
            )
        index = index[~index["path"].isin(drop)].reset_index(drop=True)
    splits = assign_splits(index, entry.split)
    check_not_empty(index, splits, entry.classes, entry.task, name)
    index = index.assign(split=splits.to_numpy())
    return Prepared(name, entry, root, index, lock_digest, verified, warnings, skipped, built.notes)
