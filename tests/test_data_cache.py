"""The decoded-image cache: its key, rebuilds, crash safety, and augmentation on cached tensors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from suite.data import cache
from suite.data.cache import CacheRequest, decoded_images, rows_digest
from suite.data.dataset import load_task_data, prepare
from suite.data.images import Geometry, read_file
from suite.paths import cache_dir


@pytest.fixture
def vessels():
    p = prepare("synthetic-vessels")
    paths = p.index["path"].tolist()
    return p.root, paths, [""] * len(paths)


def _request(paths, members, content="lock-digest-1", **geometry) -> CacheRequest:
    g = Geometry(**{"channels": 3, "size": 16, "resize": None, "intensity": "uint8", **geometry})
    return CacheRequest("cache-test", content, g, rows_digest(paths, members))


def _files(pattern: str = "cache-test-*") -> list[str]:
    return sorted(p.name for p in (cache_dir() / "decoded").glob(pattern))


def test_key_covers_content_rows_and_image_policy(vessels):
    _, paths, members = vessels
    base = _request(paths, members)
    assert base.key == _request(paths, members).key
    variants = [
        _request(paths, members, content="lock-digest-2"),
        _request(paths[:-1], members[:-1]),
        _request(paths, members, size=32),
        _request(paths, members, resize=20),
        _request(paths, members, channels=1),
        _request(paths, members, intensity="minmax"),
    ]
    assert len({base.key, *(v.key for v in variants)}) == 1 + len(variants)


def test_a_crash_mid_write_never_leaves_a_complete_cache(vessels, monkeypatch):
    root, paths, members = vessels
    request = _request(paths, members, content="crash-test")
    final = cache_dir() / "decoded" / f"cache-test-{request.key}.npy"
    calls = {"n": 0}

    def dying(path, g):
        calls["n"] += 1
        if calls["n"] > 10:
            raise KeyboardInterrupt  # as a kill in the middle of decoding
        return read_file(path, g)

    monkeypatch.setattr(cache, "read_file", dying)
    monkeypatch.setattr(cache, "_CHUNK", 4)
    monkeypatch.setenv("MEDTL_DECODE_WORKERS", "1")
    with pytest.raises(KeyboardInterrupt):
        decoded_images(request, root, paths, members)
    assert not final.exists() and any(".partial." in f for f in _files())
    monkeypatch.setattr(cache, "read_file", read_file)
    monkeypatch.setattr(cache, "pid_alive", lambda pid: False)  # the crashed builder is gone
    built = decoded_images(request, root, paths, members)
    assert final.exists() and not any(".partial." in f for f in _files())
    expected = np.stack([read_file(root / p, request.geometry) for p in paths[:5]])
    assert np.array_equal(built.images[:5], expected) and built.images[-1].any()


def test_pixels_without_metadata_are_not_read_as_complete(vessels):
    root, paths, members = vessels
    request = _request(paths[:8], members[:8], content="half-renamed")
    first = decoded_images(request, root, paths[:8], members[:8])
    first.path.with_suffix(".json").unlink()  # as if the builder died between the two renames
    np.lib.format.open_memmap(first.path, mode="r+")[:] = 0
    again = decoded_images(request, root, paths[:8], members[:8])
    assert again.images.any(), "the zeroed file was rebuilt, not trusted"


def test_a_new_lock_digest_rebuilds_and_drops_the_old_cache(vessels):
    root, paths, members = vessels
    old = decoded_images(_request(paths[:6], members[:6], content="v1"), root, paths[:6], members[:6])
    new = decoded_images(_request(paths[:6], members[:6], content="v2"), root, paths[:6], members[:6])
    assert new.key != old.key and new.path.exists() and not old.path.exists()
    other = dataclasses.replace(
        _request(paths[:6], members[:6], content="v2"), geometry=Geometry(3, 8, None, "uint8")
    )
    decoded_images(other, root, paths[:6], members[:6])
    assert new.path.exists(), "a different geometry is another cache, kept"


def test_augmentation_runs_on_cached_uint8_tensors():
    from suite.data.augment import augment
    from suite.matrix.schema import Augment

    data = load_task_data("synthetic-vessels", 32)
    batch = data.splits["train"].images[:8]
    torch.manual_seed(0)
    out = augment(batch, Augment(hflip=True, vflip=True, rotate=10, crop_padding=2))
    assert out.dtype == torch.uint8 and out.shape == batch.shape and not torch.equal(out, batch)
    assert data.record["cache_key"] in str(sorted((cache_dir() / "decoded").glob("synthetic-vessels-*.npy")))
