"""Matrix schema, includes, expansion, cell ids, filters and shards (with a fake catalog: no torch needed)."""

from __future__ import annotations

from typing import ClassVar

import pytest

from suite.errors import UserError
from suite.matrix import load_matrix
from suite.matrix.cell import StrategyRef, cell_id
from suite.matrix.expand import ResolvedArchitecture
from suite.matrix.select import apply_filters, parse_filters, parse_shard, shard


class FakeCatalog:
    datasets: ClassVar = {"d1": ["accuracy", "auroc"], "d2": ["auroc"], "mid": ["accuracy"]}
    archs: ClassVar = {"a1": 1e-3, "a2": 1e-4}

    def dataset_metrics(self, name):
        if name not in self.datasets:
            raise UserError(f"unknown dataset {name!r}")
        return self.datasets[name]

    def check_metric(self, name):
        if name not in ("accuracy", "auroc", "loss"):
            raise UserError(f"unknown metric {name!r}")

    def architecture(self, entry):
        if entry.name not in self.archs:
            raise UserError(f"unknown architecture {entry.name!r}")
        return ResolvedArchitecture(
            entry.name,
            entry.name,
            entry.weights or "tag",
            entry.lr or self.archs[entry.name],
            entry.image_size or 224,
        )

    def check_table(self, name):
        return None

    def strategy(self, name, params, architecture):
        base, _, variant = name.partition("@")
        if base not in ("ft", "lp", "steps"):
            raise UserError(f"unknown strategy {base!r}")
        return StrategyRef(name=base, variant=variant or None, params=dict(params))

    def strategy_variants(self, name, architecture):
        return ["1", "2", "3"]


BASE = """
datasets: [d1, d2]
architectures: [a1, a2]
strategies: [ft, lp]
seeds: 2
"""


def load(matrix_file, text):
    return load_matrix(str(matrix_file(text)), FakeCatalog())


def test_product_of_axes(matrix_file):
    m = load(matrix_file, BASE)
    assert len(m.cells) == 2 * 2 * 2 * 2
    assert {c.key["seed"] for c in m.cells} == {0, 1}
    assert all(c.config.source.model_dump() == {"name": "imagenet"} for c in m.cells)


def test_ids_are_stable_and_config_sensitive(matrix_file):
    first = [c.id for c in load(matrix_file, BASE).cells]
    again = [c.id for c in load(matrix_file, BASE).cells]
    assert first == again and len(set(first)) == len(first)
    changed = [c.id for c in load(matrix_file, BASE + "train: {epochs: 3}\n").cells]
    assert not set(first) & set(changed)
    assert cell_id({"a": 1, "b": 2}) == cell_id({"b": 2, "a": 1})


def test_architecture_lr_and_size_resolved_into_train(matrix_file):
    m = load(matrix_file, BASE + "train: {epochs: 1}\n")
    lrs = {c.key["architecture"]: c.config.train.lr for c in m.cells}
    assert lrs == {"a1": 1e-3, "a2": 1e-4}
    assert {c.config.train.image_size for c in m.cells} == {224}


def test_override_precedence(matrix_file):
    text = """
datasets: [{name: d1, train: {epochs: 4, batch_size: 8}}]
architectures: [{name: a1, lr: 0.5, train: {epochs: 5}}]
strategies: [{name: ft, train: {batch_size: 2}}]
seeds: [0]
train: {epochs: 3, lr: 0.1}
sweep: {lr: [0.01, 0.02]}
"""
    m = load(matrix_file, text)
    assert [c.config.train.lr for c in m.cells] == [0.01, 0.02]
    assert all(c.config.train.epochs == 5 and c.config.train.batch_size == 2 for c in m.cells)
    assert [c.config.sweep for c in m.cells] == [{"lr": 0.01}, {"lr": 0.02}]


def test_grids_union_and_exclude(matrix_file):
    text = """
datasets: [d1]
strategies: [ft, lp]
seeds: [0]
grids:
  - {architectures: [a1], sources: [imagenet]}
  - {architectures: [a2], sources: [scratch]}
exclude:
  - {architecture: a2, strategy: lp}
"""
    m = load(matrix_file, text)
    assert sorted((c.key["architecture"], c.key["source"], c.key["strategy"]) for c in m.cells) == [
        ("a1", "imagenet", "ft"),
        ("a1", "imagenet", "lp"),
        ("a2", "scratch", "ft"),
    ]
    scratch = next(c for c in m.cells if c.key["source"] == "scratch")
    assert scratch.config.architecture.weights is None


