"""One direction of dependency (pyproject.toml's import-linter contract), and verbs that never load torch.

`list`, `run --dry-run` and `report` read registries, matrices and result files; they must not pay for torch, timm,
peft or transformers (seconds each), and `import suite.matrix` must stay free of them too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch._C", "timm.models", "peft.tuners", "transformers", "torchvision.models")


def test_the_layers_contract_holds():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "1 kept, 0 broken" in done.stdout


def loaded_after(code: str, cwd: Path = REPO) -> list[str]:
    """The heavy modules a fresh interpreter has imported after running `code`."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True, timeout=300, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_matrix_package_loads_no_torch():
    assert loaded_after("import suite.matrix, suite.strategies, suite.catalog, suite.metrics") == []


@pytest.mark.parametrize(
    "argv",
    [
        ["list"],
        ["run", "davila2024", "--dry-run"],
        ["run", "fang2025-thtl", "--dry-run"],
        ["report", "smoke", "--results", "{tmp}"],
    ],
    ids=["list", "dry-run-davila", "dry-run-fang", "report"],
)
def test_fast_verbs_load_no_torch(argv, tmp_path, monkeypatch):
    """With the real datasets.lock (the matrices name its datasets) and the shipped architecture facts."""
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if argv[0] == "report":
        import shutil

        shutil.copytree(REPO / "results" / "smoke", tmp_path / "smoke", ignore=shutil.ignore_patterns("work"))
    code = (
        "import contextlib, io, os\n"
        f"os.environ['MEDTL_LOCK'] = {str(REPO / 'datasets.lock')!r}\n"
        "from suite.cli import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()):\n    assert main({argv!r}) == 0\n"
    )
    assert loaded_after(code) == []


@pytest.mark.parametrize(
    "argv",
    [["data", "splits", "synthetic-vessels"], ["data", "verify", "synthetic-vessels"]],
    ids=["splits", "verify"],
)
def test_data_verbs_that_read_the_index_load_no_torch(argv):
    """`data splits` reads the index and the split recipe (pandas), never the pixels: no torch, timm, peft."""
    code = (
        "import contextlib, io\n"
        "from suite.cli import main\n"  # the session's tiny lock and cache (MEDTL_LOCK, MEDTL_CACHE) are inherited
        f"with contextlib.redirect_stdout(io.StringIO()):\n    assert main({argv!r}) == 0\n"
    )
    assert loaded_after(code) == []
