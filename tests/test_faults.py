"""The fault suite (`make test-faults`): every fault a long matrix meets, injected for real, and what the suite did.

Each test runs `medtl-bench run` as a user would (a driver process, cells forked from its fork server) on the tiny
matrix, injects one kind of fault, and checks the promises: the fault becomes a failed result with a one-line
reason (or, for the driver's own death, nothing at all), the other cells finish, nothing already finished is lost,
no temp file or duplicate result is left, no traceback reaches the terminal, and the next run completes the matrix
with the metrics an uninterrupted run gives. Each test adds a row to the counts table printed at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from suite.results import load_results

REPO = Path(__file__).resolve().parents[1]
FAULTS = Path(__file__).with_name("faults")
pytestmark = [pytest.mark.slow, pytest.mark.faults]

MATRIX = """
name: f
datasets: [synthetic-vessels]
architectures: ["timm:resnet10t"]
sources: [scratch]
strategies: [ft, lp]
seeds: {seeds}
train: {{epochs: {epochs}, batch_size: 16, image_size: 32, threads: 1, timeout_min: {timeout}{extra},
        profile: {{warmup: 1, iterations: 3, batch_sizes: [1]}}}}
"""


@dataclass
class Count:
    fault: str
    injected: int = 0
    failed_results: int = 0  # cells recorded as failed, each with a one-line reason
    finished: int = 0  # cells that finished in the end (other cells, or the same ones on the next run)
    lost: int = 0  # finished results that went missing
    duplicates: int = 0
    temp_files: int = 0  # temporary files left when the run (or the resume after a kill) is over
    swept: int = 0  # temporary files a `kill -9` cut short, each removed by the next run
    tracebacks: int = (
        0  # tracebacks on the driver's terminal (a user's mistake or a cell's fault must not print one)
    )


COUNTS: list[Count] = []


def matrix(tmp: Path, seeds="[0]", epochs=2, timeout=5.0, extra="") -> Path:
    path = tmp / "f.yaml"
    path.write_text(MATRIX.format(seeds=seeds, epochs=epochs, timeout=timeout, extra=extra))
    return path


def driver(path: Path, results: Path, *extra: str, fault: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(FAULTS), str(REPO)])}
    env.pop("MEDTL_TEST_FAULT", None)
    if fault:
        env["MEDTL_TEST_FAULT"] = fault
    cmd = [sys.executable, "-m", "suite", "run", str(path), "--results", str(results), "--no-report", *extra]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, count: Count, timeout: float = 900) -> tuple[int, str]:
    out, err = proc.communicate(timeout=timeout)
    count.tracebacks += (out + err).count("Traceback (most recent call last)")
    return proc.returncode, err


def audit(results: Path, count: Count, temps: bool = True) -> dict[str, dict]:
    """Results by cell id; counts duplicates and (with `temps`) temp files, and checks every file is a valid
    result. `temps=False` right after a `kill -9`: the temporary file of a write the kill cut short is expected
    there, and the next run must sweep it (suite/results/temps.py)."""
    runs = results / "f" / "runs"
    if temps:
        count.temp_files += len(temps_in(results))
    found = load_results(runs) if runs.is_dir() else []
    ids = [r.cell_id for r in found]
    count.duplicates += len(ids) - len(set(ids))
    return {r.cell_id: r for r in found}


def temps_in(results: Path) -> set[Path]:
    return {p for p in (results / "f").rglob("*") if p.name.endswith(".tmp") or ".tmp." in p.name}


def metrics_of(found: dict) -> dict[str, dict]:
    return {cid: r.metrics["test"].scalars if "test" in r.metrics else {} for cid, r in found.items()}


def record(count: Count) -> None:
    COUNTS.append(count)
    assert count.lost == 0 and count.duplicates == 0 and count.temp_files == 0 and count.tracebacks == 0, (
        count
    )


def cell_pids(results: Path) -> list[int]:
    """Live cells of a results folder, from the pid each forked cell writes into its progress.json."""
    pids = []
    for progress in results.glob("*/work/*/progress.json"):
        try:
            pid = json.loads(progress.read_text())["pid"]
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, ValueError, KeyError):
            continue
        if Path(f"/proc/{pid}/comm").read_text().strip() == "medtl-cell" and state != "Z":
            pids.append(pid)
    return pids


def wait_for(condition, timeout: float = 180) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_an_exception_in_a_strategy_hook(tmp_path):
    count = Count("exception in a strategy hook")
    results = tmp_path / "r"
    code, err = finish(driver(matrix(tmp_path), results, "--only", "strategy=ft", fault="hook"), count)
    count.injected = 1
    found = audit(results, count)
    (result,) = found.values()
    count.failed_results = int(result.status == "failed")
    assert code == 1 and result.error == "RuntimeError: injected fault: the strategy's epoch hook failed"
    assert "FAILED" in err and "injected fault" in err
    log = next((results / "f" / "work").glob("*/log.txt")).read_text()
    assert "Traceback" in log  # the traceback is kept, in the cell's log
    code, _ = finish(driver(matrix(tmp_path), results, "--only", "strategy=ft"), count)
    count.finished = sum(r.status == "ok" for r in audit(results, count).values())
    assert code == 0 and count.finished == 1
    record(count)


def test_a_diverging_loss(tmp_path):
    """SGD at an absurd learning rate: the loss turns inf/NaN, the cell stops at once and says where."""
    count = Count("NaN loss")
    results = tmp_path / "r"
    path = matrix(tmp_path, extra=", optimizer: sgd, lr: 1.0e+12")
    code, _ = finish(driver(path, results, "--only", "strategy=ft"), count)
    count.injected = 1
    (result,) = audit(results, count).values()
    count.failed_results = int(result.status == "failed")
    assert code == 1 and "training diverged" in result.error and "at epoch 1, step" in result.error
    record(count)


def test_a_timeout(tmp_path):
    count = Count("timeout")
    results = tmp_path / "r"
    # no early stopping: on a quiet machine the tiny cell would otherwise stop well inside its 6 s of work
    path = matrix(tmp_path, epochs=200, timeout=0.1, extra=", early_stopping: {patience: null}")
    code, _ = finish(driver(path, results, "--only", "strategy=ft"), count)
    count.injected = 1
    (result,) = audit(results, count).values()
    count.failed_results = int(result.status == "failed")
    assert code == 1 and "timed out" in result.error and "training" in result.error
    assert not cell_pids(results)
    record(count)


def test_a_memory_limit(tmp_path):
    """`--memory 1g` on the local executor: an allocation past it fails in that cell, with a one-line reason."""
    count = Count("memory limit (RLIMIT_AS)")
    results = tmp_path / "r"
    code, _ = finish(
        driver(matrix(tmp_path), results, "--only", "strategy=ft", "--memory", "1g", fault="allocate"), count
    )
    count.injected = 1
    (result,) = audit(results, count).values()
    count.failed_results = int(result.status == "failed")
    assert code == 1 and result.error.startswith(
        "out of memory: the cell needed more than its --memory limit of 1.00"
    )
    record(count)


def test_a_killed_worker(tmp_path):
    """The kernel's OOM killer (SIGKILL) takes one cell: it is recorded as failed, the next cell runs."""
    count = Count("killed worker (SIGKILL)")
    results = tmp_path / "r"
    proc = driver(matrix(tmp_path, seeds="[0, 1]", epochs=30), results, "--only", "strategy=ft")
    assert wait_for(lambda: cell_pids(results)), "no cell started"
    for pid in cell_pids(results)[:1]:
        os.kill(pid, signal.SIGKILL)
        count.injected += 1
    code, _ = finish(proc, count)
    found = audit(results, count)
    failed = [r for r in found.values() if r.status == "failed"]
    count.failed_results = len(failed)
    count.finished = sum(r.status == "ok" for r in found.values())
    assert code == 1 and len(failed) == 1 and "SIGKILL" in failed[0].error and count.finished == 1
    record(count)


