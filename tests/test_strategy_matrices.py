"""benchmarks/davila2024.yaml expresses Davila's protocol; benchmarks/cpu-strategies.yaml covers every strategy."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from suite.catalog import SuiteCatalog
from suite.cli import main
from suite.matrix import load_matrix

DAVILA_DATASETS = [
    "chexpert",
    "mura-shoulder",
    "mura-wrist",
    "mura-humerus",
    "brain-tumor-mri",
    "bach",
    "isic2020",
    "cholect50-instrument",
]
DAVILA_STRATEGIES = ["ft", "lp", "g-lf", "g-fl", "lp-ft", "l1-sp", "l2-sp", "auto-rgn"]


class AnyDataset(SuiteCatalog):
    """The real catalog, except that every dataset name resolves (Davila's are registered by the datasets issue)."""

    def dataset_metrics(self, name: str) -> list[str]:
        return ["accuracy"]

    def dataset_version(self, name: str) -> str:
        return "test"


@pytest.fixture(scope="module")
def davila():
    return load_matrix("davila2024", AnyDataset())


def test_davila_matrix_is_the_papers_protocol(davila):
    cells = davila.cells
    assert len(cells) == 8 * 3 * 8 * 3 * 3
    keys = Counter((c.key["dataset"], c.key["architecture"], c.key["strategy"]) for c in cells)
    assert set(keys.values()) == {9}  # 3 seeds × 3 learning rates each
    assert {k[0] for k in keys} == set(DAVILA_DATASETS)
    assert {k[2] for k in keys} == set(DAVILA_STRATEGIES)
    assert {c.config.train.lr for c in cells} == {1e-3, 1e-4, 1e-5}
    assert {c.config.source.name for c in cells} == {"imagenet"}
    resize = {c.key["architecture"]: c.config.train.resize for c in cells}
    assert resize == {"resnet50": 232, "densenet121": 256, "vgg19": 256}
    for cell in cells:
        t = cell.config.train
        assert (t.epochs, t.batch_size, t.optimizer, t.image_size) == (50, 64, "adam", 224)
        assert t.early_stopping.patience == 5 and t.scheduler.name == "none"
        assert not any(t.augment.model_dump().values())


def test_davila_dry_run_names_the_missing_dataset_in_one_line(capsys, tmp_path):
    """Against a lock without Davila's datasets (the tests' tiny lock), the error is one line naming file and name."""
    assert main(["run", "davila2024", "--dry-run", "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "davila2024.yaml:" in err and "'chexpert'" in err


def test_cpu_strategies_matrix_runs_every_strategy_on_embedded_data(capsys, tmp_path):
    cells = load_matrix("cpu-strategies", SuiteCatalog()).cells
    assert sorted({c.key["strategy"] for c in cells}) == sorted(DAVILA_STRATEGIES)
    assert all(c.key["dataset"] == "synthetic-vessels" for c in cells)
    assert all(c.config.architecture.timm == "tf_efficientnet_lite0" for c in cells)
    assert len({c.key["seed"] for c in cells}) >= 3  # the significance section tests from 3 paired seeds
    assert main(["run", "cpu-strategies", "--dry-run", "--results", str(tmp_path)]) == 0
    assert f"{len(cells)} cells in matrix 'cpu-strategies'" in capsys.readouterr().out


REPO_LOCK = Path(__file__).resolve().parents[1] / "datasets.lock"


@pytest.mark.parametrize(
    ("name", "cells"),
    [("davila2024", 1728), ("peng2023-ttl", 627), ("fang2025-thtl", 198), ("full", 1728 + 627 + 198)],
)
def test_paper_matrices_validate_and_dry_run_against_the_real_lock(
    name, cells, monkeypatch, capsys, tmp_path
):
    """With the repository's datasets.lock every paper matrix resolves; `full` is their union (no cell shared)."""
    monkeypatch.setenv("MEDTL_LOCK", str(REPO_LOCK))
    assert main(["run", name, "--dry-run", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{cells:,} cells in matrix '{name}'" in out
    assert not list(tmp_path.iterdir())  # a dry run writes nothing
