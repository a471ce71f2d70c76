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
from suite.paths import check_name, is_packaged, shipped

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


SPLITS = ("train", "val", "test")


class Carve(_Strict):
    """Move `ratio` of one split's images (per stratum, groups whole, the recipe's seed and rounding) to another:
    a validation set carved from the official training set, when the official evaluation set becomes the test."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)

    from_: str = Field(alias="from")
    into: str
    ratio: float = Field(gt=0, lt=1)


class SplitRecipe(_Strict):
    """How the index is cut into train/val/test: ratios per split, per stratum, rounded explicitly.

    Per stratum (a value of `stratify`), train gets `rounding(ratio × n)` images, then val, and the last split the
    remainder; units of `group` (patients) are never divided. `column` uses a split the dataset ships instead.
    Then `rename` renames splits (`{val: test}`: the official evaluation set is held out as the test), and `carve`
    cuts a new split out of one (a validation set from the training set). Every recipe ends with train and val;
    one without test reproduces a protocol that has no held-out split, and the report says so wherever it prints
    such a dataset's numbers ("validation, not held out").
    """

    ratios: dict[str, float] = {}
    seed: int = 0
    stratify: str | None = "label"
    group: str | None = None
    rounding: Literal["floor", "round", "ceil"] = "floor"
    column: str | None = Field(None, description="use a split column of the index instead of computing one")
    rename: dict[str, str] = Field(
        {}, description="rename splits after the column or ratios, e.g. {val: test}"
    )
    carve: Carve | None = Field(None, description="cut a new split out of one, e.g. val from train")
    note: str = Field("", description="where the recipe comes from (paper, section)")

    @model_validator(mode="after")
    def _ratios_sum_to_one(self) -> SplitRecipe:
        if self.column is None:
            if not self.ratios:
                raise ValueError("split: give `ratios` (e.g. {train: 0.7, val: 0.3}) or a split `column`")
            if not set(self.ratios) <= set(SPLITS):
                raise ValueError(f"split names must be train, val and test, not {sorted(self.ratios)}")
            if any(r < 0 for r in self.ratios.values()):
                raise ValueError(f"split ratios {self.ratios} must not be negative")
            if abs(sum(self.ratios.values()) - 1.0) > 1e-6:
                raise ValueError(f"split ratios {self.ratios} sum to {sum(self.ratios.values()):g}, not 1")
        named = [
            *self.rename,
            *self.rename.values(),
            *([self.carve.from_, self.carve.into] if self.carve else []),
        ]
        if not set(named) <= set(SPLITS):
            raise ValueError(
                f"split names must be train, val and test, not {sorted(set(named) - set(SPLITS))}"
            )
        if self.column is None and not {"train", "val"} <= self.final_splits():
            raise ValueError("the split recipe must end with at least train and val (test is optional)")
        return self

    def final_splits(self) -> set[str]:
        """The splits the recipe ends with (for ratio recipes; a column's values are only known from the data)."""
        found = {self.rename.get(k, k) for k, v in self.ratios.items() if v > 0}
        return found | ({self.carve.into} if self.carve else set())


class ImagePolicy(_Strict):
    """What every image becomes before caching (part of the cache key).

    `channels`: 3 = RGB; 1 = grey, replicated to 3 for ImageNet models. `resize`: shorter side before the centre
    crop to the cell's image size (a cell's own `resize` wins; none: straight resize to a square). `intensity`:
    `uint8` for 8-bit files; `minmax` rescales each image's own range to 0..255 (16-bit PNGs, MRI .mat arrays).
    """

    channels: Literal[1, 3] = 3
    resize: int | None = Field(None, ge=8)
    intensity: Literal["uint8", "minmax"] = "uint8"


class RemoteFile(_Strict):
    """One file `data fetch` downloads: its public URL and the checksum its publisher gives (md5 or sha256)."""

    url: str = Field(pattern=r"^(https?|ftp)://")
    md5: str | None = Field(None, pattern=r"^[0-9a-f]{32}$")
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _has_checksum(self) -> RemoteFile:
        if not (self.md5 or self.sha256):
            raise ValueError(
                f"{self.url}: give the published md5 or sha256; `data fetch` checks every download"
            )
        return self

    @property
    def known_hash(self) -> str:
        """pooch's `algorithm:hex` form."""
        return f"sha256:{self.sha256}" if self.sha256 else f"md5:{self.md5}"


class Source(_Strict):
    kind: Literal["generator", "download", "manual"]
    generator: str | None = None
    version: int | None = None
    params: dict[str, Any] = {}
    urls: list[str] = Field([], description="where a person finds the data (pages, records)")
    files: dict[str, RemoteFile] = Field(
        {},
        description="file name under the dataset root → its public URL and checksum: what `data fetch` downloads",
    )
    note: str = Field("", description="where `files` come from")
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
    """`$MEDTL_LOCK`, else `datasets.lock` in the working directory, else the checkout's, else the one the
    installed package carries."""
    if "MEDTL_LOCK" in os.environ:
        return Path(os.environ["MEDTL_LOCK"])
    local = Path.cwd() / "datasets.lock"
    return local if local.is_file() else shipped("datasets.lock")


def writable_lock_path() -> Path:
    """The lock a command may edit (`data add`, `data fetch`, `data lock`): never the installed package's copy."""
    path = lock_path()
    if is_packaged(path):
        raise UserError(
            f"the datasets.lock in use is the installed package's copy ({path}); copy it beside your data first "
            f"(`cp {path} datasets.lock` and `cp -r {path.parent / 'datasets.lock.d'} .`, or set MEDTL_LOCK), "
            "then run this again from that folder"
        )
    return path


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}"