def test_the_driver_killed_at_random_moments(tmp_path):
    """`kill -9` of the driver ten times, at moments drawn from a seeded RNG, each followed by a resume: every
    finished result survives, none is duplicated or half-written, no cell outlives its driver, the resume removes
    the temporary files of the writes the kills cut short, and the final results equal an uninterrupted run's,
    metric for metric."""
    count = Count("killed driver ×10 (SIGKILL)")
    path = matrix(tmp_path, seeds="[0, 1, 2]", epochs=2)
    reference = tmp_path / "reference"
    code, _ = finish(driver(path, reference), count)
    expected = metrics_of(audit(reference, count))
    assert code == 0 and len(expected) == 6
    rng = random.Random(19)
    segment, segments, left = 0, [], set()
    while count.injected < 10:
        results = tmp_path / f"killed{segment}"
        before = audit(results, count, temps=False)
        proc = driver(path, results)
        time.sleep(rng.uniform(1.0, 12.0))
        if proc.poll() is not None:  # the matrix finished before this kill: a fresh folder for the next ones
            finish(proc, count)
            segments.append(results)
            segment += 1
            continue
        proc.kill()
        proc.communicate()
        count.injected += 1
        assert wait_for(lambda r=results: not cell_pids(r), timeout=10), "a cell outlived its driver"
        after = audit(results, count, temps=False)
        left |= temps_in(results)
        count.lost += sum(
            1 for cid, r in before.items() if after.get(cid) is None or after[cid].status != r.status
        )
    segments.append(tmp_path / f"killed{segment}")
    for results in segments:
        code, _ = finish(driver(path, results), count)
        found = audit(results, count)
        assert code == 0 and metrics_of(found) == expected
    count.finished, count.swept = len(expected), sum(1 for p in left if not p.exists())
    record(count)


