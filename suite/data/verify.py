"""Prove that the files on disk are the ones `datasets.lock` describes, and say exactly what differs when not.

The lock holds two digests: `index` (sha256 of the index as canonical CSV: every row's path, member, label and
metadata) and `files` (sha256 of the manifest, the sorted "path sha256" lines of every file). `data lock` also
writes the index and the manifest themselves beside the lock (`datasets.lock.d/<name>.index.csv`, `.sha256`); their
digests prove them, so `data verify` can list the missing, extra and changed files and the relabelled rows. A
passing check is remembered in the cache with a signature of (path, size, mtime) of every file, so cells re-hash
only when something on disk changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from suite.data.lock import Digest, LockEntry, lock_path, writable_lock_path
from suite.paths import cache_dir
from suite.results import atomic_write_bytes

_SHOWN = 20


def index_digest(index: pd.DataFrame) -> str:
    """sha256 of the index as canonical CSV (column order and row order as the adapter gives them)."""
    return hashlib.sha256(index_csv(index).encode()).hexdigest()


def index_csv(index: pd.DataFrame) -> str:
    return index.to_csv(index=False, lineterminator="\n")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_hashes(root: Path, rel_paths: list[str]) -> dict[str, str]:
    """sha256 of every distinct file, sorted by path (threads: hashlib releases the GIL)."""
    from suite.data.cache import workers

    unique = sorted(set(rel_paths))
    with ThreadPoolExecutor(workers()) as pool:
        return dict(zip(unique, pool.map(lambda rel: sha256_file(root / rel), unique)))


def manifest_text(per_file: dict[str, str]) -> str:
    return "".join(f"{rel} {digest}\n" for rel, digest in sorted(per_file.items()))


def compute_digest(root: Path, index: pd.DataFrame) -> tuple[Digest, dict[str, str]]:
    per_file = file_hashes(root, index["path"].tolist())
    files = hashlib.sha256(manifest_text(per_file).encode()).hexdigest()
    return Digest(index=index_digest(index), files=files, n_files=len(per_file)), per_file


# --- sidecars: the locked index and manifest, proven by the lock's digests ---------------------------------


def sidecar_dir() -> Path:
    return lock_path().parent / "datasets.lock.d"


def write_sidecars(name: str, index: pd.DataFrame, per_file: dict[str, str]) -> Path:
    """The locked index and manifest beside the lock, each written whole (atomically)."""
    folder = writable_lock_path().parent / "datasets.lock.d"
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / f"{name}.index.csv", index_csv(index).encode())
    atomic_write_bytes(folder / f"{name}.sha256", manifest_text(per_file).encode())
    return folder


def _proven(path: Path, digest: str | None) -> str | None:
    if digest is None or not path.is_file():
        return None
    text = path.read_text()
    return text if hashlib.sha256(text.encode()).hexdigest() == digest else None


def locked_manifest(name: str, entry: LockEntry) -> dict[str, str] | None:
    text = _proven(sidecar_dir() / f"{name}.sha256", entry.digest.files)
    return None if text is None else dict(ln.rsplit(" ", 1) for ln in text.splitlines() if ln)


def locked_index(name: str, entry: LockEntry) -> pd.DataFrame | None:
    text = _proven(sidecar_dir() / f"{name}.index.csv", entry.digest.index)
    return None if text is None else pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


# --- the check -------------------------------------------------------------------------------------------


@dataclass
class Check:
    """What differs between the data under `root` and the lock entry; empty lists mean it matches."""

    name: str
    root: Path
    missing: list[str] = field(default_factory=list)  # in the lock, not on disk
    extra: list[str] = field(default_factory=list)  # on disk and in the index, not in the lock
    changed: list[str] = field(default_factory=list)  # different bytes
    relabelled: list[str] = field(default_factory=list)  # same file, different index row (label, metadata)
    problems: list[str] = field(default_factory=list)  # anything else, one line each

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.changed or self.relabelled or self.problems)

    @property
    def ok_skipping(self) -> bool:
        """True when only missing or extra files differ, which `bad_files: skip` leaves out."""
        return not (self.changed or self.relabelled or self.problems)

    def summary(self) -> str:
        parts = [
            f"{len(v)} {k}"
            for k, v in (
                ("missing", self.missing),
                ("extra", self.extra),
                ("changed", self.changed),
                ("relabelled", self.relabelled),
            )
            if v
        ]
        detail = ", ".join(parts) + ("; " if parts and self.problems else "") + "; ".join(self.problems)
        return f"{self.name}: the data under {self.root} does not match datasets.lock ({detail})"

    def lines(self) -> list[str]:
        if self.ok:
            return [f"{self.name}: ok"]
        out = [self.summary()]
        for label, items in (
            ("missing", self.missing),
            ("extra", self.extra),
            ("changed", self.changed),
            ("relabelled", self.relabelled),
        ):
            if items:
                more = f" ... and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
                out.append(f"  {label} ({len(items)}): " + ", ".join(items[:_SHOWN]) + more)
        return out


def count_problems(entry: LockEntry, labels: pd.Series) -> list[str]:
    """How the index's counts differ from the published ones in the lock entry (nothing when they agree)."""
    problems = []
    if entry.counts.total is not None and len(labels) != entry.counts.total:
        problems.append(f"{len(labels)} images, the lock expects {entry.counts.total}")
    if entry.counts.per_class and entry.task != "multilabel":
        found = labels.value_counts().to_dict()
        diff = {c: (found.get(c, 0), n) for c, n in entry.counts.per_class.items() if found.get(c, 0) != n}
        if diff:
            problems.append(
                "per class (found/expected): " + ", ".join(f"{c} {a}/{b}" for c, (a, b) in diff.items())
            )
    return problems