def resolve_likes(raw: Any) -> Any:
    """Entries with `like: <name>` take that entry's fields and override some (`split`, `counts`, `description`):
    the same files under another protocol (`chexpert-davila`: Davila's split of `chexpert`'s data). The files stay
    where the original's are: `root` defaults to the original's root or name."""
    datasets = raw.get("datasets") if isinstance(raw, dict) else None
    if not isinstance(datasets, dict):
        return raw

    def resolve(name: str, seen: tuple[str, ...]) -> Any:
        entry = datasets[name]
        base = entry.get("like") if isinstance(entry, dict) else None
        if base is None:
            return entry
        if base not in datasets:
            raise UserError(f"datasets.lock: {name}: like: {did_you_mean(str(base), datasets)}")
        if base in seen:
            raise UserError(f"datasets.lock: `like:` cycle: {' -> '.join((*seen, name, base))}")
        parent = resolve(base, (*seen, name))
        own = {k: v for k, v in entry.items() if k != "like"}
        return {**parent, "root": parent.get("root") or base, **own}

    return {**raw, "datasets": {name: resolve(name, ()) for name in datasets}}


def parse_lock(text: str | bytes) -> DatasetsLock:
    """The lock's YAML, its `like:` entries resolved, validated (raises yaml.YAMLError or ValidationError)."""
    # libyaml's loader where PyYAML was built with it: the 1,000-line lock parses ~10× faster (every verb reads it)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return DatasetsLock.model_validate(resolve_likes(yaml.load(text, Loader=loader)))


@lru_cache(maxsize=4)
def _load(path: Path, mtime_ns: int) -> tuple[DatasetsLock, str]:
    raw = path.read_bytes()
    try:
        lock = parse_lock(raw)
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


def how_to_get(name: str, entry: LockEntry) -> str:
    """How a dataset gets onto this machine, in the fewest words: the command, or the entry's access steps."""
    if entry.source.kind == "generator":
        return f"`medtl-bench data make {name}` generates it"
    if entry.source.files:
        return f"`medtl-bench data fetch {name}` downloads it"
    return entry.access


def lock_entry(name: str) -> LockEntry:
    lock, _ = load_lock()
    if name not in lock.datasets:
        raise UserError(f"dataset: {did_you_mean(name, lock.datasets)}")
    return lock.datasets[name]
