"""`union:` matrices (benchmarks/full.yaml): each member expands with its own settings; shared cells run once."""

from __future__ import annotations

import pytest
from test_matrix import FakeCatalog

from suite.errors import UserError
from suite.matrix import load_matrix

A = "datasets: [d1]\narchitectures: [a1]\nstrategies: [ft, lp]\nseeds: [0]\ntrain: {epochs: 3}\n"
B = "datasets: [d1, d2]\narchitectures: [a1]\nstrategies: [ft]\nseeds: [0]\ntrain: {epochs: 3}\n"
C = "datasets: [d2]\narchitectures: [a2]\nstrategies: [lp]\nseeds: [0]\ntrain: {epochs: 9}\n"


def test_union_keeps_each_members_settings_and_runs_shared_cells_once(matrix_file):
    for name, text in (("a.yaml", A), ("b.yaml", B), ("c.yaml", C)):
        matrix_file(text, name)
    full = load_matrix(
        str(matrix_file("name: all\nunion: [a.yaml, b.yaml, c.yaml]\n", "all.yaml")), FakeCatalog()
    )
    members = [
        load_matrix(str(matrix_file(t, n)), FakeCatalog()).cells
        for n, t in (("a.yaml", A), ("b.yaml", B), ("c.yaml", C))
    ]
    assert full.name == "all"
    assert [c.id for c in full.cells] == list(dict.fromkeys(c.id for cells in members for c in cells))
    assert len(full.cells) == 2 + 1 + 1  # b's (d1, a1, ft) is a's too
    assert {c.config.train.epochs for c in full.cells if c.key["architecture"] == "a2"} == {9}


@pytest.mark.parametrize(
    "text,needle",
    [
        ("union: [missing.yaml]\n", "union: matrix file 'missing.yaml' not found"),
        ("union: [a.yaml]\nseeds: [0]\n", "give it no axes"),
        ("union: [self.yaml]\n", "union cycle"),
    ],
)
def test_union_mistakes_are_one_line_errors(matrix_file, text, needle):
    matrix_file(A, "a.yaml")
    with pytest.raises(UserError, match=needle):
        load_matrix(str(matrix_file(text, "self.yaml")), FakeCatalog())
