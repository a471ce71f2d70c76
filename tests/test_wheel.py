"""The installed package works from any folder: the wheel carries the lock, its sidecars, the shipped matrices and
the architecture facts, and the commands find them there when no checkout is around."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv holding only the built wheel; the dependencies come from this environment (a .pth line)."""
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(REPO),
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp / "dist"),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=False)
    target = next(env_dir.glob("lib/python*/site-packages"))
    (target / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    wheel = next((tmp / "dist").glob("medtl_bench-*.whl"))
    # pip --python installs into the new venv as its own pip would (console script with the venv's shebang)
    python = env_dir / "bin" / "python"
    install = ["--python", str(python), "install", "--no-deps", "--no-index", str(wheel)]
    subprocess.run([sys.executable, "-m", "pip", *install], check=True, capture_output=True, timeout=600)
    return env_dir


def medtl(env_dir: Path, cwd: Path, *argv: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDTL_", "PYTHON"))}
    env["MEDTL_CACHE"] = str(cwd.parent / "cache")
    return subprocess.run(
        [str(env_dir / "bin" / "medtl-bench"), *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_the_wheel_runs_from_an_empty_folder(installed, tmp_path):
    empty = tmp_path / "anywhere"
    empty.mkdir()
    version = medtl(installed, empty, "--version")
    assert version.returncode == 0 and "(installed package " in version.stdout, version.stderr
    assert str(installed) in version.stdout  # the wheel's copy, not the checkout

    listing = medtl(installed, empty, "list")
    assert listing.returncode == 0, listing.stderr
    assert "synthetic-vessels" in listing.stdout and "tf_efficientnet_lite0" in listing.stdout

    plan = medtl(installed, empty, "run", "smoke", "--dry-run")
    assert plan.returncode == 0, plan.stderr
    assert "Axes: 1 datasets, 2 architectures, 2 sources, 2 strategies, 2 seeds → 8 cells" in plan.stdout

    only = ["--only", "architecture=tf_efficientnet_lite0", "--only", "strategy=lp", "--only", "seed=0"]
    cell = medtl(installed, empty, "run", "smoke", *only, "--no-report")
    assert cell.returncode == 0, cell.stderr[-3000:]
    (result,) = (empty / "results" / "smoke" / "runs").glob("*.json")
    assert '"status": "ok"' in result.read_text()
    assert sorted(p.name for p in empty.iterdir()) == ["results"]  # nothing else written into the folder


def test_the_installed_lock_is_read_only(installed, tmp_path):
    empty = tmp_path / "anywhere"
    empty.mkdir()
    (empty / "x" / "a").mkdir(parents=True)
    (empty / "x" / "b").mkdir()
    add = medtl(installed, empty, "data", "add", "mine", "--folder", str(empty / "x"))
    assert add.returncode == 2
    assert add.stderr.count("\n") == 1 and "installed package's copy" in add.stderr and "cp " in add.stderr
