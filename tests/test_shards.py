"""`--shard i/n`: deterministic, every cell on exactly one shard, and shards' result folders merge without conflict."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from suite.catalog import SuiteCatalog
from suite.cli import main
from suite.matrix import load_matrix
from suite.matrix.select import shard
from suite.results import RunPaths, load_results

MATRIX = """
name: sharded
datasets: [synthetic-vessels]
architectures: ["timm:resnet10t"]
sources: [scratch, "scratch>synthetic-vessels"]
strategies: [ft, lp]
seeds: {seeds}
train: {{epochs: 1, batch_size: 16, image_size: 32, threads: 1, timeout_min: 5}}
"""


def write(tmp_path: Path, seeds: str) -> Path:
    path = tmp_path / "sharded.yaml"
    path.write_text(MATRIX.format(seeds=seeds))
    return path


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_shards_partition_the_cells_and_their_files(tmp_path, n):
    cells = load_matrix(str(write(tmp_path, "[0, 1, 2]")), SuiteCatalog()).cells
    shuffled = random.Random(n).sample(cells, len(cells))
    shards = [shard(cells, i, n) for i in range(1, n + 1)]
    assert [[c.id for c in s] for s in shards] == [
        [c.id for c in shard(cells, i, n)] for i in range(1, n + 1)
    ]
    assert [{c.id for c in s} for s in shards] == [
        {c.id for c in shard(shuffled, i, n)} for i in range(1, n + 1)
    ]
    ids = [c.id for s in shards for c in s]
    assert sorted(ids) == sorted(c.id for c in cells)  # each cell on exactly one shard
    for s in shards:  # a two-step consumer runs where its parent runs
        mine = {c.id for c in s}
        assert all(p in mine for c in s for p in c.parents)
    paths = RunPaths(tmp_path / "results" / "sharded")
    files = [f for s in shards for c in s for f in (paths.result(c), paths.predictions(c), paths.cell_dir(c))]
    assert len(files) == len(set(files))  # no two shards write the same file


@pytest.mark.slow
def test_two_shards_results_merge_into_one_complete_matrix(tmp_path, capsys):
    path = write(tmp_path, "[0]")  # two families: the scratch cell, and the two-step parent with its consumer
    cells = load_matrix(str(path), SuiteCatalog()).cells
    args = ["--only", "strategy=lp", "--no-report"]
    for i in (1, 2):
        assert (
            main(["run", str(path), "--results", str(tmp_path / f"shard{i}"), "--shard", f"{i}/2", *args])
            == 0
        )
    merged = tmp_path / "merged" / "sharded" / "runs"
    merged.mkdir(parents=True)
    for i in (1, 2):
        for f in (tmp_path / f"shard{i}" / "sharded" / "runs").iterdir():
            assert not (merged / f.name).exists(), f"{f.name} is in both shards"
            shutil.copy2(f, merged / f.name)
    wanted = [
        c
        for c in cells
        if c.key["strategy"] == "lp" or any(c.id in d.parents for d in cells if d.key["strategy"] == "lp")
    ]
    results = load_results(merged)
    assert sorted(r.cell_id for r in results) == sorted(c.id for c in wanted)
    capsys.readouterr()
    assert main(["run", str(path), "--results", str(tmp_path / "merged"), "--dry-run", *args]) == 0
    out = capsys.readouterr().out
    assert "missing" not in out and out.count(" ok") == len(wanted)
