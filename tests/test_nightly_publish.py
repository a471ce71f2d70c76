"""The nightly job's publishing step, night after night on a persistent runner (issue 19.6): the step's own `run:`
script from nightly.yml, run by bash as GitHub runs it, against real git repositories in tmp_path (a bare origin, a
runner workspace that persists between nights, as a self-hosted runner's does)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
MATRIX = "nightly"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def publish_step() -> dict:
    doc = yaml.safe_load((REPO / ".github" / "workflows" / "nightly.yml").read_text())
    (job,) = doc["jobs"].values()
    (step,) = [s for s in job["steps"] if s.get("name") == "Publish to the leaderboard branch"]
    return {**job.get("env", {}), "run": step["run"]}


def runner(tmp_path: Path) -> Path:
    """A bare origin holding the project's main branch (with the script), and the runner's workspace, cloned once."""
    origin, seed = tmp_path / "origin.git", tmp_path / "seed"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(origin))
    git(tmp_path, "init", "--quiet", "--initial-branch=main", str(seed))
    (seed / "scripts").mkdir()
    shutil.copy2(REPO / "scripts" / "publish-leaderboard.sh", seed / "scripts")
    (seed / ".gitignore").write_text("/results/*/runs/\n")
    git(seed, "add", ".")
    git(seed, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "main")
    git(seed, "push", "--quiet", str(origin), "main")
    workspace = tmp_path / "runner" / "_work" / "medtl-bench"
    git(tmp_path, "clone", "--quiet", str(origin), str(workspace))
    return workspace


def night(workspace: Path, tmp_path: Path, n: int, accuracy: float) -> subprocess.CompletedProcess:
    """Results of one night (as `make bench` + `make report` leave them), then the publishing step as the runner
    runs it: `bash -e` in the workspace with the job's and GitHub's variables."""
    out = workspace / "results" / MATRIX
    shutil.rmtree(out, ignore_errors=True)
    (out / "runs").mkdir(parents=True)
    for name in ("LEADERBOARD.md", "LEADERBOARD.html", "tables.tex", "results.csv"):
        (out / name).write_text(f"night {n}: accuracy {accuracy}\n")
    (out / "runs" / "cell.abc.json").write_text(f'{{"accuracy": {accuracy}}}\n')
    step = publish_step()
    temp = tmp_path / "runner" / "_temp"  # persistent on a self-hosted runner
    temp.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "GIT_CONFIG_NOSYSTEM": "1",
        "MATRIX": step["MATRIX"],
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_SHA": git(workspace, "rev-parse", "HEAD"),
        "GITHUB_RUN_ID": str(1000 + n),
        "RUNNER_TEMP": str(temp),
    }
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def published(tmp_path: Path) -> tuple[list[str], str]:
    origin = tmp_path / "origin.git"
    log = git(origin, "log", "--format=%s", "leaderboard").splitlines()
    return log, git(origin, "show", f"leaderboard:results/{MATRIX}/runs/cell.abc.json")


def test_publishing_works_night_after_night_on_a_persistent_runner(tmp_path):
    workspace = runner(tmp_path)
    first = night(workspace, tmp_path, 1, 0.81)
    assert first.returncode == 0, first.stderr
    assert "this night starts it" in first.stdout
    second = night(workspace, tmp_path, 2, 0.83)
    assert second.returncode == 0, second.stderr  # was: fatal: '../leaderboard-publish' already exists
    log, result = published(tmp_path)
    assert log == [
        f"nightly {MATRIX}: {git(workspace, 'rev-parse', 'HEAD')[:8]} (run 100{n})" for n in (2, 1)
    ]
    assert result == '{"accuracy": 0.83}'
    assert git(tmp_path / "origin.git", "show", f"leaderboard:results/{MATRIX}/LEADERBOARD.md") == (
        "night 2: accuracy 0.83"
    )
    # nothing is left behind: one worktree (the workspace), no temporary folder, no local branch
    assert len(git(workspace, "worktree", "list", "--porcelain").split("\n\n")) == 1
    assert not list((tmp_path / "runner" / "_temp").iterdir())
    assert git(workspace, "branch", "--list") == "* main"


def test_a_night_killed_while_publishing_does_not_break_the_next(tmp_path):
    """A killed night leaves its worktree registered; its folder may be gone (runner cleanup) or still there."""
    workspace = runner(tmp_path)
    assert night(workspace, tmp_path, 1, 0.81).returncode == 0
    git(workspace, "fetch", "--quiet", "origin", "leaderboard")
    gone, kept = tmp_path / "runner" / "_temp" / "gone", workspace.parent / "leaderboard-publish"
    git(workspace, "worktree", "add", "--quiet", "--detach", str(gone), "FETCH_HEAD")
    git(workspace, "worktree", "add", "--quiet", "--detach", str(kept), "FETCH_HEAD")
    shutil.rmtree(gone)  # "missing but already registered worktree"
    third = night(workspace, tmp_path, 3, 0.85)
    assert third.returncode == 0, third.stderr
    assert published(tmp_path)[1] == '{"accuracy": 0.85}'
    assert str(gone) not in git(workspace, "worktree", "list")


def test_an_unchanged_night_pushes_nothing_and_succeeds(tmp_path):
    workspace = runner(tmp_path)
    assert night(workspace, tmp_path, 1, 0.81).returncode == 0
    again = night(workspace, tmp_path, 1, 0.81)
    assert again.returncode == 0, again.stderr
    assert "unchanged" in again.stdout and len(published(tmp_path)[0]) == 1
