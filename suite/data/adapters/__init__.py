"""Dataset adapters: read a dataset in its published layout into one index table.

An adapter returns a DataFrame with `path` (relative to the dataset root, POSIX, never escaping it) and `label`
(the dataset's own raw label; multilabel: raw labels joined by `|`), plus the columns it declares: `patient` (the
grouping unit), `split` (a split the dataset ships), `member` (an image inside a container file: `npz:<array>:<row>`,
`mat:<dataset>`, `box:<x0>,<y0>,<x1>,<y1>`), and anything else worth stratifying on. `build_index` then applies the
lock's label map, checks every path stays inside the root, and returns the index every later step uses.

Every adapter is tested on a fixture written in the dataset's real layout (tests/test_data_adapters.py).
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from suite.data.lock import LockEntry, how_to_get
from suite.errors import UserError, did_you_mean
from suite.registry import Registry

IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".ppm", ".pgm"}
)


class Options(BaseModel):
    """Base of every adapter's options (the lock entry's `adapter.options`); unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Reader = Callable[[Path, Any, LockEntry], pd.DataFrame]
FileList = Callable[[Any], list[str]]


@dataclass(frozen=True)
class AdapterSpec:
    read: Reader
    options: type[Options]
    columns: tuple[str, ...]
    summary: str
    files: FileList | None = None  # the files under the root it reads, known from its options alone


ADAPTERS: Registry[AdapterSpec] = Registry("dataset adapter")


def adapter(
    name: str, options: type[Options] = Options, columns: tuple[str, ...] = (), files: FileList | None = None
):
    """Register `read(root, options, entry) -> DataFrame` under `name`; `columns` are the extra index columns.

    `files(options)`, for layouts of a few fixed files (MedMNIST's one `.npz`), names them: `data fetch` downloads
    exactly those, and `data verify` tells a dataset that is not installed from one that is incomplete.
    """

    def register(read: Reader) -> Reader:
        summary = (read.__doc__ or name).strip().splitlines()[0]
        ADAPTERS.add(name, AdapterSpec(read, options, columns, summary, files))
        return read

    return register


# --- helpers shared by the adapters -------------------------------------------------------------------------


def list_files(root: Path, under: str = "", suffixes: Iterable[str] = IMAGE_SUFFIXES) -> list[str]:
    """Relative POSIX paths of the files below `root/under` with one of `suffixes`, sorted; hidden files skipped."""
    base = root / under
    if not base.is_dir():
        raise UserError(f"folder {base} not found; check the dataset root and the adapter options")
    wanted = {s.lower() for s in suffixes}
    found = []
    for folder, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        rel = Path(folder).relative_to(root).as_posix()
        for f in files:
            if not f.startswith(".") and Path(f).suffix.lower() in wanted:
                found.append(f if rel == "." else f"{rel}/{f}")
    return sorted(found)


def read_table(path: Path, **kwargs: Any) -> pd.DataFrame:
    """A CSV as strings (blank cells stay ""), with a one-line error when it is missing or unreadable."""
    if not path.is_file():
        raise UserError(f"index file {path} not found; check the dataset root and the adapter options")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, **kwargs)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise UserError(f"{path}: cannot read as CSV: {str(exc).splitlines()[0]}") from None


