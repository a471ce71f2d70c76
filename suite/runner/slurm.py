"""The slurm executor: cells as Slurm array jobs through submitit, driven by the generic `Scheduler`.

Design choice: the driver stays up and polls, rather than submitting everything fire-and-forget with sbatch
dependencies. The Scheduler already orders parents before consumers, records a failed result for a task that
Slurm killed (out of memory, time limit, node failure) exactly as the local executor does, and fails the consumers
of a failed parent without running them; fire-and-forget would need all of that again as Slurm dependency
expressions and a separate collection step. The cost is a small CPU process that must outlive the matrix (run it in
tmux, or as its own CPU job). Arrays: `start()` only queues a cell; the first `poll()` after a scheduling pass
submits every queued cell as one array job per distinct time limit (`executor.batch()`), so a matrix or shard with
no two-step sources is one array, and otherwise the roots are one array and each finished parent's consumers
another. Slurm enforces each cell's time limit (`--time` = train.timeout_min), so time spent queueing does not
count. Each task runs the same worker entry as the local executor, its output in the cell's log.txt. The results
folder and the Python environment must be on a filesystem the compute nodes share.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from suite.matrix import Cell
from suite.matrix.executor import SlurmSettings, parse_size


def run_task(spec_path: str, log_path: str) -> int:
    """A Slurm task: the worker's `main`, with stdout and stderr (file descriptors, so C code too) in log.txt."""
    from suite.runner.worker import main

    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        return main([spec_path])
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for f in (fd, *saved):
            os.close(f)


def submitit_parameters(settings: SlurmSettings, timeout_min: float, name: str) -> dict[str, Any]:
    """AutoExecutor parameters for one array: one node, one task and `gpus_per_task` GPUs per cell."""
    minutes = settings.time_min or max(1, math.ceil(timeout_min))
    params: dict[str, Any] = {
        "name": name,
        "timeout_min": minutes,
        "nodes": 1,
        "tasks_per_node": 1,
        "gpus_per_node": settings.gpus_per_task,
        "cpus_per_task": math.ceil(settings.cpus) if settings.cpus else None,
        "mem_gb": parse_size(settings.memory) / 1024**3 if settings.memory else None,
        "slurm_partition": settings.partition,
        "slurm_account": settings.account,
        "slurm_qos": settings.qos,
        "slurm_array_parallelism": settings.array_parallelism,
        "slurm_setup": settings.setup or None,
        "slurm_additional_parameters": settings.additional or None,
        # submitit's local executor (tests) takes fractional minutes: enforce the cell's timeout exactly.
        "local_timeout_min": settings.time_min or timeout_min,
    }
    return {k: v for k, v in params.items() if v is not None}


class SlurmHandle:
    """One cell: queued until the launcher submits its array, then a submitit job polled for its outcome."""

    def __init__(self, launcher: SlurmLauncher, cell: Cell, spec_path: Path, log_path: Path) -> None:
        self.launcher, self.cell, self.spec_path, self.log_path = launcher, cell, spec_path, log_path
        self.timeout_min: float = cell.config.train.timeout_min
        self.job = None
        self.submitted_at = 0.0
        self.state = ""
        self.error: str | None = None

    def poll(self) -> int | None:
        if self.job is None and self.error is None:
            self.launcher.flush()
        if self.error is not None:
            return 125
        if not self.job.done():
            return None
        self.state = str(self.job.state).upper()
        try:
            return int(self.job.result() or 0)
        except (
            Exception
        ) as exc:  # submitit's UncompletedJobError / FailedJobError: the reason is in the state
            self.error = self.error or str(exc).strip().splitlines()[0][:200]
            return 1

    def kill(self) -> None:
        if self.job is None:
            if self in self.launcher.pending:
                self.launcher.pending.remove(self)
            return
        self.job.cancel(check=False)

    def describe_exit(self, code: int) -> str:
        """Why the task left no result, from the Slurm state (or the elapsed time, on the local executor)."""
        if self.job is None:
            return f"Slurm submission failed: {self.error}"
        limit = self.launcher.settings.time_min or self.timeout_min
        elapsed_min = (time.time() - self.submitted_at) / 60
        if "TIMEOUT" in self.state or (self.launcher.cluster == "local" and elapsed_min >= limit):
            return f"timed out after {limit:g} min (train.timeout_min; Slurm --time)"
        if "OUT_OF_ME" in self.state:
            return f"out of memory: task {self.job.job_id} exceeded its Slurm memory limit (--mem)"
        return f"Slurm task {self.job.job_id} ended in state {self.state} without writing a result ({self.error})"


class SlurmLauncher:
    """The Scheduler's launcher for `--executor slurm` (submitit's local executor with cluster: local)."""

    name = "slurm"
    owns_timeouts = True

    def __init__(self, settings: SlurmSettings, folder: Path, matrix: str) -> None:
        import submitit

        self.settings, self.matrix, self.cluster = settings, matrix, settings.cluster
        self.executor = submitit.AutoExecutor(folder=folder, cluster=self.cluster)
        self.pending: list[SlurmHandle] = []
        self.arrays: list[list[str]] = []  # job ids of each submission, for the log and the tests

    def start(self, cell: Cell, spec_path: Path, log_path: Path) -> SlurmHandle:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        handle = SlurmHandle(self, cell, spec_path, log_path)
        self.pending.append(handle)
        return handle

    def environment(self) -> dict[str, Any]:
        return {"executor": f"slurm ({self.cluster})"}

    def flush(self) -> None:
        """Submit every queued cell: one array job per distinct time limit."""
        pending, self.pending = self.pending, []
        groups: dict[float, list[SlurmHandle]] = defaultdict(list)
        for handle in pending:
            groups[handle.timeout_min].append(handle)
        for timeout_min, handles in groups.items():
            self._submit(handles, timeout_min)

    def _submit(self, handles: list[SlurmHandle], timeout_min: float) -> None:
        self.executor.update_parameters(
            **submitit_parameters(self.settings, timeout_min, f"medtl-{self.matrix}")
        )
        try:
            with self.executor.batch():
                jobs = [self.executor.submit(run_task, str(h.spec_path), str(h.log_path)) for h in handles]
        except Exception as exc:  # sbatch refused (bad partition, account, time): every cell records why
            for h in handles:
                h.error = str(exc).strip().splitlines()[0][:300]
            return
        now = time.time()
        for handle, job in zip(handles, jobs):
            handle.job, handle.submitted_at = job, now
        ids = [job.job_id for job in jobs]
        self.arrays.append(ids)
        print(f"medtl-bench: submitted {len(ids)} cells to {self.cluster}: {ids[0]}..", file=sys.stderr)