def test_include_merges_base(matrix_file):
    matrix_file("train: {epochs: 7, batch_size: 4}\nseeds: [0]\ndatasets: [d2]\n", "base.yaml")
    m = load(matrix_file, "include: base.yaml\narchitectures: [a1]\nstrategies: [ft]\ntrain: {epochs: 2}\n")
    (cell,) = m.cells
    assert cell.config.train.epochs == 2 and cell.config.train.batch_size == 4
    assert cell.key["dataset"] == "d2"


def test_variants_expand_to_cells(matrix_file):
    m = load(
        matrix_file, "datasets: [d1]\narchitectures: [a1]\nstrategies: ['steps@*', 'steps@2']\nseeds: [0]\n"
    )
    assert [c.key["strategy"] for c in m.cells] == ["steps@1", "steps@2", "steps@3"]


def test_two_step_source_makes_one_shared_parent(matrix_file):
    text = "datasets: [d1]\narchitectures: [a1]\nstrategies: [ft, lp]\nseeds: [0, 1]\nsources: ['imagenet>mid']\n"
    m = load(matrix_file, text)
    parents = [c for c in m.cells if c.key["dataset"] == "mid"]
    children = [c for c in m.cells if c.key["dataset"] == "d1"]
    assert len(parents) == 2 and len(children) == 4  # one intermediate stage per (architecture, seed)
    assert all(c.parents and c.config.source.parent == c.parents[0] for c in children)
    assert all(
        m.cells.index(next(p for p in parents if p.id == c.parents[0])) < m.cells.index(c) for c in children
    )
    assert all(p.config.strategy.name == "ft" and p.config.source.name == "imagenet" for p in parents)


def test_filters_keep_needed_parents(matrix_file):
    text = "datasets: [d1]\narchitectures: [a1, a2]\nstrategies: [ft, lp]\nseeds: [0]\nsources: ['imagenet>mid']\n"
    m = load(matrix_file, text)
    kept = apply_filters(m.cells, parse_filters(["strategy=lp", "arch=a2"]))
    assert [(c.key["dataset"], c.key["strategy"]) for c in kept] == [("mid", "ft"), ("d1", "lp")]
    assert apply_filters(m.cells, parse_filters(["strategy=l*", "dataset=d1"]))[-1].key["strategy"] == "lp"
    with pytest.raises(UserError, match="unknown key"):
        parse_filters(["colour=red"])


def test_shards_partition_and_keep_families_together(matrix_file):
    m = load(matrix_file, BASE + "sources: ['imagenet>mid', scratch]\n")
    shards = [shard(m.cells, i, 3) for i in (1, 2, 3)]
    ids = [c.id for s in shards for c in s]
    assert sorted(ids) == sorted(c.id for c in m.cells)
    for s in shards:
        present = {c.id for c in s}
        assert all(set(c.parents) <= present for c in s)
    assert [c.id for c in shard(m.cells, 2, 3)] == [c.id for c in shards[1]]
    with pytest.raises(UserError):
        parse_shard("4/3")


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        (
            "datasets: [d1, dx]\narchitectures: [a1]\nstrategies: [ft]\nseeds: [0]\n",
            1,
            "unknown dataset 'dx'",
        ),
        (
            "datasets: [d1]\narchitectures:\n  - a1\n  - a9\nstrategies: [ft]\nseeds: [0]\n",
            4,
            "architecture 'a9'",
        ),
        ("datasets: [d1]\narchitectures: [a1]\nstrategies: [ft, zz]\nseeds: [0]\n", 3, "strategy 'zz'"),
        (
            "datasets: [d1]\narchitectures: [a1]\nstrategies: [ft]\nseeds: [0]\nsources: [web]\n",
            5,
            "source 'web'",
        ),
        ("datasets: [d1]\narchitectures: [a1]\nstrategies: []\nseeds: [0]\n", 3, "empty axis"),
        (
            "datasets: [d1]\narchitectures: [a1]\nstrategies: [ft]\nseeds: [0]\ntrain:\n  epochs: ten\n",
            6,
            "train.epochs",
        ),
        (
            "datasets: [d1]\narchitectures: [a1]\nstrategies: [ft]\nseeds: [0]\ntrain: {epoch: 3}\n",
            5,
            "did you mean 'epochs'",
        ),
        (
            "datasets: [d1]\narchitectures: [a1]\nstrategies: [ft]\nseeds: [0]\ntrian: {}\n",
            5,
            "did you mean 'train'",
        ),
        ("datasets: [d1\narchitectures: [a1]\n", 2, "YAML syntax error"),
        ("datasets: [d1]\ndatasets: [d2]\n", 2, "duplicate key"),
    ],
)
def test_bad_matrix_names_file_and_line(matrix_file, text, line, needle):
    with pytest.raises(UserError) as info:
        load(matrix_file, text)
    message = str(info.value)
    assert needle in message
    assert f"m.yaml:{line}:" in message
    assert "\n" not in message
