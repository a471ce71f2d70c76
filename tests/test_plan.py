"""`run --dry-run` ends with what the matrix will cost: counts per axis, what is missing, compute and disk."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from suite.cli import main

REPO = Path(__file__).resolve().parents[1]


def dry_run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["run", *argv, "--dry-run"])
    return code, out.getvalue()


@pytest.fixture
def real_lock(monkeypatch):
    monkeypatch.setenv("MEDTL_LOCK", str(REPO / "datasets.lock"))
    monkeypatch.setenv("MEDTL_DATA", "/nonexistent-medtl-data")
    monkeypatch.setenv("HF_HUB_CACHE", "/nonexistent-hub")


def test_a_paper_matrix_says_what_it_needs_and_costs(real_lock, tmp_path):
    (tmp_path / "tp.yaml").write_text("gmacs_per_s: 100000\n")
    code, out = dry_run("davila2024", "--results", str(tmp_path), "--throughput", str(tmp_path / "tp.yaml"))
    assert code == 0
    assert (
        "Axes: 8 datasets, 3 architectures, 1 sources, 8 strategies, 3 seeds, 3 sweep points → 1,728 cells"
        in out
    )
    assert "Results: 0 finished, 0 failed, 1,728 to run" in out
    assert "  dataset chexpert: not installed; Register at stanfordmlgroup" in out
    assert (
        "  weights resnet50.tv_in1k (HF hub timm/resnet50.tv_in1k); on an online machine: `medtl-bench weights fetch davila2024`"
        in out
    )
    assert "at 100,000 GMAC/s (declared in" in out and "disk:" in out
    assert out.count("\n") < 80  # the cell list is cut at 40 rows; --list shows all
    code, everything = dry_run("davila2024", "--results", str(tmp_path), "--list")
    assert everything.count("\n") > 1728


def test_the_estimate_is_checked_against_what_finished_cells_recorded(tmp_path, monkeypatch):
    """A run of the tiny matrix calibrates the throughput; a second matrix's dry-run prints its own check line."""
    from test_runner import write_matrix

    results = tmp_path / "results"
    path = write_matrix(tmp_path, epochs=1)
    only = ["--only", "strategy=ft", "--only", "seed=0"]
    assert main(["run", str(path), "--results", str(results), "--no-report", *only]) == 0
    other = tmp_path / "other.yaml"
    other.write_text(path.read_text().replace("name: tiny", "name: other"))
    assert main(["run", str(other), "--results", str(results), "--no-report", *only]) == 0
    code, out = dry_run(str(other), "--results", str(results))
    assert code == 0
    # resnet10t is not in the shipped table: its MACs come from what the finished cells recorded
    assert "compute: up to" in out and "GMAC/s (calibrated from finished results on" in out
    assert "check: for the 1 finished cells the method estimates" in out and "they recorded" in out


def test_a_bad_throughput_file_is_one_line(real_lock, tmp_path):
    (tmp_path / "tp.yaml").write_text("gmacs: fast\n")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code, _ = dry_run(
            "cpu-strategies", "--results", str(tmp_path), "--throughput", str(tmp_path / "tp.yaml")
        )
    assert code == 2
    assert err.getvalue().count("\n") == 1 and "give `gmacs_per_s: <positive number>`" in err.getvalue()


def test_a_declared_img_s_table_refines_the_estimate(real_lock, tmp_path):
    """A GPU's measured img/s for one architecture wins over the general GMAC/s for the cells that use it."""
    general = tmp_path / "general.yaml"
    general.write_text("gmacs_per_s: 1000\n")
    refined = tmp_path / "refined.yaml"
    refined.write_text("gmacs_per_s: 1000\nimg_s:\n  resnet50@224: 100000\n")
    _, before = dry_run("davila2024", "--results", str(tmp_path), "--throughput", str(general))
    _, after = dry_run("davila2024", "--results", str(tmp_path), "--throughput", str(refined))
    line = next(x for x in after.splitlines() if "compute:" in x)
    assert "1,000 GMAC/s and img/s declared for 1 architecture(s)" in line
    hours = [
        float(next(x for x in o.splitlines() if "compute:" in x).split()[3].replace(",", ""))
        for o in (before, after)
    ]
    assert hours[1] < hours[0]  # ResNet-50 cells are faster at the declared rate
    refined.write_text("img_s:\n  resnet50: 10\n")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code, _ = dry_run("davila2024", "--results", str(tmp_path), "--throughput", str(refined))
    assert code == 2 and "`img_s:` maps `<timm name>@<size>` to a positive img/s" in err.getvalue()
