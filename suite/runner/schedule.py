"""Run cells through any launcher (subprocess, container, cluster job): order, locks, timeouts, progress, Ctrl-C.

Every executor shares this loop, so results and failures are recorded the same way whatever runs the cell:
a cell that exits without a result (killed, out of memory, timed out) gets a `failed` result with the reason,
a cell whose parent failed is failed without running, and an interrupted cell gets no result at all.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tqdm import tqdm

from suite.matrix import Cell
from suite.results import RunPaths, read_result, remove_dead_writers, status_of
from suite.runner.progress import Progress, epoch_line
from suite.runner.spec import CellSpec, record_failure
from suite.runner.state import CellLock, plan, sweep_cell


class Handle(Protocol):
    """A started cell. It may also have `describe_exit(code) -> str`, the reason a result is missing (OOM, ...)."""

    def poll(self) -> int | None: ...
    def kill(self) -> None: ...


class Launcher(Protocol):
    """Starts cells. `owns_timeouts = True` says the launcher enforces train.timeout_min itself (Slurm's --time),
    so that time spent waiting in a queue does not count against a cell."""

    name: str

    def start(self, cell: Cell, spec_path: Path, log_path: Path) -> Handle: ...


@dataclass
class Summary:
    todo: int = 0
    durations: list[float] = field(default_factory=list)
    trained: list[Cell] = field(default_factory=list)
    failed: list[tuple[Cell, str]] = field(default_factory=list)
    done_before: list[Cell] = field(default_factory=list)
    done_elsewhere: list[Cell] = field(default_factory=list)
    kept_failed: list[tuple[Cell, str]] = field(default_factory=list)
    """Cells whose earlier failed result was kept (`--no-retry-failed`), with its reason: not done, not rerun."""
    interrupted: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.kept_failed and not self.interrupted


def describe_exit(code: int) -> str:
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        hint = " (out of memory?)" if -code == signal.SIGKILL else ""
        return f"cell process killed by {name}{hint}"
    return f"cell process exited with code {code} without writing a result"


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{max(1, round(seconds / 60))} min"


def _log_tail(path: Path) -> str:
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return f"; last log line: {lines[-1][:200]}" if lines else ""


@dataclass
class _Running:
    cell: Cell
    handle: Handle
    lock: CellLock
    started: float
    timeout_s: float
    bar: tqdm | None
    epoch: int = 0  # the last epoch reported


class Scheduler:
    def __init__(
        self,
        paths: RunPaths,
        launcher: Launcher,
        matrix: str,
        environment: dict,
        jobs: int = 1,
        say: Callable[[str], None] | None = None,
        allow_unverified: bool = False,
    ) -> None:
        self.paths, self.launcher, self.matrix, self.environment = paths, launcher, matrix, environment
        self.allow_unverified = allow_unverified
        self.jobs = max(1, jobs)
        self.say = say or (lambda text: tqdm.write(text, file=sys.stderr))
        self.tty = sys.stderr.isatty()

    def _spec(self, cell: Cell, by_id: dict[str, Cell]) -> CellSpec:
        return CellSpec.for_cell(
            cell, self.paths, self.matrix, self.environment, by_id, self.allow_unverified
        )

    def _record_failure(self, spec: CellSpec, reason: str) -> None:
        record_failure(spec, reason)

    def run(self, cells: list[Cell], retry_failed: bool = True, recompute: bool = False) -> Summary:
        t0 = time.perf_counter()
        remove_dead_writers(self.paths.root)  # what the cells of a killed driver were writing when they died
        todo, done, kept = plan(cells, self.paths, retry_failed, recompute)
        summary = Summary(
            todo=len(todo), done_before=done, kept_failed=[(c, self._earlier_error(c)) for c in kept]
        )
        outcome = {c.id: "ok" for c in done} | {c.id: "failed" for c in kept}
        by_id = {c.id: c for c in cells}
        waiting = list(todo)
        running: dict[str, _Running] = {}
        self._told_busy: set[str] = set()
        outer = tqdm(
            total=len(todo),
            desc=f"{self.matrix}",
            unit="cell",
            disable=not self.tty or not todo,
            position=0,
            dynamic_ncols=True,
        )
        try:
            while waiting or running:
                self._start_ready(waiting, running, outcome, by_id, summary)
                for cid in list(running):
                    self._check(running, cid, outcome, summary, by_id, outer)
                time.sleep(0.2 if running else (1.0 if waiting else 0))
        except KeyboardInterrupt:
            summary.interrupted = True
            self._stop(running)
        except BaseException:  # the driver's own error (a full disk, say): no cell outlives or keeps its lock
            self._stop(running)
            raise
        finally:
            outer.close()
        summary.seconds = time.perf_counter() - t0
        return summary

    @staticmethod
    def _stop(running: dict[str, _Running]) -> None:
        for job in running.values():
            job.handle.kill()
            job.lock.release()
            if job.bar:
                job.bar.close()

    def _earlier_error(self, cell: Cell) -> str:
        try:
            return read_result(self.paths.result(cell)).error or "unknown error"
        except (OSError, ValueError):
            return "unknown error"

    def _start_ready(self, waiting, running, outcome, by_id, summary) -> None:
        for cell in list(waiting):
            if len(running) >= self.jobs:
                return
            parent_states = [outcome.get(pid) for pid in cell.parents]
            if any(s not in (None, "ok") for s in parent_states):
                waiting.remove(cell)
                reason = f"parent cell {by_id[cell.parents[0]].slug} did not finish ({parent_states[0]})"
                self._record_failure(self._spec(cell, by_id), reason)
                outcome[cell.id] = "failed"
                summary.failed.append((cell, reason))
                continue
            if any(s is None for s in parent_states):
                continue
            lock = CellLock(self.paths.cell_dir(cell) / "lock")
            if (
                not lock.acquire()
            ):  # another driver (a shard, an orphan of a killed make) runs it: wait for it
                if cell.id not in self._told_busy:
                    self._told_busy.add(cell.id)
                    self.say(f"wait   {cell.slug}: another medtl-bench process is running it")
                continue
            waiting.remove(cell)
            if cell.id in self._told_busy and status_of(self.paths, cell) == "ok":
                lock.release()
                outcome[cell.id] = "ok"
                summary.done_elsewhere.append(cell)
                continue
            sweep_cell(self.paths, cell)
            spec = self._spec(cell, by_id)
            spec_path = self.paths.spec(cell)
            spec.write(spec_path)
            self.paths.progress(cell).unlink(missing_ok=True)
            handle = self.launcher.start(cell, spec_path, self.paths.log(cell))
            bar = tqdm(
                total=cell.config.train.epochs,
                desc=cell.slug[:60],
                unit="ep",
                leave=False,
                position=1 + len(running),
                disable=not self.tty,
                dynamic_ncols=True,
            )
            running[cell.id] = _Running(
                cell, handle, lock, time.perf_counter(), 60 * cell.config.train.timeout_min, bar
            )

    def _check(self, running, cid, outcome, summary, by_id, outer) -> None:
        job = running[cid]
        code = job.handle.poll()
        progress = Progress.read(self.paths.progress(job.cell))
        self._report_epoch(job, progress)
        if code is None:
            if getattr(self.launcher, "owns_timeouts", False) or progress.work_seconds() <= job.timeout_s:
                return
            job.handle.kill()
            reason = (
                f"timed out after {job.timeout_s / 60:g} min of work (train.timeout_min; imports and profiling"
                f" not counted): {progress.describe()}"
            )
            self._record_failure(self._spec(job.cell, by_id), reason)
        elif status_of(self.paths, job.cell) == "missing":
            describe = getattr(job.handle, "describe_exit", describe_exit)
            self._record_failure(
                self._spec(job.cell, by_id), describe(code) + _log_tail(self.paths.log(job.cell))
            )
        del running[cid]
        sweep_cell(self.paths, job.cell)  # a cell killed mid-write (timeout, OOM) leaves its temporary file
        job.lock.release()
        if job.bar is not None:
            job.bar.close()
        result = read_result(self.paths.result(job.cell))
        outcome[cid] = result.status
        seconds = time.perf_counter() - job.started
        summary.durations.append(seconds)
        if result.status == "ok":
            summary.trained.append(job.cell)
            test = result.metrics.get("test") or result.metrics.get("val")
            shown = (
                ", ".join(f"{m}={test.get(m):.3f}" for m in result.config.dataset.metrics[:2]) if test else ""
            )
            flag = " DIVERGED" if result.diverged else ""
            self.say(f"done   {job.cell.slug} ({seconds / 60:.1f} min){flag} {shown} {self._tally(summary)}")
        else:
            summary.failed.append((job.cell, result.error or "unknown error"))
            self.say(
                f"FAILED {job.cell.slug}: {result.error} (log: {self.paths.log(job.cell)}) {self._tally(summary)}"
            )
        outer.update(1)

    def _tally(self, summary: Summary) -> str:
        """`[5/8 done, 1 failed, 2 to go, ETA 3 min]`: the ETA from this run's finished cells' durations."""
        finished = len(summary.trained) + len(summary.failed)
        left = summary.todo - finished
        eta = ""
        if left and summary.durations:
            mean = sum(summary.durations) / len(summary.durations)
            eta = f", ETA {_duration(mean * left / self.jobs)}"
        return f"[{finished}/{summary.todo} done, {len(summary.failed)} failed, {left} to go{eta}]"

    def _report_epoch(self, job: _Running, progress: Progress) -> None:
        """New epochs: the progress bar on a terminal, else one plain line each."""
        new = [e for e in progress.history if e["epoch"] > job.epoch]
        if not new:
            return
        job.epoch = new[-1]["epoch"]
        if job.bar is not None and self.tty:
            job.bar.n = job.epoch
            monitor = progress.state.get("monitor", "loss")
            value = new[-1].get(f"val_{monitor}")
            if isinstance(value, float):
                job.bar.set_postfix_str(f"val {monitor}={value:.4f}", refresh=False)
            job.bar.refresh()
            return
        for entry in new:
            self.say(epoch_line(job.cell.slug, entry, progress.state["epochs"], progress.work_seconds()))
