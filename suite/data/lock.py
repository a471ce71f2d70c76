"""`datasets.lock`: provenance, expected counts, split recipe, image policy and digests of every dataset.

One YAML file at the repository root, one entry per dataset. Cells refuse data whose files do not match their entry
(see `suite.data.verify`). The digest of the whole lock file is recorded in every result. Entries are edited by
hand; only `digest` (and `root`, with `data lock --root`) is written by the suite, in place, keeping comments
(`suite.data.lockfile`).
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from suite.errors import UserError, did_you_mean
from suite.paths import check_name

TaskType = Literal["binary", "multiclass", "multilabel"]
# The imaging modality; reports group datasets by it (issue 10).
Modality = Literal[
    "x-ray",
    "ct",
    "mri",
    "ultrasound",
    "oct",
    "histology",
    "microscopy",
    "dermoscopy",
    "endoscopy",
    "fundus",
    "other",
]
MODALITIES: tuple[str, ...] = Modality.__args__  # type: ignore[attr-defined]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitRecipe(_Strict):
    """How the index is cut into train/val/test: ratios per split, per stratum, rounded explicitly.

    Per stratum (a value of `stratify`), train gets `rounding(ratio × n)` images, then val, and the last split the
    remainder; units of `group` (patients) are never divided. `column` uses a split the dataset ships instead.
    """

    ratios: dict[str, float] = {}
    seed: int = 0
    stratify: str | None = "label"
    group: str | None = None
    rounding: Literal["floor", "round", "ceil"] = "floor"
    column: str | None = Field(None, description="use a split column of the index instead of computing one")
    note: str = Field("", description="where the recipe comes from (paper, section)")

    @model_validator(mode="after")
    def _ratios_sum_to_one(self) -> SplitRecipe:
        if self.column is not None:
            return self
        if not self.ratios:
            raise ValueError("split: give `ratios` (e.g. {train: 0.7, val: 0.3}) or a split `column`")
        if not set(self.ratios) <= {"train", "val", "test"}:
            raise ValueError(f"split names must be train, val and test, not {sorted(self.ratios)}")
        if any(r < 0 for r in self.ratios.values()):
            raise ValueError(f"split ratios {self.ratios} must not be negative")
        if abs(sum(self.ratios.values()) - 1.0) > 1e-6:
            raise ValueError(f"split ratios {self.ratios} sum to {sum(self.ratios.values()):g}, not 1")
        if not {"train", "val"} <= {k for k, v in self.ratios.items() if v > 0}:
            raise ValueError("split ratios need at least train and val (test is optional)")
        return self


class ImagePolicy(_Strict):
    """What every image becomes before caching (part of the cache key).

    `channels`: 3 = RGB; 1 = grey, replicated to 3 for ImageNet models. `resize`: shorter side before the centre
    crop to the cell's image size (a cell's own `resize` wins; none: straight resize to a square). `intensity`:
    `uint8` for 8-bit files; `minmax` rescales each image's own range to 0..255 (16-bit PNGs, MRI .mat arrays).
    """

    channels: Literal[1, 3] = 3
    resize: int | None = Field(None, ge=8)
    intensity: Literal["uint8", "minmax"] = "uint8"


class Source(_Strict):
    kind: Literal["generator", "download", "manual"]
    generator: str | None = None
    version: int | None = None
    params: dict[str, Any] = {}
    urls: list[str] = []
    citation: str | None = None


class Counts(_Strict):
    """Expected counts, from the papers where they give them (`note` says which); null where nobody published one."""

    total: int | None = Field(None, ge=1)
    per_class: dict[str, int] | None = None
    splits: dict[str, int] | None = Field(None, description="split sizes the split recipe must reproduce")
    note: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Counts:
        if self.per_class and self.total is not None and sum(self.per_class.values()) != self.total:
            raise ValueError(
                f"counts.per_class sums to {sum(self.per_class.values())}, total is {self.total}"
            )
        if self.splits and self.total is not None and sum(self.splits.values()) != self.total:
            raise ValueError(f"counts.splits sums to {sum(self.splits.values())}, total is {self.total}")
        return self


class Adapter(_Strict):
    name: str
    options: dict[str, Any] = {}


class Digest(_Strict):
    index: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    files: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    n_files: int | None = None


class LockEntry(_Strict):
    task: TaskType
    classes: list[str] = Field(min_length=2)
    label_map: dict[str, str] = Field(
        {}, description="raw label in the dataset's own files → class; empty: the files already use the names"
    )
    modality: Modality
    description: str
    licence: str
    access: str = Field(description="how to obtain the data: registration, terms, where to unpack it")
    source: Source
    counts: Counts = Counts()
    adapter: Adapter
    split: SplitRecipe
    image: ImagePolicy = ImagePolicy()
    metrics: list[str] = Field(min_length=1, description="primary metrics, best first; the first selects")
    bad_files: Literal["fail", "skip"] = Field(
        "fail",
        description="missing, extra or corrupt files: stop, or leave them out and count them in the result",
    )
    root: str | None = Field(
        None, description="folder under $MEDTL_DATA (or absolute); generated sets: the cache"
    )
    digest: Digest = Digest()

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @model_validator(mode="after")
    def _labels_known(self) -> LockEntry:
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"classes {self.classes} repeat a name")
        unknown = sorted(set(self.label_map.values()) - set(self.classes))
        if unknown:
            raise ValueError(f"label_map maps to {unknown}, which are not in classes {self.classes}")
        if self.counts.per_class and not set(self.counts.per_class) <= set(self.classes):
            raise ValueError(
                f"counts.per_class names {sorted(set(self.counts.per_class) - set(self.classes))}"
            )
        if self.task == "binary" and len(self.classes) != 2:
            raise ValueError(f"a binary task has 2 classes, not {len(self.classes)}")
        return self


class DatasetsLock(_Strict):
    version: Literal[1] = 1
    datasets: dict[str, LockEntry]

    @field_validator("datasets")
    @classmethod
    def _safe_names(cls, value: dict[str, LockEntry]) -> dict[str, LockEntry]:
        """A dataset's name becomes folder names (`$MEDTL_DATA/<name>`, the cache, cell slugs): one safe path
        component each, never `../x` (suite.paths.check_name)."""
        for name in value:
            try:
                check_name("dataset name", name)
            except UserError as exc:
                raise ValueError(exc.message) from None
        return value


def lock_path() -> Path:
    """`$MEDTL_LOCK`, else `datasets.lock` in the working directory, else the one beside the package."""
    if "MEDTL_LOCK" in os.environ:
        return Path(os.environ["MEDTL_LOCK"])
    local = Path.cwd() / "datasets.lock"
    return local if local.is_file() else Path(__file__).resolve().parents[2] / "datasets.lock"


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}"


@lru_cache(maxsize=4)
def _load(path: Path, mtime_ns: int) -> tuple[DatasetsLock, str]:
    raw = path.read_bytes()
    try:
        lock = DatasetsLock.model_validate(yaml.safe_load(raw))
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: invalid YAML: {str(exc).splitlines()[0]}") from None
    except ValidationError as exc:
        raise UserError(f"{path}: invalid datasets.lock entry: {_first_error(exc)}") from None
    return lock, hashlib.sha256(raw).hexdigest()


def load_lock(path: Path | None = None) -> tuple[DatasetsLock, str]:
    """The parsed lock and the sha256 of its bytes."""
    path = path or lock_path()
    if not path.is_file():
        raise UserError(f"datasets.lock not found at {path}; set MEDTL_LOCK or run from the repository root")
    return _load(path, path.stat().st_mtime_ns)


def clear_cache() -> None:
    _load.cache_clear()


def lock_entry(name: str) -> LockEntry:
    lock, _ = load_lock()
    if name not in lock.datasets:
        raise UserError(f"dataset: {did_you_mean(name, lock.datasets)}")
    return lock.datasets[name]
