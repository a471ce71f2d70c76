"""From a dataset name to verified, split, decoded tensors: the one path every dataset takes, synthetic or real.

    prepare:  locate (or generate) → adapter index → verify against the lock → skip bad files (if allowed) → split
    load:     decoded-image cache (built once) → drop corrupt rows (if allowed) → per-split uint8 tensors + targets

A cell refuses data that does not match its lock entry unless `allow_unverified` (the matrix's train setting, or
`run --allow-unverified`, which the executor passes to every cell in its spec); the result records it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from suite.data.adapters import build_index
from suite.data.cache import CacheRequest, decoded_images, rows_digest
from suite.data.images import Geometry
from suite.data.lock import LockEntry, load_lock, lock_entry
from suite.data.materialise import materialise
from suite.data.splits import assign_splits, check_not_empty, leakage
from suite.data.verify import check, content_signature
from suite.errors import DataVerificationError
from suite.paths import data_root


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
