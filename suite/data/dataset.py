"""From a dataset name to verified, split, decoded tensors: the one path every dataset takes, synthetic or real.

    prepare:  locate (or generate) → adapter index → verify against the lock → skip bad files (if allowed) → split
              (suite/data/prepare.py, free of torch: `data splits` and `data verify` stop there)
    load:     decoded-image cache (built once) → drop corrupt rows (if allowed) → per-split uint8 tensors + targets

A cell refuses data that does not match its lock entry unless `allow_unverified` (the matrix's train setting, or
`run --allow-unverified`, which the executor passes to every cell in its spec); the result records it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from suite.data.cache import CacheRequest, decoded_images, rows_digest
from suite.data.images import Geometry
from suite.data.lock import LockEntry
from suite.data.prepare import Prepared, dataset_root, prepare
from suite.data.splits import leakage
from suite.data.verify import content_signature

__all__ = ["Prepared", "Split", "TaskData", "dataset_root", "load_task_data", "prepare", "targets_of"]


@dataclass
class Split:
    images: torch.Tensor  # uint8, N×3×H×W
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
    record: dict[str, Any] = field(default_factory=dict)  # what the result stores under `data`

    @property
    def num_outputs(self) -> int:
        return self.entry.num_classes


def targets_of(labels: pd.Series, entry: LockEntry) -> torch.Tensor:
    """Class indices (int64), or for multilabel a float32 N×L 0/1 matrix from the `a|b` label strings."""
    class_of = {c: i for i, c in enumerate(entry.classes)}
    if entry.task != "multilabel":
        return torch.tensor(labels.map(class_of).to_numpy(dtype=np.int64))
    out = np.zeros((len(labels), len(entry.classes)), dtype=np.float32)
    for row, text in enumerate(labels):
        for label in filter(None, text.split("|")):
            out[row, class_of[label]] = 1.0
    return torch.from_numpy(out)


def load_task_data(
    name: str, size: int, resize: int | None = None, allow_unverified: bool = False
) -> TaskData:
    """Verified, split, decoded data for one cell: images at `size` (after an optional shorter-side resize)."""
    p = prepare(name, allow_unverified)
    e = p.entry
    g = Geometry(e.image.channels, size, resize if resize is not None else e.image.resize, e.image.intensity)
    paths = p.index["path"].tolist()
    members = p.index["member"].tolist() if "member" in p.index else [""] * len(paths)
    content = f"{e.digest.index}:{e.digest.files}" if p.verified else content_signature(p.root, paths)
    request = CacheRequest(name, content, g, rows_digest(paths, members))
    decoded = decoded_images(request, p.root, paths, members, e.bad_files)
    skipped, warnings = dict(p.skipped), list(p.warnings)
    if decoded.corrupt:
        skipped["corrupt"] = len(decoded.corrupt)
        warnings.append(f"bad_files: skip left out {len(decoded.corrupt)} image(s) that cannot be decoded")
    keep = np.ones(len(paths), dtype=bool)
    keep[list(decoded.corrupt)] = False
    targets = targets_of(p.index["label"], e)
    ids = (p.index["path"] + (("#" + p.index["member"]) if "member" in p.index else "")).tolist()
    splits = {}
    for split_name in ("train", "val", "test"):
        rows = np.flatnonzero((p.index["split"].to_numpy() == split_name) & keep)
        if len(rows):
            splits[split_name] = Split(
                images=torch.from_numpy(np.ascontiguousarray(decoded.images[rows])),
                targets=targets[rows],
                ids=[ids[i] for i in rows],
            )
    record = {
        "lock_digest": p.lock_digest,
        "verified": p.verified,
        "digest": e.digest.model_dump(),
        "root": str(p.root),
        "adapter": e.adapter.model_dump(),
        "split_recipe": e.split.model_dump(exclude_defaults=False),
        "split_sizes": {k: len(v) for k, v in splits.items()},
        "published_split_sizes": e.counts.splits,
        "patients_in_two_splits": len(leakage(p.index, p.index["split"])),
        "image": g.key(),
        "cache_key": decoded.key,
        "skipped": skipped,
        "notes": p.notes,
    }
    return TaskData(name, e, splits, p.lock_digest, p.verified, warnings, record)