def missing_files(root: Path, paths: list[str]) -> list[str]:
    return sorted(p for p in set(paths) if not (root / p).is_file())


def _signature(root: Path, rel_paths: list[str]) -> str:
    h = hashlib.sha256()
    for rel in sorted(set(rel_paths)):
        st = (root / rel).stat()
        h.update(f"{rel} {st.st_size} {st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def content_signature(root: Path, rel_paths: list[str]) -> str:
    """What the files on disk are now, cheaply: keys the decoded cache of unverified data."""
    return "unverified:" + _signature(root, rel_paths)


def _stamp(name: str, root: Path) -> Path:
    where = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:12]
    return cache_dir() / "verified" / f"{name}-{where}.json"


def _row_key(frame: pd.DataFrame) -> pd.Series:
    return frame["path"] + ("\t" + frame["member"] if "member" in frame else "")


def _diagnose_files(c: Check, entry: LockEntry, per_file: dict[str, str]) -> None:
    manifest = locked_manifest(c.name, entry)
    if manifest is None:
        c.problems.append(
            f"file contents differ; no proven manifest in {sidecar_dir()} to say which (`data lock` writes one)"
        )
        return
    c.extra = sorted(p for p in per_file if p not in manifest)
    c.changed = sorted(p for p, h in per_file.items() if p in manifest and manifest[p] != h)
    c.missing = sorted(set(c.missing) | (set(manifest) - set(per_file)))


def _diagnose_index(c: Check, entry: LockEntry, index: pd.DataFrame) -> None:
    old = locked_index(c.name, entry)
    if old is None:
        c.problems.append(f"the index differs (labels, rows or columns); no proven copy in {sidecar_dir()}")
        return
    if list(index.columns) != list(old.columns):
        c.problems.append(f"index columns {list(index.columns)} differ from the lock's {list(old.columns)}")
        return
    new_rows = pd.Series(index_csv(index).splitlines()[1:], index=_row_key(index).to_numpy())
    old_rows = pd.Series(index_csv(old).splitlines()[1:], index=_row_key(old).to_numpy())
    both = new_rows.index.intersection(old_rows.index)
    c.relabelled = sorted(k.split("\t")[0] for k in both if new_rows[k] != old_rows[k])


def check(name: str, entry: LockEntry, root: Path, index: pd.DataFrame) -> Check:
    """Compare the data under `root` (as indexed) with the lock entry."""
    c = Check(name, root, missing=missing_files(root, index["path"].tolist()))
    if entry.digest.files is None or entry.digest.index is None:
        c.problems.append(f"datasets.lock has no digest yet; run `medtl-bench data lock {name}`")
        c.problems.extend(count_problems(entry, index["label"]))
        return c
    present = sorted(set(index["path"]) - set(c.missing))
    stamp = _stamp(name, root)
    expected = {
        "files": entry.digest.files,
        "index": entry.digest.index,
        "signature": _signature(root, present),
    }
    if not c.missing and stamp.is_file() and json.loads(stamp.read_text()) == expected:
        return c
    per_file = file_hashes(root, present)
    digest = hashlib.sha256(manifest_text(per_file).encode()).hexdigest()
    if not c.missing and digest == entry.digest.files and index_digest(index) == entry.digest.index:
        with contextlib.suppress(OSError):
            stamp.parent.mkdir(parents=True, exist_ok=True)
            tmp = stamp.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(expected))
            tmp.replace(stamp)
        return c
    if digest != entry.digest.files or c.missing:
        _diagnose_files(c, entry, per_file)
    if index_digest(index) != entry.digest.index:
        _diagnose_index(c, entry, index)
    if c.ok:  # digests differ yet nothing is listed: the rows were reordered
        c.problems.append("the index rows are in a different order than when locked")
    return c
