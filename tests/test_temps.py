"""Temporary files of atomic writes: named for their writer, and swept when the writer was killed before its rename
(suite/results/temps.py; the fault suite's `kill -9` of the driver is the end-to-end check)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch

from suite.catalog import SuiteCatalog
from suite.matrix import load_matrix
from suite.models.build import save_checkpoint
from suite.results import (
    RunPaths,
    atomic_write_bytes,
    atomic_write_from,
    remove_dead_writers,
    remove_temps_of,
)
from suite.results.temps import _where, is_temp, temp_prefix
from suite.runner.state import sweep_cell

REPO = Path(__file__).resolve().parents[1]


def killed_mid_write(target: Path) -> Path:
    """The temporary file a process leaves when SIGKILL lands between its write and its rename."""
    code = (
        "import os, sys, tempfile\n"
        "from pathlib import Path\n"
        "from suite.results.temps import temp_prefix\n"
        "target = Path(sys.argv[1])\n"
        "fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=temp_prefix(target), suffix='.tmp')\n"
        "os.write(fd, b'half a result')\n"
        "print(tmp, flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(target)], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert proc.returncode == -9, proc.stderr
    return Path(proc.stdout.strip())


def foreign(target: Path) -> Path:
    """A temporary file written in another container or on another node: a pid this machine cannot check."""
    target.parent.mkdir(parents=True, exist_ok=True)
    path = target.parent / f".{target.name}.1-{'0' * 8 if _where() != '0' * 8 else '1' * 8}.abcd_123.tmp"
    path.write_bytes(b"x")
    return path


def test_the_name_says_which_process_wrote_it(tmp_path):
    target = tmp_path / "cell.json"
    assert temp_prefix(target).startswith(f".cell.json.{os.getpid()}-")
    left = killed_mid_write(target)
    assert left.parent == tmp_path and is_temp(left.name, "cell.json") and not is_temp(left.name, "cell.npz")
    assert not is_temp("cell.json") and not is_temp(".cell.json.tmp")


def test_a_run_removes_what_dead_writers_here_left_and_nothing_else(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "work" / "networks").mkdir(parents=True)
    dead = [
        killed_mid_write(tmp_path / "runs" / "a.json"),
        killed_mid_write(tmp_path / "work" / "networks" / "n.json"),
    ]
    # this process is alive: a temp it is writing right now stays
    fd, live = tempfile.mkstemp(
        dir=tmp_path / "runs", prefix=temp_prefix(tmp_path / "runs" / "b.json"), suffix=".tmp"
    )
    os.close(fd)
    other = foreign(tmp_path / "runs" / "c.json")
    user_file = tmp_path / "runs" / "notes.tmp"
    user_file.write_text("mine")
    assert remove_dead_writers(tmp_path) == 2
    assert not any(p.exists() for p in dead)
    assert Path(live).exists() and other.exists() and user_file.exists()


def test_a_cells_own_temps_go_whoever_wrote_them_and_no_other_cells(tmp_path):
    matrix = tmp_path / "m.yaml"
    matrix.write_text(
        "name: m\ndatasets: [synthetic-vessels]\narchitectures: ['timm:resnet10t']\nsources: [scratch]\n"
        "strategies: [ft, lp]\nseeds: [0]\n"
    )
    ft, lp = load_matrix(str(matrix), SuiteCatalog()).cells
    paths = RunPaths(tmp_path / "m")
    mine = [
        foreign(paths.result(ft)),
        foreign(paths.predictions(ft)),
        foreign(paths.progress(ft)),
        foreign(paths.checkpoint(ft)),
    ]
    theirs = [foreign(paths.result(lp)), foreign(paths.progress(lp))]
    sweep_cell(paths, ft)
    assert not any(p.exists() for p in mine)
    assert all(p.exists() for p in theirs)


def test_remove_temps_of_only_the_named_targets(tmp_path):
    a, b = foreign(tmp_path / "a.json"), foreign(tmp_path / "b.json")
    assert remove_temps_of(tmp_path, ["a.json"]) == 1
    assert not a.exists() and b.exists()
    assert remove_temps_of(tmp_path / "absent") == 0


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "best.pt"
    target.write_bytes(b"old")

    def fails(f):
        f.write(b"new, half")
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError):
        atomic_write_from(target, fails)
    assert target.read_bytes() == b"old" and list(tmp_path.iterdir()) == [target]
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and list(tmp_path.iterdir()) == [target]


def test_a_checkpoint_is_written_through_the_same_staging(tmp_path):
    model = torch.nn.Linear(3, 2)
    save_checkpoint(model, tmp_path / "best.pt", num_classes=2)
    saved = torch.load(tmp_path / "best.pt", weights_only=True)
    assert saved["num_classes"] == 2 and torch.equal(saved["state_dict"]["weight"], model.weight)
    assert [p.name for p in tmp_path.iterdir()] == ["best.pt"]
