"""MedMNIST v2 / MedMNIST+ `.npz` files, read from a local root (`data fetch` downloads them), at any published size."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from suite.data.adapters import Options, adapter
from suite.data.lock import LockEntry
from suite.errors import UserError

SPLITS = {"train": "train", "val": "val", "test": "test"}


class MedmnistOptions(Options):
    flag: str = Field(description="the MedMNIST flag, e.g. pathmnist, chestmnist, dermamnist")
    size: Literal[28, 64, 128, 224] = Field(
        28, description="28: `<flag>.npz`; MedMNIST+: `<flag>_<size>.npz`"
    )
    file: str | None = Field(None, description="override the file name")


def npz_name(opts: MedmnistOptions) -> str:
    return opts.file or (f"{opts.flag}.npz" if opts.size == 28 else f"{opts.flag}_{opts.size}.npz")


def _labels(archive: Path, split: str) -> np.ndarray:
    with np.load(archive) as z:
        needed = {f"{split}_images", f"{split}_labels"}
        if not needed <= set(z.files):
            raise UserError(f"{archive}: no {sorted(needed - set(z.files))}; arrays are {sorted(z.files)}")
        labels = np.asarray(z[f"{split}_labels"])
    return labels.reshape(len(labels), -1)


def _raw_labels(labels: np.ndarray, multilabel: bool) -> list[str]:
    if not multilabel:
        return [str(int(v)) for v in labels[:, 0]]
    return ["|".join(str(j) for j in np.flatnonzero(row)) for row in labels]


def _files(opts: MedmnistOptions) -> list[str]:
    return [npz_name(opts)]


@adapter("medmnist", MedmnistOptions, columns=("split",), files=_files)
def medmnist(root: Path, opts: MedmnistOptions, entry: LockEntry) -> pd.DataFrame:
    """MedMNIST (Yang et al. 2023): one `.npz` per flag with `{train,val,test}_{images,labels}` arrays.

    Layout (the `medmnist` package's files, zenodo 10519652): `<root>/pathmnist.npz` (28 px) or
    `<root>/pathmnist_224.npz` (MedMNIST+); images uint8 N×H×W (grey) or N×H×W×3, labels N×1 class ids (N×14
    0/1 for chestmnist). Rows are addressed as `npz:<split>_images:<row>`; the official split is kept.
    """
    name = npz_name(opts)
    archive = (
        root / name
    )  # its presence is checked before (`files`), with the dataset's name and how to get it
    if not zipfile.is_zipfile(archive):
        raise UserError(f"{archive} is not an .npz archive (corrupt or incomplete download?)")
    frames = []
    for split, key in SPLITS.items():
        labels = _labels(archive, key)
        frames.append(
            pd.DataFrame(
                {
                    "path": name,
                    "member": [f"npz:{key}_images:{i}" for i in range(len(labels))],
                    "label": _raw_labels(labels, entry.task == "multilabel"),
                    "split": split,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
