"""Read one indexed image and turn it into the uint8 C×S×S array the image policy asks for.

An index row is a file (PNG, JPEG, TIFF, ...: Pillow), or, through its `member`, an image inside a container:
`npz:<array>:<row>` (MedMNIST; streamed row by row, since a 224 px archive does not fit in memory),
`mat:<dataset>` (MATLAB v7.3 = HDF5, via h5py; MATLAB stores arrays transposed), or `box:x0,y0,x1,y1` (a crop
of a large image, e.g. MIDOG patches; the last opened image is kept for the next box of the same file).
"""

from __future__ import annotations

import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image

from suite.errors import UserError

DECODE_VERSION = (
    2  # bump when the pixels produced for the same file and geometry change (part of the cache key)
)


class ImageError(Exception):
    """An image that cannot be read: a corrupt or truncated file, or a member that is not there."""


@dataclass(frozen=True)
class Geometry:
    """The image policy of a lock entry plus the cell's size: everything that decides the cached pixels."""

    channels: int
    size: int
    resize: int | None
    intensity: str

    def key(self) -> dict:
        return {**asdict(self), "decode_version": DECODE_VERSION}


def to_uint8(arr: np.ndarray, intensity: str, where: str) -> np.ndarray:
    """8-bit pixels: unchanged for `uint8`; `minmax` stretches the image's own range (16-bit, int16 MRI, float)."""
    if arr.dtype == np.uint8 and intensity == "uint8":
        return arr
    if arr.dtype == bool:
        return arr.astype(np.uint8) * 255
    if intensity != "minmax":
        raise UserError(f"{where}: {arr.dtype} pixels; set `image: {{intensity: minmax}}` in datasets.lock")
    arr = arr.astype(np.float64)
    lo, hi = np.nanmin(arr), np.nanmax(arr)
    if not np.isfinite(lo) or hi <= lo:
        return np.zeros(arr.shape, np.uint8)
    return np.clip(np.round((arr - lo) * (255.0 / (hi - lo))), 0, 255).astype(np.uint8)


def fit(img: Image.Image, g: Geometry) -> np.ndarray:
    """Shorter side to `resize` then centre-crop `size`, or straight to size×size; grey is replicated to 3."""
    img = img.convert("RGB" if g.channels == 3 else "L")
    if g.resize is None:
        img = img.resize((g.size, g.size), Image.Resampling.BILINEAR)
    else:
        w, h = img.size
        scale = g.resize / min(w, h)
        img = img.resize(
            (max(g.size, round(w * scale)), max(g.size, round(h * scale))), Image.Resampling.BILINEAR
        )
        w, h = img.size
        left, top = (w - g.size) // 2, (h - g.size) // 2
        img = img.crop((left, top, left + g.size, top + g.size))
    arr = np.asarray(img, dtype=np.uint8)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def _from_array(arr: np.ndarray, g: Geometry, where: str) -> np.ndarray:
    arr = to_uint8(np.asarray(arr), g.intensity, where)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    return fit(Image.fromarray(arr), g)


HIGH_BIT_MODES = frozenset(
    {"I;16", "I;16B", "I;16L", "I", "F"}
)  # read through `to_uint8`, so `intensity` applies


def _open(path: Path, g: Geometry, draft: bool = True) -> Image.Image:
    """Open and load an image; JPEG decodes at a reduced scale when that still covers the target (`draft`)."""
    img = Image.open(path)
    if draft and img.format == "JPEG":
        target = g.resize or g.size
        img.draft("RGB" if g.channels == 3 else "L", (target, target))
    img.load()
    if img.mode in HIGH_BIT_MODES:
        img = Image.fromarray(to_uint8(np.asarray(img), g.intensity, str(path)))
    return img


_IMAGE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


def probe_file(path: Path) -> str:
    """Decode `path` fully (a truncated file fails only then) and return its Pillow mode; `ImageError` if it cannot."""
    try:
        with Image.open(path) as img:
            img.load()
            return img.mode
    except _IMAGE_ERRORS as exc:
        raise ImageError(f"{type(exc).__name__}: {exc}") from None


