"""The decoded-image cache: decode and resize every image once per (dataset content, image policy, size).

The result is one uint8 N×3×S×S `.npy` that cells memory-map, so epochs and cells never decode PNG, JPEG or TIFF
again; augmentation runs on these tensors (suite/data/augment.py). The key covers the dataset's content (its
lock digest when verified, otherwise a signature of the files as they are), the rows, the image policy, the size
and the decoder version, so a new lock digest means a new cache. Writing is crash-safe: pixels go to a
`<pid>.partial.npy`, the metadata next to it, and the rename of the `.npy` is the commit; a half-written cache is
never read as complete. A file lock stops two cells building the same cache at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from suite.data.images import Geometry, ImageError, MemberReader, read_file
from suite.errors import UserError
from suite.paths import cache_dir
from suite.processes import pid_alive

CACHE_FORMAT = 2
_CHUNK = 512


@dataclass(frozen=True)
class CacheRequest:
    name: str
    content: str  # the lock digest (verified data) or a signature of the files on disk (unverified)
    geometry: Geometry
    rows: str  # sha256 over the (path, member) rows, in order

    @property
    def key(self) -> str:
        spec = {**asdict(self), "geometry": self.geometry.key(), "format": CACHE_FORMAT}
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class Decoded:
    images: np.ndarray  # read-only memory map, N×3×S×S uint8
    corrupt: dict[int, str]  # row → why it could not be decoded (zero pixels in `images`)
    key: str
    path: Path


def rows_digest(paths: list[str], members: list[str]) -> str:
    h = hashlib.sha256()
    for p, m in zip(paths, members):
        h.update(f"{p}\t{m}\n".encode())
    return h.hexdigest()


def workers() -> int:
    """Decoding threads (Pillow and h5py release the GIL while decoding): `$MEDTL_DECODE_WORKERS`, else ≤ 8."""
    return max(1, int(os.environ.get("MEDTL_DECODE_WORKERS", min(8, os.cpu_count() or 1))))


def _decode_into(
    out: np.ndarray, root: Path, paths: list[str], members: list[str], g: Geometry, desc: str
) -> dict[int, str]:
    """Fill `out` row by row; rows that cannot be decoded stay zero and are returned with the reason."""
    corrupt: dict[int, str] = {}

    def plain(i: int) -> tuple[int, np.ndarray | None, str]:
        try:
            return i, read_file(root / paths[i], g), ""
        except ImageError as exc:
            return i, None, str(exc)

    plain_rows = [i for i, m in enumerate(members) if not m]
    member_rows = [i for i, m in enumerate(members) if m]
    # disable=None: no bar frames when stderr is not a terminal (a cell's log.txt, CI, Slurm)
    with tqdm(
        total=len(paths), desc=f"decoding {desc}", unit="img", leave=False, mininterval=5, disable=None
    ) as bar:
        with ThreadPoolExecutor(workers()) as pool:
            for start in range(0, len(plain_rows), _CHUNK):
                for i, arr, why in pool.map(plain, plain_rows[start : start + _CHUNK]):
                    if arr is None:
                        corrupt[i] = why
                    else:
                        out[i] = arr
                bar.update(min(_CHUNK, len(plain_rows) - start))
        reader = MemberReader(root, g)  # members are read in index order: npz rows stream sequentially
        try:
            for i in member_rows:
                try:
                    out[i] = reader.read(paths[i], members[i])
                except ImageError as exc:
                    corrupt[i] = str(exc)
                bar.update(1)
        finally:
            reader.close()
    return corrupt


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _complete(final: Path, meta: Path, key: str, shape: tuple[int, ...]) -> dict | None:
    """The metadata of a finished cache of this key and shape, or None (absent, partial, or another build)."""
    if not (final.is_file() and meta.is_file()):
        return None
    try:
        info = json.loads(meta.read_text())
        images = np.load(final, mmap_mode="r")
    except (OSError, ValueError):
        return None
    return info if info.get("key") == key and images.shape == shape else None


def _tidy(folder: Path, request: CacheRequest) -> None:
    """Remove partial files of dead builders, and finished caches of this dataset and geometry for old content."""
    for partial in folder.glob(f"{request.name}-*.partial.*"):
        pid = partial.name.split(".")[-3]
        if pid.isdigit() and not pid_alive(int(pid)):
            partial.unlink(missing_ok=True)
    for meta in folder.glob(f"{request.name}-*.json"):
        with contextlib.suppress(OSError, ValueError, KeyError):
            info = json.loads(meta.read_text())
            same = info["name"] == request.name and info["geometry"] == request.geometry.key()
            if same and info["key"] != request.key:
                meta.with_suffix(".npy").unlink(missing_ok=True)
                meta.unlink(missing_ok=True)


def _report_corrupt(name: str, root: Path, paths: list[str], corrupt: dict[int, str]) -> UserError:
    rows = sorted(corrupt)
    shown = "; ".join(f"{root / paths[i]} ({corrupt[i]})" for i in rows[:3])
    more = f" and {len(rows) - 3} more" if len(rows) > 3 else ""
    return UserError(
        f"{name}: {len(rows)} image(s) cannot be decoded: {shown}{more}; replace them, or set "
        f"`bad_files: skip` in datasets.lock to leave them out (the count is recorded in results)"
    )


def decoded_images(
    request: CacheRequest, root: Path, paths: list[str], members: list[str], bad_files: str = "fail"
) -> Decoded:
    """The memory-mapped cache for `request`, built on first use (crash-safe, one builder at a time)."""
    g, key = request.geometry, request.key
    folder = cache_dir() / "decoded"
    final, meta = folder / f"{request.name}-{key}.npy", folder / f"{request.name}-{key}.json"
    shape = (len(paths), 3, g.size, g.size)
    with _locked(folder / f"{request.name}-{key}.lock"):
        info = _complete(final, meta, key, shape)
        if info is None:
            _tidy(folder, request)
            tmp = final.with_name(f"{final.stem}.{os.getpid()}.partial.npy")
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
            try:
                corrupt = _decode_into(out, root, paths, members, g, request.name)
                out.flush()
            finally:
                del out
            if corrupt and bad_files == "fail":
                tmp.unlink(missing_ok=True)
                raise _report_corrupt(request.name, root, paths, corrupt)
            info = {
                "name": request.name,
                "key": key,
                "geometry": g.key(),
                "content": request.content,
                "corrupt": corrupt,
            }
            meta_tmp = meta.with_name(f"{meta.stem}.{os.getpid()}.partial.json")
            meta_tmp.write_text(json.dumps(info))
            meta_tmp.replace(meta)
            tmp.replace(final)  # the commit: only now does a complete cache exist under its key
    corrupt = {int(k): v for k, v in info["corrupt"].items()}
    return Decoded(np.load(final, mmap_mode="r"), corrupt, key, final)