def require_columns(table: pd.DataFrame, columns: Iterable[str], source: Path | str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise UserError(f"{source}: no column(s) {missing}; columns are {list(table.columns)}")


def patient_from(pattern: str, text: str, where: str) -> str:
    """The first group of `pattern` in `text` (a file name or path): how patient ids come out of file names."""
    match = re.search(pattern, text)
    if not match:
        raise UserError(
            f"{where}: no patient id matches {pattern!r}; set adapter.options.patient_pattern in datasets.lock"
        )
    return match.group(1) if match.groups() else match.group(0)


def normalise_name(text: str) -> str:
    """`Reinke's edema` and `reinkes_Edema` → `reinkes_edema`: folder names compared without case or punctuation."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower().replace("'", "")).strip("_")


# --- from the adapter's output to the index ----------------------------------------------------------------


def check_paths(root: Path, paths: Iterable[str], name: str) -> None:
    """Reject index paths that are absolute, contain `..`, or resolve (via symlinks) outside the dataset root."""
    unique = sorted(set(paths))
    for p in unique:
        parts = posixpath.normpath(p).split("/") if p else [""]
        if not p or p.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", p) or "\\" in p or ".." in parts:
            raise UserError(
                f"{name}: index path {p!r} escapes the dataset root {root}; paths must be relative"
            )
    real_root = os.path.realpath(root)

    def inside(target: str) -> bool:
        real = os.path.realpath(target)
        return real == real_root or real.startswith(real_root + os.sep)

    for d in sorted({posixpath.dirname(p) for p in unique}):
        if d and not inside(os.path.join(root, d)):
            raise UserError(f"{name}: folder {d!r} is a symlink pointing outside the dataset root {root}")
    for p in unique:
        full = os.path.join(root, p)
        if os.path.islink(full) and not inside(full):
            raise UserError(f"{name}: {p!r} is a symlink pointing outside the dataset root {root}")


def _unknown_label(name: str, index: pd.DataFrame, mask: pd.Series, valid: Iterable[str]) -> UserError:
    row = index[mask].iloc[0]
    n = int(mask.sum())
    more = f" (and {n - 1} more rows)" if n > 1 else ""
    return UserError(
        f"{name}: label {row['label']!r} of {row['path']}{more} is not in the lock's label map; "
        f"valid: {sorted(valid)}; add it to `label_map` in datasets.lock"
    )


def map_labels(index: pd.DataFrame, entry: LockEntry, name: str) -> pd.DataFrame:
    """Raw labels → class names through `label_map` (or checked against `classes` when the map is empty)."""
    lookup = dict(entry.label_map) or {c: c for c in entry.classes}
    raw = index["label"].astype(str)
    if entry.task != "multilabel":
        unknown = ~raw.isin(list(lookup))
        if unknown.any():
            raise _unknown_label(name, index, unknown, lookup)
        return index.assign(label=raw.map(lookup))
    order = {c: i for i, c in enumerate(entry.classes)}
    parts = raw.str.split("|").map(lambda xs: [x for x in xs if x])
    unknown = parts.map(lambda xs: any(x not in lookup for x in xs))
    if unknown.any():
        bad = index[unknown].iloc[0]
        first = next(x for x in str(bad["label"]).split("|") if x and x not in lookup)
        raise _unknown_label(name, index.assign(label=first), unknown, lookup)
    joined = parts.map(lambda xs: "|".join(sorted({lookup[x] for x in xs}, key=order.__getitem__)))
    return index.assign(label=joined)


@dataclass
class Indexed:
    index: pd.DataFrame
    notes: list[str]


def adapter_options(entry: LockEntry, name: str) -> tuple[AdapterSpec, Options]:
    spec = ADAPTERS.get(entry.adapter.name)
    try:
        return spec, spec.options.model_validate(entry.adapter.options)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            hint = did_you_mean(key, spec.options.model_fields)
            raise UserError(f"{name}: adapter {entry.adapter.name!r} option {hint}") from None
        raise UserError(f"{name}: adapter {entry.adapter.name!r} option {key}: {err['msg']}") from None


def expected_files(entry: LockEntry, name: str) -> list[str] | None:
    """The files under the root the entry's adapter reads, when its options name them (None: it must look)."""
    spec, options = adapter_options(entry, name)
    return spec.files(options) if spec.files else None


def raw_index(root: Path, entry: LockEntry, name: str) -> Indexed:
    """Run the entry's adapter on `root` and check its paths; labels stay as the dataset writes them."""
    spec, options = adapter_options(entry, name)
    if not root.is_dir():
        raise UserError(f"{name}: dataset root {root} not found; {how_to_get(name, entry)}")
    missing = [f for f in (spec.files(options) if spec.files else []) if not (root / f).is_file()]
    if missing:
        raise UserError(f"{name}: {', '.join(missing)} not found in {root}; {how_to_get(name, entry)}")
    index = spec.read(root, options, entry)
    notes = list(index.attrs.get("notes", []))
    index.attrs = {}
    require_columns(index, ["path", "label"], f"{name} ({entry.adapter.name} adapter)")
    if index.empty:
        raise UserError(f"{name}: the {entry.adapter.name} adapter found no images under {root}")
    keys = ["path", "member"] if "member" in index else ["path"]
    dupes = index.duplicated(keys)
    if dupes.any():
        raise UserError(
            f"{name}: {int(dupes.sum())} duplicate index rows, e.g. {index[dupes].iloc[0]['path']}"
        )
    check_paths(root, index["path"], name)
    return Indexed(index.reset_index(drop=True), notes)


def build_index(root: Path, entry: LockEntry, name: str) -> Indexed:
    """The adapter's index with labels mapped to the lock's classes: the one index every later step uses."""
    raw = raw_index(root, entry, name)
    return Indexed(map_labels(raw.index, entry, name), raw.notes)


def _load_builtin() -> None:
    from suite.data.adapters import (  # noqa: F401  (registration side effects)
        endoscopy,
        generic,
        histology,
        medmnist,
        photo,
        radiology,
    )


_load_builtin()
