"""The local executor end to end: one process per cell, atomic results, resume, kill -9, failures and timeouts."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from suite.cli import main
from suite.results import CellResult, atomic_write_bytes, load_results

REPO = Path(__file__).resolve().parents[1]

TINY = """
name: tiny
datasets: [synthetic-vessels]
architectures: ["timm:resnet10t"]
sources: [scratch]
strategies: [ft, lp]
seeds: [0, 1]
train: {{epochs: {epochs}, batch_size: 16, image_size: 32, threads: 1, timeout_min: {timeout},
        profile: {{warmup: 1, iterations: 3, batch_sizes: [1]}}}}
"""


def write_matrix(tmp_path: Path, epochs: int = 1, timeout: float = 5, grids: str = "") -> Path:
    """The tiny matrix; `grids` replaces its sources/strategies/seeds axes with a grids section."""
    text = TINY.format(epochs=epochs, timeout=timeout)
    if grids:
        text = "\n".join(
            line for line in text.splitlines() if not line.startswith(("sources", "strategies", "seeds"))
        )
        text += grids
    path = tmp_path / "tiny.yaml"
    path.write_text(text)
    return path


def runs(results: Path) -> list[Path]:
    return sorted((results / "tiny" / "runs").glob("*"))


def start_driver(tmp_path: Path, epochs: int, *only: str, stderr=subprocess.DEVNULL, slow: bool = False):
    """`medtl-bench run` of the tiny matrix in a child process, returned once a cell is training (or after 120 s),
    with its command line and results folder; `only` are `--only` filters. `slow`: every epoch of the driver's
    cells starts 2 s late (tests/faults/sitecustomize.py), so a cell is still training when the test acts, however
    fast or loaded the machine."""
    results = tmp_path / "results"
    cmd = [sys.executable, "-m", "suite", "run", str(write_matrix(tmp_path, epochs=epochs))]
    cmd += ["--results", str(results), "--no-report", *[a for f in only for a in ("--only", f)]]
    env = {**os.environ}
    if slow:
        faults = Path(__file__).with_name("faults")
        env |= {"PYTHONPATH": os.pathsep.join([str(faults), str(REPO)]), "MEDTL_TEST_FAULT": "slow"}
    # SIGINT as a terminal gives it: a CI job or a `nohup … &` shell starts its children with SIGINT ignored, and
    # Python then leaves it ignored, so the Ctrl-C test would test the shell, not the driver
    driver = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 120
    while time.time() < deadline and not list((results / "tiny" / "work").glob("*/progress.json")):
        time.sleep(0.2)
    return driver, cmd, results


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One real run of the tiny matrix (4 cells, 4 processes), shared by the tests below."""
    tmp = tmp_path_factory.mktemp("run")
    results = tmp / "results"
    code = main(["run", str(write_matrix(tmp)), "--results", str(results)])
    return code, tmp, results


def test_run_writes_one_result_per_cell_and_a_report(finished):
    code, _, results = finished
    assert code == 0
    files = runs(results)
    assert len([f for f in files if f.suffix == ".json"]) == 4
    assert len([f for f in files if f.suffix == ".npz"]) == 4
    assert not [f for f in files if f.name.endswith(".tmp")]
    for result in load_results(results / "tiny" / "runs"):
        assert result.status == "ok"
        assert result.environment["torch"] and result.environment["datasets_lock"]
        assert result.params["total"] >= result.params["trainable"] > 0
        assert result.config.train.epochs == 1
        # training steps and validation passes apart (benchmarks/overhead.py splits a cell's time by them)
        assert result.timings["validate_s"] > 0 and result.timings["train_s"] > 0
    board = (results / "tiny" / "LEADERBOARD.md").read_text()
    assert "## synthetic-vessels" in board and "4 finished, 0 failed, 0 missing" in board
    assert (results / "tiny" / "results.csv").is_file()
    assert (results / "tiny" / "work").is_dir()


def test_second_run_trains_nothing(finished, capsys):
    _, tmp, results = finished
    before = {p: p.stat().st_mtime_ns for p in runs(results)}
    assert main(["run", str(write_matrix(tmp)), "--results", str(results), "--no-report"]) == 0
    assert "0 trained, 4 already done" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in runs(results)} == before


def test_a_changed_config_is_a_new_cell(finished, capsys):
    _, tmp, results = finished
    path = write_matrix(tmp)
    assert main(["run", str(path), "--results", str(results), "--dry-run", "--only", "strategy=ft"]) == 0
    assert capsys.readouterr().out.count(" ok") == 2
    path.write_text(path.read_text().replace("batch_size: 16", "batch_size: 8"))
    assert main(["run", str(path), "--results", str(results), "--dry-run", "--only", "strategy=ft"]) == 0
    assert capsys.readouterr().out.count("missing") == 2