def test_two_drivers_on_one_matrix(tmp_path):
    count = Count("two drivers on one matrix")
    results = tmp_path / "r"
    path = matrix(tmp_path, seeds="[0, 1]", epochs=3)
    first = driver(
        path, results, fault="slow"
    )  # epochs start 2 s late: the second driver meets a running cell
    assert wait_for(lambda: cell_pids(results))
    second = driver(path, results)
    count.injected = 1
    (code1, _), (code2, err2) = finish(first, count), finish(second, count)
    found = audit(results, count)
    count.finished = sum(r.status == "ok" for r in found.values())
    assert code1 == 0 and code2 == 0 and count.finished == 4
    assert "another medtl-bench process is running it" in err2
    record(count)


def _tmpfs(target: Path, size: str) -> bool:
    target.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target)], capture_output=True
    )
    return done.returncode == 0


def test_a_full_disk_while_writing_results(tmp_path):
    """The runs folder on a tmpfs that is full: the cell's result cannot be written, the run says so in one line
    and leaves no partial file; once there is room, the next run computes the cell."""
    count = Count("disk full while writing a result")
    results = tmp_path / "r"
    runs = results / "f" / "runs"
    if not _tmpfs(runs, "256k"):
        pytest.skip("mounting a tmpfs needs root (CAP_SYS_ADMIN)")
    try:
        filler = runs / "filler"
        with filler.open("wb", buffering=0) as f, contextlib.suppress(OSError):
            while True:  # unbuffered: the write that hits the limit raises here, not at close
                f.write(b"\0" * 4096)
        code, err = finish(driver(matrix(tmp_path), results, "--only", "strategy=ft"), count)
        count.injected = 1
        assert code == 1 and "No space left on device" in err
        assert not [p for p in runs.iterdir() if p.name != "filler"]
        filler.unlink()
        code, _ = finish(driver(matrix(tmp_path), results, "--only", "strategy=ft"), count)
        found = audit(results, count)
        count.finished = sum(r.status == "ok" for r in found.values())
        assert code == 0 and count.finished == 1
    finally:
        subprocess.run(["umount", "-l", str(runs)], capture_output=True)
    record(count)


def test_a_corrupt_result_from_an_older_version(tmp_path):
    """A result file that no longer parses (truncated, or written by an older version with other fields): the
    report names it and still writes the board, and the next run computes the cell again."""
    from suite.cli import main

    count = Count("corrupt result JSON (old version)")
    results = tmp_path / "r"
    path = matrix(tmp_path, seeds="[0, 1]")
    code, _ = finish(driver(path, results, "--only", "strategy=ft"), count)
    files = sorted((results / "f" / "runs").glob("*.json"))
    assert code == 0 and len(files) == 2
    old = json.loads(files[0].read_text())
    # a layout the schema never had: metrics as a list of pairs, the config under another key
    old["metrics"], old["cfg"] = [["accuracy", 0.5]], old.pop("config")
    files[0].write_text(json.dumps(old))
    files[1].write_text(files[1].read_text()[:300])  # truncated by a crash of a version without atomic writes
    count.injected = 2
    assert main(["report", str(path), "--results", str(results)]) == 0
    board = (results / "f" / "LEADERBOARD.md").read_text()
    assert "2 unreadable result file(s), listed below" in board and "## Unreadable result files" in board
    code, _ = finish(driver(path, results, "--only", "strategy=ft"), count)
    found = audit(results, count)
    count.finished = sum(r.status == "ok" for r in found.values())
    assert code == 0 and count.finished == 2
    record(count)
