"""Entry point of a cell process: `python -m suite.runner.worker CELL.json`, or `run_forked` in a process forked
from the local executor's fork server (suite/runner/local.py), which has the heavy modules imported already.

It always leaves a result behind unless it is killed: a finished result, or a failed one with the reason. A user
mistake (missing weights, unverified data) is one line; anything else also puts its traceback in the cell's log.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

PARENT_ENV = "MEDTL_PARENT_PID"


def die_with_parent(parent: int | None = None) -> None:
    """Ask Linux to SIGKILL this process when its parent dies, so `kill -9` of the driver leaves no orphans.
    `parent`: the pid the parent must have (the driver's, from the environment, for a subprocess; the fork
    server's, read at once after the fork, for a forked cell)."""
    parent = parent or (int(os.environ[PARENT_ENV]) if os.environ.get(PARENT_ENV) else None)
    if parent is None or not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _name_process(name: str) -> None:
    """The name `ps -o comm`, `top` and /proc/<pid>/comm show (a forked cell's command line is the server's)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME


def die_with_driver(driver: int) -> None:
    """A forked cell's parent is the fork server, and the server outlives the driver while any cell runs (every
    child holds the server's keep-alive pipe), so the parent-death signal alone would let a cell of a `kill -9`ed
    driver train on to the end. The cell watches the driver itself: a pidfd becomes readable when that process
    exits, and a daemon thread then kills the cell's process group."""
    try:
        fd = os.pidfd_open(driver)
    except ProcessLookupError:  # the driver died before the cell started
        os._exit(1)
    except (AttributeError, OSError):  # no pidfd (not Linux ≥ 5.3): the fork server's lifetime is the bound
        return

    def watch() -> None:
        select.select([fd], [], [])
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, name="driver-watch", daemon=True).start()


def run_forked(spec_path: str, log_path: str, env: dict[str, str], cwd: str, driver: int) -> None:
    """A cell in a process forked from the fork server: its own session (so the driver can kill its group), dies
    with the driver, the driver's environment and folder as they are now (the server's are from when it started),
    output to the log."""
    die_with_parent(os.getppid())
    _name_process("medtl-cell")
    os.setsid()
    die_with_driver(driver)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 (the process's own stdout, never closed)
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    from tqdm import tqdm  # already imported by the server

    # tqdm's default lock is a multiprocessing semaphore, which a forked cell ending in os._exit would leak
    tqdm.set_lock(threading.RLock())
    code = main([spec_path], parent_checked=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _out_of_memory(exc: BaseException) -> bool:
    """An allocation refused: Python's MemoryError or torch's allocator error."""
    text = str(exc)
    return isinstance(exc, MemoryError) or "can't allocate memory" in text or "not enough memory" in text


def main(argv: list[str], parent_checked: bool = False) -> int:
    t0 = time.perf_counter()
    if not parent_checked:
        die_with_parent()
    # after prctl: the heavy imports (torch, timm) come with run_cell, and their time is reported separately
    from suite.errors import MissingWeightsError, UserError
    from suite.runner.cell import limit_memory, run_cell
    from suite.runner.spec import CellSpec, now, record_failure

    imports_s = time.perf_counter() - t0
    spec = CellSpec.read(Path(argv[0]))
    started = now()
    limit = None
    try:
        limit = limit_memory()
        result = run_cell(spec, imports_s)
        print(f"cell {spec.slug}: ok, best epoch {result.best_epoch}/{result.epochs_run}", file=sys.stderr)
        return 0
    except MissingWeightsError as exc:  # name the matrix's fetch command as well as the architecture's
        error = exc.for_matrix(spec.matrix)
    except UserError as exc:
        error = str(exc)
    except Exception as exc:  # a bug or a numerical failure: record it, keep the traceback in the log
        traceback.print_exc()
        error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        if limit and _out_of_memory(exc):
            error = f"out of memory: the cell needed more than its --memory limit of {limit / 2**30:.2f} GiB ({error})"
    print(f"cell {spec.slug}: FAILED: {error}", file=sys.stderr)
    if not record_failure(spec, error, started):
        print(f"cell {spec.slug}: kept its earlier finished result", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