def _workers_alive(marker: str) -> list[int]:
    """Live cell processes of the results folder `marker`: a subprocess cell names its spec on its command line; a
    forked cell (named `medtl-cell`) records its pid in its progress.json."""
    pids = set()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if "suite.runner.worker" in cmd and marker in cmd:
                pids.add(int(proc.name))
    for progress in Path(marker).glob("*/work/*/progress.json"):
        try:
            pid = json.loads(progress.read_text())["pid"]
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, ValueError, KeyError):
            continue
        if comm == "medtl-cell" and state != "Z":
            pids.add(pid)
    return sorted(pids)


def test_kill_9_of_the_driver_then_resume(tmp_path):
    """SIGKILL the driver mid-cell: no partial result, no orphan, and the next run completes the matrix once."""
    driver, cmd, results = start_driver(tmp_path, 4)
    assert driver.poll() is None, "the driver finished before it could be killed"
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    time.sleep(1.5)
    assert _workers_alive(str(results)) == []
    partial = [p for p in runs(results) if p.suffix == ".json"]
    assert len(partial) < 4 and not [p for p in runs(results) if p.name.endswith(".tmp")]
    for p in partial:
        CellResult.model_validate_json(p.read_text())
    assert subprocess.run(cmd, capture_output=True, timeout=600).returncode == 0
    final = load_results(results / "tiny" / "runs")
    assert len(final) == 4 and len({r.cell_id for r in final}) == 4 and all(r.status == "ok" for r in final)


def test_ctrl_c_of_the_driver_stops_its_cells_and_keeps_what_finished(tmp_path):
    """SIGINT (Ctrl-C) mid-cell: exit 130 with the resume hint, the running cell is stopped (no orphan, no result,
    no temp file: it was not finished, so it is not 'failed' either), and the next run completes the matrix."""
    driver, cmd, results = start_driver(tmp_path, 4, stderr=subprocess.PIPE, slow=True)
    assert driver.poll() is None, "the driver finished before it could be interrupted"
    driver.send_signal(signal.SIGINT)
    _, err = driver.communicate(timeout=60)
    assert driver.returncode == 130 and "run the same command to resume" in err
    time.sleep(1.0)
    assert _workers_alive(str(results)) == []
    assert not [p for p in runs(results) if p.name.endswith(".tmp")]
    assert all(r.status == "ok" for r in load_results(results / "tiny" / "runs"))
    assert subprocess.run(cmd, capture_output=True, timeout=600).returncode == 0
    final = load_results(results / "tiny" / "runs")
    assert len(final) == 4 and len({r.cell_id for r in final}) == 4


def test_failures_are_recorded_and_the_matrix_goes_on(tmp_path, capsys):
    """A missing weight and a timeout each become a failed result with the reason; the other cells finish."""
    grids = """
grids:
  - {sources: [scratch], strategies: [ft]}
  - {sources: [imagenet], strategies: [lp]}
  - {sources: [scratch], strategies: [{name: ft, train: {timeout_min: 0.001, epochs: 50}}]}
seeds: [0]
"""
    results = tmp_path / "results"
    os.environ["HF_HUB_CACHE"] = str(tmp_path / "empty-hub")
    try:
        code = main(["run", str(write_matrix(tmp_path, grids=grids)), "--results", str(results)])
    finally:
        del os.environ["HF_HUB_CACHE"]
    err = capsys.readouterr().err
    assert code == 1
    by_status = {r.status: r for r in load_results(results / "tiny" / "runs")}
    results_list = load_results(results / "tiny" / "runs")
    errors = sorted(r.error for r in results_list if r.status == "failed")
    assert len(results_list) == 3 and sum(r.status == "ok" for r in results_list) == 1
    (weights,) = [e for e in errors if "weights fetch" in e]
    assert (
        "`medtl-bench weights fetch tiny`" in weights
        and "`medtl-bench weights fetch --arch timm:resnet10t`" in weights
    )
    assert any("timed out" in e and "imports" in e and "not counted" in e for e in errors)
    assert "2 failed" in err and by_status["ok"]
    board = (results / "tiny" / "LEADERBOARD.md").read_text()
    assert "## Failed cells" in board and "1 finished, 2 failed" in board


