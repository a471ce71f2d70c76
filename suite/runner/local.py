"""The local executor: one process per cell, so a crash, OOM or hang in one cell cannot take down the matrix.

By default each cell is forked from a fork server (Python's `multiprocessing` "forkserver" start method) that has
imported torch, timm, peft and the suite once: a cell starts in milliseconds instead of paying seconds of imports,
and is still its own process with its own memory, its own session (the driver kills its whole group) and a
parent-death signal. `MEDTL_FORKSERVER=0` starts every cell as a fresh interpreter instead
(`python -m suite.runner.worker`), which costs the imports again.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path

from suite.matrix import Cell
from suite.runner.gpus import GpuPool, physical_id
from suite.runner.worker import PARENT_ENV, run_forked

FORKSERVER_ENV = "MEDTL_FORKSERVER"
PRELOAD = ["suite.runner.cell"]
"""What the fork server imports before it forks a cell: run_cell and, with it, torch, timm, peft and the suite."""


class ProcessHandle:
    def __init__(self, proc: subprocess.Popen, log) -> None:
        self.proc, self.log = proc, log

    def poll(self) -> int | None:
        code = self.proc.poll()
        if code is not None and not self.log.closed:
            self.log.close()
        return code

    def kill(self) -> None:
        """SIGKILL the cell's whole process group (it may have spawned helpers) and reap it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.log.close()


class ForkedHandle:
    """A cell forked from the fork server (exit codes as subprocess's: negative for a signal)."""

    def __init__(self, proc: multiprocessing.process.BaseProcess) -> None:
        self.proc = proc

    def poll(self) -> int | None:
        return self.proc.exitcode

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.join()


class SubprocessLauncher:
    """Every cell a fresh interpreter."""

    name = "local"

    def __init__(self, extra_env: dict[str, str] | None = None) -> None:
        self.extra_env = extra_env or {}

    def start(self, cell: Cell, spec_path: Path, log_path: Path) -> ProcessHandle:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = log_path.open("w")
        env = {**os.environ, **self.extra_env, PARENT_ENV: str(os.getpid()), "PYTHONUNBUFFERED": "1"}
        # A new session: the terminal's Ctrl-C reaches only the driver, which then kills cells without recording
        # them as failed (an interrupted cell is not a failed one).
        proc = subprocess.Popen(
            [sys.executable, "-m", "suite.runner.worker", str(spec_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        return ProcessHandle(proc, log)


class ForkServerLauncher:
    """Every cell forked from one server process that imported the heavy modules once (the module docstring)."""

    name = "local"

    def __init__(self, extra_env: dict[str, str] | None = None) -> None:
        self.extra_env = extra_env or {}
        self.ctx = multiprocessing.get_context("forkserver")
        self.ctx.set_forkserver_preload(PRELOAD)

    def start(self, cell: Cell, spec_path: Path, log_path: Path) -> ForkedHandle:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.extra_env, "PYTHONUNBUFFERED": "1"}
        args = (str(spec_path), str(log_path), env, os.getcwd(), os.getpid())
        proc = self.ctx.Process(target=run_forked, args=args, name=f"cell {cell.id}")
        proc.start()
        return ForkedHandle(proc)


class PinnedHandle:
    """A cell pinned to one GPU of the pool (CUDA_VISIBLE_DEVICES); the GPU goes back when the cell is over."""

    def __init__(self, handle: ProcessHandle | ForkedHandle, pool: GpuPool, gpu: str) -> None:
        self.handle, self.pool, self.gpu = handle, pool, gpu

    def _release(self) -> None:
        if self.gpu is not None:
            self.pool.release(self.gpu)
            self.gpu = None

    def poll(self) -> int | None:
        code = self.handle.poll()
        if code is not None:
            self._release()
        return code

    def kill(self) -> None:
        self.handle.kill()
        self._release()


class GpuLauncher:
    """Local cells spread over the host's GPUs, `--cells-per-gpu` on each (suite.runner.gpus)."""

    name = "local"

    def __init__(self, inner: SubprocessLauncher | ForkServerLauncher, pool: GpuPool) -> None:
        self.inner, self.pool = inner, pool

    def start(self, cell: Cell, spec_path: Path, log_path: Path) -> PinnedHandle:
        gpu = self.pool.acquire()
        # the cell sees one GPU, as cuda:0; the fork server never initialised CUDA, so the variable still counts
        self.inner.extra_env = {**self.inner.extra_env, "CUDA_VISIBLE_DEVICES": physical_id(gpu)}
        try:
            return PinnedHandle(self.inner.start(cell, spec_path, log_path), self.pool, gpu)
        except BaseException:
            self.pool.release(gpu)
            raise


def local_launcher(
    extra_env: dict[str, str], pool: GpuPool | None = None
) -> SubprocessLauncher | ForkServerLauncher | GpuLauncher:
    """The fork server unless `MEDTL_FORKSERVER=0` (or the platform has no fork server); over the pool's GPUs when
    there are any."""
    wanted = os.environ.get(FORKSERVER_ENV, "1") != "0"
    if wanted and "forkserver" in multiprocessing.get_all_start_methods():
        inner: SubprocessLauncher | ForkServerLauncher = ForkServerLauncher(extra_env)
    else:
        inner = SubprocessLauncher(extra_env)
    return GpuLauncher(inner, pool) if pool is not None and pool.ids else inner
