"""The committed results stay valid as the code changes: every result file reads back into the typed schema and
writes out byte for byte, its id is still the hash of its config, and each committed leaderboard is what `report`
makes of its results today (so a refactor that changes a number, an order or a label fails here)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from suite.matrix.cell import cell_id
from suite.results import read_result

REPO = Path(__file__).resolve().parents[1]
RESULTS = sorted(p for p in (REPO / "results").iterdir() if (p / "runs").is_dir())
FILES = sorted(f for folder in RESULTS for f in (folder / "runs").glob("*.json"))


def test_there_are_committed_results():
    assert len(RESULTS) >= 3 and len(FILES) >= 50


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.parent.name}/{p.stem[-12:]}")
def test_a_result_round_trips_and_keeps_its_id(path):
    result = read_result(path)
    text = json.dumps(result.model_dump(mode="json"), indent=1, allow_nan=False, default=str) + "\n"
    assert text == path.read_text()
    assert cell_id(result.config) == result.cell_id == path.stem.rsplit(".", 1)[-1]


@pytest.mark.parametrize("folder", RESULTS, ids=lambda p: p.name)
def test_the_committed_leaderboard_is_what_report_writes(folder, tmp_path, monkeypatch):
    from suite.cli import main

    monkeypatch.setenv("MEDTL_LOCK", str(REPO / "datasets.lock"))  # the real lock: cell ids hash its entries
    monkeypatch.chdir(REPO)
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("work"))
    assert main(["report", folder.name, "--results", str(tmp_path)]) == 0
    for name in ("LEADERBOARD.md", "results.csv", "summary.csv"):
        assert (copy / name).read_bytes() == (folder / name).read_bytes(), name
    for png in (folder / "plots").glob("*.png"):
        assert (copy / "plots" / png.name).read_bytes() == png.read_bytes(), png.name
