"""Two-step sources (Fang's THTL): the intermediate stage is its own cell, trained once per (architecture, seed)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from suite.catalog import SuiteCatalog
from suite.errors import UserError
from suite.matrix import load_matrix
from suite.results import RunPaths, read_result
from suite.runner.schedule import Scheduler

CONSUMERS = "[lp, 'swft@2', 'swft@3', 'swft@6', lora, 'swft-lora@3']"  # 6 consumers: ++, SWFT steps, LoRA

TWO_STEP = f"""
name: two-step
datasets: [synthetic-vessels]
architectures: {{archs}}
sources: [{{{{name: "scratch>{{middle}}", train: {{{{epochs: {{parent_epochs}}, lr: 0.01}}}}}}}}]
strategies: {CONSUMERS}
seeds: {{seeds}}
train: {{{{epochs: 1, batch_size: 16, image_size: 32, threads: 1, timeout_min: 5}}}}
"""


def two_step(
    matrix_file, archs='["timm:resnet10t"]', seeds="[0]", parent_epochs=1, middle="synthetic-fundus"
):
    text = TWO_STEP.format(archs=archs, seeds=seeds, parent_epochs=parent_epochs, middle=middle)
    return load_matrix(str(matrix_file(text)), SuiteCatalog())


def test_six_consumers_share_one_intermediate_cell_per_architecture_and_seed(matrix_file):
    m = two_step(matrix_file, archs='["timm:resnet10t", "timm:test_resnet"]', seeds="[0, 1]", parent_epochs=3)
    parents = [c for c in m.cells if c.key["dataset"] == "synthetic-fundus"]
    consumers = [c for c in m.cells if c.key["dataset"] == "synthetic-vessels"]
    assert len(parents) == 4 and len(consumers) == 4 * 6
    assert Counter(c.parents[0] for c in consumers) == {p.id: 6 for p in parents}
    for p in parents:
        assert p.config.strategy.name == "ft" and p.config.source.model_dump() == {"name": "scratch"}
        assert p.config.train.epochs == 3 and p.config.train.lr == 0.01  # SourceEntry.train
    assert {c.config.train.epochs for c in consumers} == {1}
    assert {(p.key["architecture"], p.key["seed"]) for p in parents} == {
        (a, s) for a in ("timm:resnet10t", "timm:test_resnet") for s in (0, 1)
    }


class _Done:
    def poll(self) -> int:
        return 0

    def kill(self) -> None:
        return None


class InProcess:
    """A launcher that runs each cell in this process (no interpreter start-up) and remembers what it ran."""

    name = "in-process"

    def __init__(self) -> None:
        self.started = []

    def start(self, cell, spec_path: Path, log_path: Path) -> _Done:
        from suite.runner import worker

        self.started.append(cell)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        worker.main([str(spec_path)])
        return _Done()


def test_executor_trains_the_intermediate_stage_once(matrix_file, tmp_path):
    # the tiny synthetic-fundus (40 images) cannot be split by grade, so the intermediate stage here is a
    # from-scratch run on the target data itself: a different cell all the same
    m = two_step(matrix_file, middle="synthetic-vessels")
    paths = RunPaths(tmp_path / "results" / m.name)
    launcher = InProcess()
    summary = Scheduler(paths, launcher, m.name, {}, say=lambda _: None).run(m.cells)
    assert summary.ok and len(summary.trained) == 7
    ran = [c.key["source"] for c in launcher.started]
    assert ran.count("scratch") == 1 and ran[0] == "scratch"
    parent = launcher.started[0]
    assert parent.key["strategy"] == "ft" and read_result(paths.result(parent)).status == "ok"
    for cell in launcher.started[1:]:
        result = read_result(paths.result(cell))
        assert result.status == "ok", result.error
        assert result.parents == [parent.id] and result.config.source.parent == parent.id
    lora = read_result(paths.result(next(c for c in m.cells if c.key["strategy"] == "lora")))
    assert 0 < lora.params["trainable"] < lora.params["total"]
    again = InProcess()
    Scheduler(paths, again, m.name, {}, say=lambda _: None).run(m.cells)
    assert again.started == []  # resume: nothing, the intermediate stage included, runs twice


def test_a_layer_glob_matching_nothing_is_a_matrix_error(matrix_file):
    text = (
        "datasets: [synthetic-vessels]\narchitectures: [resnet50]\nstrategies: ['ttl@layer9.*']\nseeds: [0]\n"
    )
    with pytest.raises(UserError, match=r"m.yaml:3.*'ttl@layer9.\*' matches no variant of resnet50"):
        load_matrix(str(matrix_file(text)), SuiteCatalog())


def test_each_variant_is_its_own_cell(matrix_file):
    text = (
        "datasets: [synthetic-vessels]\narchitectures: [resnet50]\nseeds: [0]\n"
        "strategies: ['ttl@*', 'ttl@layer3.*', 'lwft@*', 'swft@*', 'swft-lora@*', 'ttl@block3']\n"
    )
    m = load_matrix(str(matrix_file(text)), SuiteCatalog())
    names = [c.key["strategy"] for c in m.cells]
    assert len(names) == len(set(names)) == len({c.id for c in m.cells})
    assert [n for n in names if n.startswith("ttl@")] == [
        "ttl@block1", "ttl@block2", "ttl@block3", "ttl@layer3.0", "ttl@layer3.1", "ttl@layer3.2", "ttl@layer3.3",
        "ttl@layer3.4",
    ]  # fmt: skip
    assert sum(n.startswith("lwft@") for n in names) == 4
    assert (
        sum(n.startswith("swft@") for n in names) == 6 and sum(n.startswith("swft-lora@") for n in names) == 5
    )
