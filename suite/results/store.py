"""The result store: one JSON per cell, written atomically, and the test predictions beside it.

A result is written once, whole, by renaming a finished temporary file, so a crash or `kill -9` at any moment
leaves either the previous state or the complete new file, never a partial one. Test predictions go beside it as
`<slug>.npz` (written first; the JSON is the commit marker).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from suite.results.schema import CellResult
from suite.results.temps import temp_prefix


def _umask() -> int:
    """The process umask, read without changing it where Linux says it (`os.umask` can only set and return).

    Setting the umask to read it back would briefly apply 0 to files other threads create, so /proc is read first.
    """
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    current = os.umask(0o022)
    os.umask(current)
    return current


def new_file_mode() -> int:
    """The mode a plain `open` gives a new file: 0666 less the umask."""
    return 0o666 & ~_umask()


def _staged(path: Path, write: Callable[[BinaryIO], object], mode: int) -> Path:
    """What `write` writes, in a finished (fsynced) temporary file beside `path` with `mode`; removed again on
    failure. Its name says which process wrote it (suite/results/temps.py), so a later run can sweep it if this
    process is killed before the rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temp_prefix(path), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            write(f)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:  # a full disk raises without a file name: name the file the user will look for
        Path(tmp).unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror, str(path)) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def atomic_write_from(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write through `write(file)` into a temporary file in the same folder, fsync, then rename over `path`.

    `mkstemp` creates the temporary file 0600; it gets the mode a plain `open` would have given (0666 less the
    umask) before the rename, so a results folder or datasets.lock shared by a group (umask 002) stays readable and
    writable by the group, as any other file the group's tools write there.
    """
    tmp = _staged(path, write, new_file_mode())
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """`payload` to `path` atomically (`atomic_write_from`)."""
    atomic_write_from(path, lambda f: f.write(payload))


def atomic_write_many(files: dict[Path, bytes]) -> None:
    """Write several files as one step, as far as a file system allows: every file is staged (written and
    fsynced beside its target) before any is renamed into place, so a failure while writing (a full disk, a
    read-only folder) leaves every target as it was; only the renames, which do not write data, come after."""
    mode, staged = new_file_mode(), []
    try:
        for path, payload in files.items():
            staged.append((_staged(path, lambda f, data=payload: f.write(data), mode), path))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, path in staged:
        os.replace(tmp, path)


def write_result(result: CellResult, path: Path) -> None:
    text = json.dumps(result.model_dump(mode="json"), indent=1, sort_keys=False, allow_nan=False, default=str)
    atomic_write_bytes(path, (text + "\n").encode())


def _finite(obj: Any) -> Any:
    """NaN/inf anywhere (history, logs) → None, so the JSON stays standard."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def sanitise(result: CellResult) -> CellResult:
    data = _finite(result.model_dump())
    return CellResult.model_validate(data)


def write_predictions(
    path: Path,
    scores: np.ndarray,
    targets: np.ndarray,
    ids: list[str],
    classes: list[str],
    task: str | None = None,
) -> None:
    """Test scores (float32), targets, sample ids, class names and the task type, for ROC curves and any metric
    recomputed later (`suite.metrics.metrics_from_predictions`)."""
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        scores=scores.astype(np.float32),
        targets=targets,
        ids=np.array(ids),
        classes=np.array(classes),
        **({"task": np.array(task)} if task else {}),
    )
    atomic_write_bytes(path, buffer.getvalue())


def read_result(path: Path) -> CellResult:
    return CellResult.model_validate_json(path.read_text())


def load_results(runs_dir: Path) -> list[CellResult]:
    """Every result in a runs folder, in file-name order (stable, so reports are deterministic)."""
    if not runs_dir.is_dir():
        return []
    return [read_result(p) for p in sorted(runs_dir.glob("*.json"))]
