"""Where things live on disk. Every location can be moved with an environment variable."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Generated datasets, decoded-image caches: `$MEDTL_CACHE` (default ~/.cache/medtl-bench)."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "medtl-bench"
    return Path(os.environ.get("MEDTL_CACHE", default))


def data_root() -> Path:
    """Real datasets, read-only: `$MEDTL_DATA` (default ./data); a lock entry's `root` is relative to it."""
    return Path(os.environ.get("MEDTL_DATA", "data"))
