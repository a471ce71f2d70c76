"""Prove that the files on disk are the ones `datasets.lock` describes.

A full check hashes the index and every file (sha256). It is cached by a stamp holding the lock digest and a cheap
signature of (path, size, mtime) for every file, so cells re-hash only when something on disk changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from suite.data.lock import Digest, LockEntry
from suite.errors import DataVerificationError

_STAMP = ".medtl-verified.json"


def index_digest(index: pd.DataFrame) -> str:
    """sha256 of the index as canonical CSV (column order and row order as the adapter gives them)."""
    return hashlib.sha256(index.to_csv(index=False, lineterminator="\n").encode()).hexdigest()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def files_digest(root: Path, rel_paths: Sequence[str]) -> tuple[str, dict[str, str]]:
    """sha256 over "path sha256" lines sorted by path, plus the per-file hashes."""
    per_file = {rel: _sha256(root / rel) for rel in sorted(set(rel_paths))}
    lines = "".join(f"{rel} {digest}\n" for rel, digest in per_file.items())
    return hashlib.sha256(lines.encode()).hexdigest(), per_file


def compute_digest(root: Path, index: pd.DataFrame) -> Digest:
    files, per_file = files_digest(root, index["path"].tolist())
    return Digest(index=index_digest(index), files=files, n_files=len(per_file))


def _signature(root: Path, rel_paths: Sequence[str]) -> str:
    h = hashlib.sha256()
    for rel in sorted(set(rel_paths)):
        st = (root / rel).stat()
        h.update(f"{rel} {st.st_size} {st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def verify(name: str, entry: LockEntry, root: Path, index: pd.DataFrame) -> None:
    """Raise `DataVerificationError` with a readable reason unless the data matches its lock entry."""
    if entry.digest.files is None or entry.digest.index is None:
        raise DataVerificationError(
            f"{name}: datasets.lock has no digest yet; run `medtl-bench data lock {name}`"
        )
    missing = [rel for rel in index["path"] if not (root / rel).is_file()]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DataVerificationError(
            f"{name}: {len(missing)} file(s) in the index are missing under {root}: {shown}"
        )
    stamp_path = root / _STAMP
    signature = _signature(root, index["path"].tolist())
    expected = {"files": entry.digest.files, "index": entry.digest.index, "signature": signature}
    if stamp_path.is_file() and json.loads(stamp_path.read_text()) == expected:
        return
    if len(index) != entry.counts.total:
        raise DataVerificationError(
            f"{name}: {len(index)} images in the index, the lock expects {entry.counts.total}"
        )
    if index_digest(index) != entry.digest.index:
        raise DataVerificationError(
            f"{name}: the index under {root} differs from datasets.lock (index digest)"
        )
    files, _ = files_digest(root, index["path"].tolist())
    if files != entry.digest.files:
        raise DataVerificationError(
            f"{name}: file contents under {root} differ from datasets.lock; `medtl-bench data verify {name}` lists them"
        )
    with contextlib.suppress(OSError):  # read-only data mounts: verification passed, it just is not cached
        stamp_path.write_text(json.dumps(expected))
