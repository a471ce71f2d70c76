"""Files the suite writes get the mode the umask gives a new file, so a group-shared results folder stays usable."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
import yaml

from suite.data.lock import lock_path
from suite.data.lockfile import append_entry, set_entry_fields
from suite.data.verify import sidecar_dir
from suite.results import read_result, write_predictions, write_result

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def umask():
    """Run the test body under a given umask (the session's is restored afterwards)."""
    saved = os.umask(0o022)
    os.umask(saved)
    yield os.umask
    os.umask(saved)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_results_and_predictions_are_group_readable_and_writable(tmp_path, umask):
    umask(0o002)
    smoke = sorted((REPO / "results" / "smoke" / "runs").glob("*.json"))[0]
    write_result(read_result(smoke), tmp_path / "runs" / "r.json")
    write_predictions(tmp_path / "runs" / "r.npz", np.zeros((2, 2)), np.zeros(2), ["a", "b"], ["x", "y"])
    assert mode(tmp_path / "runs" / "r.json") == 0o664
    assert mode(tmp_path / "runs" / "r.npz") == 0o664


def test_datasets_lock_edits_get_the_umask_mode(tmp_path, umask):
    umask(0o002)
    lock = tmp_path / "datasets.lock"
    lock.write_text(lock_path().read_text())
    os.chmod(lock, 0o600)  # as the 0600 writer left it
    entry = yaml.safe_load(lock.read_text())["datasets"]["synthetic-fundus"]
    append_entry("copy", entry, path=lock)
    assert mode(lock) == 0o664
    set_entry_fields("copy", {"root": "elsewhere"}, path=lock)
    assert mode(lock) == 0o664


def test_data_lock_sidecars_get_the_umask_mode(tmp_path, umask, monkeypatch):
    from suite.commands.data import lock

    umask(0o002)
    (tmp_path / "datasets.lock").write_text(lock_path().read_text())  # the session's tiny lock
    monkeypatch.setenv("MEDTL_LOCK", str(tmp_path / "datasets.lock"))
    lock("synthetic-fundus")
    assert mode(tmp_path / "datasets.lock") == 0o664
    assert {mode(p) for p in sidecar_dir().iterdir()} == {0o664}
