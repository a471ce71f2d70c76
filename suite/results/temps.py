"""The temporary files of atomic writes: who wrote each one, and the sweep of those a killed writer left behind.

An atomic write stages its bytes in `.<target>.<pid>-<where>.<random>.tmp` beside the target and renames it into
place (suite/results/store.py), so `kill -9` between the two leaves the temporary file and nothing else. The name
says who wrote it: the pid, and `where`, a short hash of the host name and the pid namespace, so that a pid is
only ever checked on the machine and in the container it belongs to. Two sweeps remove what was left:

- `remove_dead_writers(root)`, when a run starts: every temporary file under the matrix folder whose writer ran
  here and has exited (the cells of a killed driver, the driver itself);
- `remove_temps_of(folder, targets)`, for a cell's own files while the driver holds the cell's lock (before the
  cell starts and after it ends): every temporary file of them, whoever wrote it, since nothing else may write
  them then. This covers cells in containers and on Slurm nodes, whose pids this machine cannot check.

Written by hand: `tempfile` names its files at random and has no notion of a stale one.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import socket
from collections.abc import Iterable
from pathlib import Path

from suite.processes import pid_alive

# mkstemp's random part: 8 characters of [a-z0-9_]
_TEMP = re.compile(r"^\.(?P<target>.+)\.(?P<pid>\d+)-(?P<where>[0-9a-f]{8})\.[a-z0-9_]{8}\.tmp$")


@functools.cache
def _where() -> str:
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        namespace = 0
    return hashlib.sha256(f"{socket.gethostname()}:{namespace}".encode()).hexdigest()[:8]


def temp_prefix(target: Path) -> str:
    """mkstemp's `prefix` for a temporary file staged for `target` (its `suffix` is `.tmp`)."""
    return f".{target.name}.{os.getpid()}-{_where()}."


def _target(name: str) -> str | None:
    """The name of the file a staged temporary file was for, or None when `name` is not one."""
    match = _TEMP.match(name)
    return match["target"] if match else None


def is_temp(name: str, target: str | None = None) -> bool:
    """Whether `name` is a staged temporary file (of the file named `target`, when given)."""
    staged_for = _target(name)
    return staged_for is not None and (target is None or staged_for == target)


def _dead_here(name: str) -> bool:
    match = _TEMP.match(name)
    return match is not None and match["where"] == _where() and not pid_alive(int(match["pid"]))


def _remove(files: Iterable[Path]) -> int:
    removed = 0
    for path in files:
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:  # another driver swept it first
            pass
    return removed


def remove_dead_writers(root: Path) -> int:
    """Remove every temporary file under `root` whose writer ran on this machine and has exited; the count."""
    if not root.is_dir():
        return 0
    return _remove(
        Path(folder, name) for folder, _, names in os.walk(root) for name in names if _dead_here(name)
    )


def remove_temps_of(folder: Path, targets: Iterable[str] | None = None) -> int:
    """Remove the temporary files in `folder` (of the files named `targets`, when given), whoever wrote them.

    Only for a folder or files no live process may be writing: the caller holds the lock that guards them."""
    if not folder.is_dir():
        return 0
    wanted = None if targets is None else set(targets)
    with os.scandir(folder) as entries:
        stale = [
            Path(entry.path)
            for entry in entries
            if (staged_for := _target(entry.name)) is not None and (wanted is None or staged_for in wanted)
        ]
    return _remove(stale)
