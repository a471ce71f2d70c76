"""The decoded-image cache: decode and resize every image once per (dataset digest, geometry), then memory-map.

Epochs and cells never decode PNG/JPEG/TIFF again. The file is written to a temporary name and renamed, so a crash
mid-write never leaves a cache that reads as complete; a new lock digest gives a new key, hence a rebuild.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from suite.paths import cache_dir

CACHE_FORMAT = 1


def decode(path: Path, channels: int, size: int, resize: int | None) -> np.ndarray:
    """One image as uint8 CxHxW: shorter side to `resize` then centre-crop `size`, or straight to size×size."""
    with Image.open(path) as img:
        img = img.convert("RGB" if channels == 3 else "L")
        if resize is None:
            img = img.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=None)
        else:
            w, h = img.size
            scale = resize / min(w, h)
            img = img.resize(
                (max(size, round(w * scale)), max(size, round(h * scale))), Image.Resampling.BILINEAR
            )
            w, h = img.size
            left, top = (w - size) // 2, (h - size) // 2
            img = img.crop((left, top, left + size, top + size))
        arr = np.asarray(img, dtype=np.uint8)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def cache_key(name: str, digest: str, channels: int, size: int, resize: int | None) -> str:
    spec = {
        "name": name,
        "digest": digest,
        "channels": channels,
        "size": size,
        "resize": resize,
        "v": CACHE_FORMAT,
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def decoded_images(
    name: str, digest: str, root: Path, rel_paths: list[str], channels: int, size: int, resize: int | None
) -> np.ndarray:
    """A read-only memory map of all images (N×3×size×size, uint8), building it on first use."""
    path = cache_dir() / "decoded" / f"{name}-{cache_key(name, digest, channels, size, resize)}.npy"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.partial.npy")
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(rel_paths), 3, size, size))
        for i, rel in enumerate(
            tqdm(rel_paths, desc=f"decoding {name}", unit="img", leave=False, mininterval=2)
        ):
            out[i] = decode(root / rel, channels, size, resize)
        out.flush()
        del out
        tmp.replace(path)
    return np.load(path, mmap_mode="r")
