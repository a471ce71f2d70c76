"""`datasets.lock`: provenance, expected counts, split recipe, image policy and digests of every dataset.

One YAML file at the repository root, one entry per dataset. Cells refuse data whose files do not match their entry
(see `suite.data.verify`). The digest of the whole lock file is recorded in every result.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from suite.errors import UserError, did_you_mean

TaskType = Literal["binary", "multiclass", "multilabel"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitRecipe(_Strict):
    """How the index is cut into train/val/test: ratios per split, per stratum, rounded explicitly."""

    ratios: dict[str, float]
    seed: int = 0
    stratify: str | None = "label"
    group: str | None = None
    rounding: Literal["floor", "round", "ceil"] = "floor"
    column: str | None = Field(None, description="use a split column of the index instead of computing one")

    @model_validator(mode="after")
    def _ratios_sum_to_one(self) -> SplitRecipe:
        if self.column is None and abs(sum(self.ratios.values()) - 1.0) > 1e-6:
            raise ValueError(f"split ratios {self.ratios} sum to {sum(self.ratios.values()):g}, not 1")
        if self.column is None and not {"train", "val"} <= {k for k, v in self.ratios.items() if v > 0}:
            raise ValueError("split ratios need at least train and val (test is optional)")
        if self.column is None and not set(self.ratios) <= {"train", "val", "test"}:
            raise ValueError(f"split names must be train, val and test, not {sorted(self.ratios)}")
        return self


class ImagePolicy(_Strict):
    """What every image is turned into before caching: RGB (3 channels) or grey replicated to 3."""

    channels: Literal[1, 3] = 3
    resize: int | None = None
    crop: int | None = None


class Source(_Strict):
    kind: Literal["generator", "download", "manual"]
    generator: str | None = None
    version: int | None = None
    params: dict[str, Any] = {}
    urls: list[str] = []


class Counts(_Strict):
    total: int
    per_class: dict[str, int] | None = None


class Adapter(_Strict):
    name: str
    options: dict[str, Any] = {}


class Digest(_Strict):
    index: str | None = None
    files: str | None = None
    n_files: int | None = None


class LockEntry(_Strict):
    task: TaskType
    classes: list[str]
    modality: str
    description: str
    licence: str
    access: str
    source: Source
    counts: Counts
    adapter: Adapter
    split: SplitRecipe
    image: ImagePolicy = ImagePolicy()
    metrics: list[str] = Field(min_length=1, description="primary metrics, best first; the first selects")
    root: str | None = Field(None, description="folder under $MEDTL_DATA; generated sets live in the cache")
    digest: Digest = Digest()

    @property
    def num_classes(self) -> int:
        return len(self.classes)


class DatasetsLock(_Strict):
    version: Literal[1] = 1
    datasets: dict[str, LockEntry]


def lock_path() -> Path:
    """`$MEDTL_LOCK`, else `datasets.lock` in the working directory, else the one beside the package."""
    if "MEDTL_LOCK" in os.environ:
        return Path(os.environ["MEDTL_LOCK"])
    local = Path.cwd() / "datasets.lock"
    return local if local.is_file() else Path(__file__).resolve().parents[2] / "datasets.lock"


@lru_cache(maxsize=4)
def _load(path: Path, mtime_ns: int) -> tuple[DatasetsLock, str]:
    raw = path.read_bytes()
    try:
        lock = DatasetsLock.model_validate(yaml.safe_load(raw))
    except (yaml.YAMLError, ValidationError) as exc:
        first = str(exc).splitlines()[0:3]
        raise UserError(f"{path}: invalid datasets.lock: {' '.join(first)}") from None
    return lock, hashlib.sha256(raw).hexdigest()


def load_lock(path: Path | None = None) -> tuple[DatasetsLock, str]:
    """The parsed lock and the sha256 of its bytes."""
    path = path or lock_path()
    if not path.is_file():
        raise UserError(f"datasets.lock not found at {path}; set MEDTL_LOCK or run from the repository root")
    return _load(path, path.stat().st_mtime_ns)


def lock_entry(name: str) -> LockEntry:
    lock, _ = load_lock()
    if name not in lock.datasets:
        raise UserError(f"dataset: {did_you_mean(name, lock.datasets)}")
    return lock.datasets[name]


_HEADER = """\
# datasets.lock: one entry per dataset. Edit by hand except `digest`, which `medtl-bench data lock NAME` fills.
# Schema: suite/data/lock.py (LockEntry). The sha256 of this file is recorded with every result.
"""


def write_entry_digest(name: str, digest: Digest, path: Path | None = None) -> None:
    """Fill one entry's digest, rewriting the file in a stable key order (atomically)."""
    path = path or lock_path()
    raw = yaml.safe_load(path.read_text())
    if name not in raw.get("datasets", {}):
        raise UserError(f"{path}: no entry {name!r} to write a digest into")
    raw["datasets"][name]["digest"] = digest.model_dump()
    DatasetsLock.model_validate(raw)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        _HEADER + yaml.safe_dump(raw, sort_keys=False, width=110, allow_unicode=True, default_flow_style=None)
    )
    tmp.replace(path)
    _load.cache_clear()