def test_a_killed_cell_is_recorded_as_failed(tmp_path):
    """A cell process that dies (the OOM killer's SIGKILL) gets a failed result; the driver carries on."""
    driver, _, results = start_driver(tmp_path, 30, "seed=0", "strategy=ft")
    for pid in _workers_alive(str(results)):
        os.kill(pid, signal.SIGKILL)
    assert driver.wait(timeout=60) == 1
    (result,) = load_results(results / "tiny" / "runs")
    assert result.status == "failed" and "SIGKILL" in result.error


def test_atomic_write_leaves_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "r.json"
    atomic_write_bytes(target, b"old")

    def boom(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
    json.dumps({})


def test_two_drivers_share_a_matrix_without_duplicates(tmp_path):
    """A second driver (a shard, or a rerun while an orphaned driver still runs) waits for cells another holds."""
    first, cmd, results = start_driver(tmp_path, 12, "seed=0", slow=True)  # the second driver meets it
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert first.wait(timeout=600) == 0 and second.returncode == 0
    assert "another medtl-bench process is running it" in second.stderr
    final = load_results(results / "tiny" / "runs")
    assert len(final) == 2 and len({r.cell_id for r in final}) == 2 and all(r.status == "ok" for r in final)


def test_a_run_talks_while_it_runs(tmp_path, capfd):
    """Without a terminal: one plain line per epoch and one per finished cell with the tally; the cell's log holds
    plain lines (no progress-bar frames), metrics.csv one row per epoch, TensorBoard events when asked."""
    grids = "\ngrids:\n  - {sources: [scratch], strategies: [ft]}\nseeds: [0]\n"
    path = write_matrix(tmp_path, epochs=2, grids=grids)
    path.write_text(path.read_text().replace("threads: 1,", "threads: 1, log: [tensorboard],"))
    results = tmp_path / "results"
    assert main(["run", str(path), "--results", str(results), "--no-report"]) == 0
    err = capfd.readouterr().err
    for epoch in (1, 2):
        assert re.search(rf"^epoch {epoch}/2 synthetic-vessels\.\S+ train_loss=\d\S* val_loss=\d", err, re.M)
    assert re.search(r"^done   synthetic-vessels\..*\[1/1 done, 0 failed, 0 to go\]$", err, re.M)
    (work,) = [p for p in (results / "tiny" / "work").iterdir() if p.name != "networks"]
    log = (work / "log.txt").read_text()
    assert "\r" not in log and len(re.findall(r"^epoch \d/2 ", log, re.M)) == 2
    with (work / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2"] and {"train_loss", "val_loss", "lr", "img_s"} <= set(
        rows[0]
    )
    assert list((work / "tensorboard").glob("events.out.tfevents.*"))


def test_the_timeout_counts_the_cells_work_only():
    """Imports and profiling are not the cell's work: only setup, training and evaluation count."""
    from suite.runner.progress import Progress

    state = {
        "stage": "profiling",
        "stage_started": 1000.0,
        "stage_seconds": {"imports": 30.0, "setup": 2.0, "training": 50.0, "evaluating": 3.0},
        "epochs": 6,
        "history": [{"epoch": 6}],
    }
    assert Progress(state).work_seconds(now=1500.0) == 55.0
    training = {**state, "stage": "training", "stage_seconds": {"imports": 30.0, "setup": 2.0}}
    assert Progress(training).work_seconds(now=1005.0) == 2.0 + 5.0
    assert Progress({}).work_seconds() == 0.0
    assert "imports 30 s" in Progress(state).describe(now=1500.0)


def test_recompute_runs_finished_cells_again_and_a_failure_never_replaces_a_finished_result(tmp_path):
    """`run --recompute` (e.g. to rebuild checkpoints for an analysis) trains the chosen finished cells again with
    the same metrics; a recomputation that fails keeps the finished result."""
    from suite.runner.spec import CellSpec, record_failure

    results = tmp_path / "results"
    path = write_matrix(tmp_path)
    only = ["--only", "strategy=ft", "--only", "seed=0"]
    assert main(["run", str(path), "--results", str(results), "--no-report", *only]) == 0
    (first,) = load_results(results / "tiny" / "runs")
    (work,) = [p for p in (results / "tiny" / "work").iterdir() if p.name != "networks"]
    (work / "best.pt").unlink()
    assert main(["run", str(path), "--results", str(results), "--no-report", *only, "--recompute"]) == 0
    (again,) = load_results(results / "tiny" / "runs")
    assert again.finished_at != first.finished_at and (work / "best.pt").is_file()
    assert again.metrics["test"].scalars == first.metrics["test"].scalars
    spec = CellSpec.read(work / "cell.json")
    assert record_failure(spec, "killed") is False
    assert load_results(results / "tiny" / "runs")[0].status == "ok"
