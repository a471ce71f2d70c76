"""From a dataset name to verified, split, decoded tensors: the one path every dataset takes, synthetic or real."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from suite.data.adapters import ADAPTERS
from suite.data.cache import decoded_images
from suite.data.lock import LockEntry, load_lock, lock_entry
from suite.data.materialise import materialise
from suite.data.splits import assign_splits, check_not_empty
from suite.data.verify import verify
from suite.errors import DataVerificationError
from suite.paths import data_root

log = logging.getLogger(__name__)


@dataclass
class Split:
    images: torch.Tensor  # uint8, N×3×H×W (a view on the memory-mapped cache)
    targets: torch.Tensor  # int64 class indices, or float32 N×L for multilabel
    ids: list[str]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class TaskData:
    name: str
    entry: LockEntry
    splits: dict[str, Split]
    lock_digest: str
    verified: bool
    warnings: list[str] = field(default_factory=list)

    @property
    def num_outputs(self) -> int:
        return self.entry.num_classes


@dataclass
class Prepared:
    name: str
    entry: LockEntry
    root: Path
    index: pd.DataFrame
    lock_digest: str
    verified: bool
    warnings: list[str]


def prepare(name: str, allow_unverified: bool = False) -> Prepared:
    """Locate (or generate), index and verify a dataset, and assign its splits."""
    _, lock_digest = load_lock()
    entry = lock_entry(name)
    root = (
        materialise(name, entry) if entry.source.kind == "generator" else data_root() / (entry.root or name)
    )
    index = ADAPTERS.get(entry.adapter.name)(root, entry)
    warnings: list[str] = []
    verified = True
    try:
        verify(name, entry, root, index)
    except DataVerificationError as exc:
        if not allow_unverified:
            raise
        verified = False
        warnings.append(f"unverified data (--allow-unverified): {exc}")
    index = index.assign(split=assign_splits(index, entry.split).to_numpy())
    check_not_empty(index, index["split"], entry.classes)
    return Prepared(name, entry, root, index, lock_digest, verified, warnings)


def load_task_data(
    name: str, size: int, resize: int | None = None, allow_unverified: bool = False
) -> TaskData:
    """Verified, split, decoded data for one cell: images at `size` (after an optional shorter-side resize)."""
    p = prepare(name, allow_unverified)
    digest = f"{p.entry.digest.index}:{p.entry.digest.files}"
    images = decoded_images(
        name, digest, p.root, p.index["path"].tolist(), p.entry.image.channels, size, resize
    )
    class_of = {c: i for i, c in enumerate(p.entry.classes)}
    targets = torch.tensor(p.index["label"].map(class_of).to_numpy(dtype=np.int64))
    splits = {}
    for split_name in ("train", "val", "test"):
        rows = np.flatnonzero(p.index["split"].to_numpy() == split_name)
        if len(rows) == 0:
            continue
        splits[split_name] = Split(
            images=torch.from_numpy(np.ascontiguousarray(images[rows])),
            targets=targets[rows],
            ids=p.index["path"].iloc[rows].tolist(),
        )
    return TaskData(name, p.entry, splits, p.lock_digest, p.verified, p.warnings)