def read_file(path: Path, g: Geometry) -> np.ndarray:
    """One image file as uint8 C×S×S; `ImageError` when it cannot be decoded."""
    try:
        with _open(path, g) as img:
            return fit(img, g)
    except _IMAGE_ERRORS as exc:
        raise ImageError(f"{type(exc).__name__}: {exc}") from None


class _NpzRows:
    """Rows of one array in an .npz, read sequentially from the zip stream (never the whole array in memory)."""

    def __init__(self, file: Path, key: str) -> None:
        self.file, self.key = file, key
        self._zip: zipfile.ZipFile | None = None
        self._fp: IO[bytes] | None = None
        self.pos = 0

    def _open(self) -> None:
        self.close()
        self._zip = zipfile.ZipFile(self.file)
        try:
            self._fp = self._zip.open(f"{self.key}.npy")
        except KeyError:
            raise ImageError(f"{self.file.name}: no array {self.key!r}") from None
        version = np.lib.format.read_magic(self._fp)
        read_header = (
            np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        )
        shape, fortran, dtype = read_header(self._fp)
        if fortran:
            raise ImageError(f"{self.file.name}:{self.key}: Fortran-ordered arrays are not supported")
        self.shape, self.dtype, self.pos = shape[1:], dtype, 0
        self.row_bytes = int(np.prod(self.shape)) * dtype.itemsize

    def row(self, i: int) -> np.ndarray:
        if self._fp is None or i < self.pos:
            self._open()
        assert self._fp is not None
        while self.pos < i:  # skip forward in bounded chunks
            step = min(i - self.pos, max(1, (64 << 20) // max(self.row_bytes, 1)))
            if len(self._fp.read(step * self.row_bytes)) < step * self.row_bytes:
                raise ImageError(f"{self.file.name}:{self.key}: row {i} is past the end")
            self.pos += step
        data = self._fp.read(self.row_bytes)
        if len(data) < self.row_bytes:
            raise ImageError(f"{self.file.name}:{self.key}: row {i} is past the end (truncated file?)")
        self.pos += 1
        return np.frombuffer(data, dtype=self.dtype).reshape(self.shape)

    def close(self) -> None:
        if self._fp is not None:
            self._fp.close()
        if self._zip is not None:
            self._zip.close()
        self._fp = self._zip = None


class MemberReader:
    """Reads rows with a `member` (npz rows, .mat datasets, boxes), keeping open what the next row will reuse."""

    def __init__(self, root: Path, g: Geometry) -> None:
        self.root, self.g = root, g
        self._npz: dict[tuple[str, str], _NpzRows] = {}
        self._image: tuple[str, Image.Image] | None = None

    def read(self, path: str, member: str) -> np.ndarray:
        kind, _, spec = member.partition(":")
        try:
            if kind == "npz":
                key, _, row = spec.rpartition(":")
                stream = self._npz.setdefault((path, key), _NpzRows(self.root / path, key))
                return _from_array(stream.row(int(row)), self.g, f"{path}:{key}")
            if kind == "mat":
                return self._mat(path, spec)
            if kind == "box":
                return self._box(path, spec)
        except _IMAGE_ERRORS as exc:
            raise ImageError(f"{type(exc).__name__}: {exc}") from None
        raise UserError(f"{path}: unknown member kind {member!r}; expected npz:, mat: or box:")

    def _mat(self, path: str, dataset: str) -> np.ndarray:
        import h5py

        try:
            with h5py.File(self.root / path, "r") as f:
                arr = np.asarray(f[dataset][()]).T  # MATLAB writes column-major
        except KeyError:
            raise ImageError(f"no dataset {dataset!r}") from None
        return _from_array(arr, self.g, path)

    def _box(self, path: str, spec: str) -> np.ndarray:
        x0, y0, x1, y1 = (int(v) for v in spec.split(","))
        if self._image is None or self._image[0] != path:
            if self._image is not None:
                self._image[1].close()
            self._image = (path, _open(self.root / path, self.g, draft=False))
        return fit(self._image[1].crop((x0, y0, x1, y1)), self.g)

    def close(self) -> None:
        for stream in self._npz.values():
            stream.close()
        if self._image is not None:
            self._image[1].close()
        self._npz.clear()
        self._image = None
