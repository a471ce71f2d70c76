"""`medtl-bench report MATRIX --compare OLD`: what is flagged, what is not, and the exit code nightly CI relies on."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from report_fixtures import load, write_results

from suite.catalog import SuiteCatalog
from suite.cli import main
from suite.matrix.report import CompareConfig
from suite.report.leaderboard import write_report

MATRIX = """
name: nightly
datasets: [synthetic-vessels]
architectures: [resnet18]
sources: [scratch]
strategies: [ft, lp]
seeds: 3
report: {tables: [davila]}
"""


def spec(
    shift: dict | None = None,
    latency: dict | None = None,
    fail: tuple | None = None,
    device=None,
    params: int = 11_000,
    macs: float = 1.5,
):
    """Seed s of ft has accuracy 0.80 + 0.01·s (lp 0.70 + ...), moved by `shift[strategy]`."""
    shift, latency = shift or {}, latency or {}

    def of(cell) -> dict:
        k = cell.key
        if fail == (k["strategy"], k["seed"]):
            return {"status": "failed", "error": "killed (exit -9)"}
        acc = {"ft": 0.80, "lp": 0.70}[k["strategy"]] + 0.01 * k["seed"] + shift.get(k["strategy"], 0.0)
        return {
            "val": acc,
            "test": acc,
            "latency_ms": 2.0 * latency.get(k["strategy"], 1.0),
            "params": params,
            "macs": macs,
        }

    return of


@pytest.fixture
def setup(tmp_path):
    path = tmp_path / "nightly.yaml"
    path.write_text(MATRIX)
    matrix = load(path, SuiteCatalog())
    old = write_results(matrix, tmp_path / "old", spec())
    return tmp_path, path, matrix, old


def report(tmp_path: Path, matrix, of, old: Path, cfg: CompareConfig | None = None):
    new = write_results(matrix, tmp_path / "new", of)
    outcome = write_report(matrix, new, old.root, cfg or CompareConfig())
    text = outcome.path.read_text()
    shutil.rmtree(tmp_path / "new")
    return outcome.flagged, re.sub(r" +", " ", text[text.index("## Regression check") :])


def test_identical_results_flag_nothing(setup):
    tmp_path, _, matrix, old = setup
    flagged, section = report(tmp_path, matrix, spec(), old)
    assert flagged == 0 and "**No regression.**" in section
    assert "2 group(s) compared; 0 new (no old results); 0 no longer present" in section


def test_metric_moves_beyond_k_se_are_flagged_and_small_ones_are_not(setup):
    tmp_path, _, matrix, old = setup
    # SE per side = 0.01/√3, SE of the difference = 0.00816, 2·SE = 0.0163: +0.05 flagged, +0.01 not.
    flagged, section = report(tmp_path, matrix, spec(shift={"ft": -0.05, "lp": 0.01}), old)
    assert flagged == 3  # ft's accuracy, F1 and AUROC (the fixture moves all three); nothing of lp
    assert "| ft | test Acc (worse) | 0.8100 (n=3) | 0.7600 (n=3) | -0.0500 | 2·SE = 0.0163 |" in section
    assert "| lp |" not in section
    assert report(tmp_path, matrix, spec(shift={"ft": -0.05}), old, CompareConfig(k=10))[0] == 0


def test_latency_beyond_threshold_and_new_failures_are_flagged(setup):
    tmp_path, _, matrix, old = setup
    flagged, section = report(tmp_path, matrix, spec(latency={"lp": 1.2, "ft": 1.05}, fail=("ft", 2)), old)
    assert "| lp | batch-1 latency (slower) | 2.00 ms | 2.40 ms | +20.0% | ±10% |" in section
    assert "| ft | seed 2 fails | ok | failed | killed (exit -9) |" in section
    assert flagged == 2 and "1 failing, 1 latency" in section


def test_exit_code_for_nightly_ci(setup, capsys):
    tmp_path, path, matrix, old = setup
    write_results(matrix, tmp_path / "new", spec())
    args = ["report", str(path), "--results", str(tmp_path / "new"), "--compare", str(old.root)]
    assert main(args) == 0
    write_results(matrix, tmp_path / "new", spec(shift={"lp": -0.1}))  # worse: +0.1 would be an improvement
    assert main(args) == 1
    assert "regression(s) flagged" in capsys.readouterr().err
    assert main([*args, "--k", "1000"]) == 0  # the CLI overrides the matrix's k
    assert main([*args[:-1], str(tmp_path / "nowhere")]) == 2


def test_improvements_are_listed_apart_and_never_fail_the_job(setup, capsys):
    """Issue 19.6: a latency 82% faster, a better accuracy, a smaller model are improvements: exit 0, so the nightly
    job publishes and the baseline moves. Only a change for the worse fails."""
    tmp_path, path, matrix, old = setup
    better = spec(shift={"ft": 0.05}, latency={"ft": 0.18, "lp": 0.18}, params=10_000, macs=1.2)
    flagged, section = report(tmp_path, matrix, better, old)
    assert flagged == 0 and "**No regression.**" in section
    assert "| ft | batch-1 latency (faster) | 2.00 ms | 0.36 ms | -82.0% | ±10% |" in section
    assert "| ft | test Acc (better) | 0.8100 (n=3) | 0.8600 (n=3) | +0.0500 |" in section
    assert "| lp | parameters (fewer) | 11,000 | 10,000 | -1,000 | any |" in section
    assert "| lp | GMACs (fewer) | 1.5000 | 1.2000 | -0.3000 | any |" in section
    assert "**9 improvement(s)** (not a failure)." in section  # 3 metrics of ft, latency, params, MACs ×2
    write_results(matrix, tmp_path / "new", better)
    args = ["report", str(path), "--results", str(tmp_path / "new"), "--compare", str(old.root)]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert "regression" not in err and "9 improvement(s) against" in out
    # the same changes the other way are regressions, each of them
    worse = spec(shift={"ft": -0.05}, latency={"ft": 1.82, "lp": 1.82}, params=12_000, macs=1.8)
    flagged, section = report(tmp_path, matrix, worse, old)
    assert flagged == 9 and "| ft | batch-1 latency (slower) | 2.00 ms | 3.64 ms | +82.0% | ±10% |" in section
    assert "| lp | parameters (more) | 11,000 | 12,000 | +1,000 | any |" in section
    assert "improvement(s)" not in section
    write_results(matrix, tmp_path / "new", worse)
    assert main(args) == 1
