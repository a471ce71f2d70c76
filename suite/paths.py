"""Where things live on disk, and the two checks every user-given name and every written path goes through.

Every location can be moved with an environment variable. A name a user gives (a matrix's `name:`, a dataset name
in `datasets.lock` or `data add`) becomes a folder or file name, so it must be one safe path component
(`check_name`); a path the suite writes under a root (a results folder) must resolve inside that root (`inside`),
so neither `name: ../../tmp/x` nor a symlink planted inside the folder can send a write elsewhere.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from suite.errors import UserError

NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]*"
MAX_NAME_LENGTH = 100
"""Well under the 255 bytes a file name may have, so a cell slug built from several names still fits."""

_NAME = re.compile(NAME_PATTERN)


CHECKOUT = Path(__file__).resolve().parents[1]
"""The repository root when the suite runs from a checkout (or an editable install)."""
PACKAGED = Path(__file__).resolve().parent / "shipped"
"""Where a wheel carries the checkout's `datasets.lock`, `datasets.lock.d/` and `benchmarks/` (setup.py copies
them at build time, so the repository keeps one copy of each)."""


def shipped(relative: str) -> Path:
    """A file or folder the suite ships (`datasets.lock`, `benchmarks`): the checkout's when the suite runs from
    one, else the installed package's copy. (Files in the working directory win over both; their callers check.)"""
    checkout = CHECKOUT / relative
    return checkout if checkout.exists() or not (PACKAGED / relative).exists() else PACKAGED / relative


def is_packaged(path: Path) -> bool:
    """Whether `path` is inside the installed package's copy of the shipped files (read-only by intent)."""
    try:
        path.resolve().relative_to(PACKAGED)
    except ValueError:
        return False
    return True


def cache_dir() -> Path:
    """Generated datasets, decoded-image caches: `$MEDTL_CACHE` (default ~/.cache/medtl-bench)."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "medtl-bench"
    return Path(os.environ.get("MEDTL_CACHE", default))


def data_root() -> Path:
    """Real datasets, read-only: `$MEDTL_DATA` (default ./data); a lock entry's `root` is relative to it."""
    return Path(os.environ.get("MEDTL_DATA", "data"))


def name_problem(name: object) -> str | None:
    """Why `name` cannot be used as a file or folder name, or None when it can.

    Kept separate from `check_name` so pydantic validators can raise it as a `ValueError` (the matrix loader then
    maps it to the file and line).
    """
    if not isinstance(name, str):
        return f"must be a string, not {type(name).__name__}"
    if len(name) > MAX_NAME_LENGTH:
        return f"is {len(name)} characters long; at most {MAX_NAME_LENGTH}"
    if not _NAME.fullmatch(name):
        return "may use only letters, digits, '.', '_' and '-', starting with a letter or digit (no '/', no spaces)"
    if ".." in name:
        return "must not contain '..'"
    return None


def check_name(kind: str, name: object) -> str:
    """`name` if it is one safe path component, else a one-line `UserError` naming `kind` and the rule."""
    problem = name_problem(name)
    if problem:
        shown = repr(name) if len(repr(name)) <= 80 else repr(name)[:77] + "..."
        raise UserError(f"{kind} {shown} {problem}")
    return name  # type: ignore[return-value]  # name_problem returned None, so it is a str


def inside(root: Path, path: Path) -> Path:
    """`path` unchanged if it resolves (symlinks followed) inside `root`; a one-line `UserError` otherwise."""
    base = Path(root).resolve()
    target = Path(path).resolve()
    if target != base and base not in target.parents:
        raise UserError(f"refusing to write {path}: it resolves to {target}, outside {root}")
    return path
