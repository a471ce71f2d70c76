"""The local executor: one subprocess per cell, so a crash, OOM or hang in one cell cannot take down the matrix."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from suite.matrix import Cell
from suite.runner.worker import PARENT_ENV


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


class SubprocessLauncher:
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
