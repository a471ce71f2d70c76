"""Entry point of a cell process: `python -m suite.runner.worker CELL.json`.

It always leaves a result behind unless it is killed: a finished result, or a failed one with the reason. A user
mistake (missing weights, unverified data) is one line; anything else also puts its traceback in the cell's log.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
import traceback
from pathlib import Path

PARENT_ENV = "MEDTL_PARENT_PID"


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when the executor dies, so `kill -9` of the driver leaves no orphans."""
    parent = os.environ.get(PARENT_ENV)
    if not parent or not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        return
    if os.getppid() != int(parent):  # the driver died before prctl took effect
        os._exit(1)


def main(argv: list[str]) -> int:
    t0 = time.perf_counter()
    die_with_parent()
    # after prctl: the heavy imports (torch, timm) come with run_cell, and their time is reported separately
    from suite.errors import MissingWeightsError, UserError
    from suite.results import write_result
    from suite.runner.cell import run_cell
    from suite.runner.spec import CellSpec, failed_result, now

    imports_s = time.perf_counter() - t0
    spec = CellSpec.read(Path(argv[0]))
    started = now()
    try:
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
    print(f"cell {spec.slug}: FAILED: {error}", file=sys.stderr)
    write_result(failed_result(spec, error, started), Path(spec.result_path))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
