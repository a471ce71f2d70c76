"""Hostile or broken matrix files end in one line and exit 2, fast, with nothing written (issue 19.2).

Each case used to print a traceback (binary bytes, `seeds: 10**12`, a self-referencing alias), take a minute (an
alias bomb), or be silently misread (a YAML tag on a list, an empty file's error naming no file). Where the point is
speed, the tests assert structure instead of time: the loader constructs no value at all before refusing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from report_fixtures import FakeCatalog

from suite.cli import main
from suite.errors import UserError
from suite.matrix import load_matrix

MAX_BYTES = 256 * 1024  # suite.matrix.yaml_guard.MAX_BYTES
AXES = """datasets: [synthetic-vessels]
architectures: [tf_efficientnet_lite0]
strategies: [ft]
seeds: [0]
"""
# Each level repeats the one before nine times: 9**7 ≈ 4.8 million nodes from a few hundred bytes.
BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{b}: &{b} [{','.join([f'*{a}'] * 9)}]" for a, b in zip("abcdef", "bcdefg")]
)


def dry_run(tmp_path: Path, capsys, content: str | bytes, *flags: str) -> tuple[int, str]:
    """`run FILE --dry-run`; returns the exit code and the single stderr line, checking nothing was written."""
    path = tmp_path / "bad.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    results = tmp_path / "results"
    code = main(["run", str(path), "--dry-run", "--results", str(results), *flags])
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err[:2000]
    assert err.startswith("medtl-bench: error: ") and "bad.yaml" in err
    assert not results.exists()
    return code, err


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"\xff\xfe\x00binary\x80", "not UTF-8 text: byte 0xff at offset 0"),
        (AXES.encode() + b"# caf\xe9\n", f"not UTF-8 text: byte 0xe9 at offset {len(AXES) + 5}"),
        ("datasets: [a\x00b]\n", "unacceptable character #x0000"),
        ("", "the file is empty"),
        ("# only a comment\n", "the file is empty"),
        ("a: &a [*a]\n", "bad.yaml:1:4: a YAML alias refers to a node that contains it"),
        ("base: &b {<<: *b}\n", "recursive alias"),
        (BOMB, "aliases expand this to more than 20,000 YAML nodes"),
        ("x: " + "[" * 5000 + "]" * 5000, "nested more than 32 levels deep"),
        ("\n".join(["a0: &a0 [1]"] + [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, 40)]), "aliases nest"),
        ("# " + "x" * MAX_BYTES, "larger than 256 KiB"),
        (
            AXES.replace("[synthetic-vessels]", "!!set {synthetic-vessels: null}"),
            "YAML tag !!set on a mapping",
        ),
        (AXES.replace("[ft]", "!!omap [{ft: 1}]"), "YAML tag !!omap on a list"),
        (AXES.replace("[ft]", "!mine [ft]"), "YAML tag !mine on a list"),
        ("? [a, b]\n: c\n", "bad.yaml:1:3: a key must be a plain value"),
        (AXES + "description: 2001-02-30\n", "cannot read the value '2001-02-30'"),
        (AXES + "description: !!bool maybe\n", "cannot read the value 'maybe'"),
        (AXES.replace("seeds: [0]", "seeds: " + "9" * 5000), "cannot read the value"),
        ("x: !!timestamp ''\n", "cannot read the value ''"),
        (AXES + "include: false\n", "include: give a file name or a list of file names"),
        (AXES + 'include: "a\\0b"\n', "include: give a file name"),
        (AXES + "include: " + "a" * 300 + "\n", "include: file 'aaaa"),
        ('union: ["a\\0b"]\n', "union: give a file name"),
    ],
)
def test_bad_files_are_one_line(tmp_path, capsys, content, needle):
    code, err = dry_run(tmp_path, capsys, content)
    assert code == 2 and needle in err


@pytest.mark.parametrize(
    ("seeds", "needle"),
    [
        ("1000000000000", "`seeds: N` means seeds 0 to N-1; N must be 1 to 10,000, not 1000000000000"),
        ("0", "N must be 1 to 10,000, not 0"),
        ("[0, -1]", "a seed is an integer from 0 to 2**32-1"),
        ("[4294967296]", "not 4294967296"),
    ],
)
def test_seeds_are_bounded_before_anything_is_built(tmp_path, capsys, seeds, needle):
    code, err = dry_run(tmp_path, capsys, AXES.replace("seeds: [0]", f"seeds: {seeds}"))
    assert code == 2 and "bad.yaml:4:8: seeds: " in err and needle in err


def test_aliases_are_bounded_not_banned(tmp_path, monkeypatch):
    """benchmarks/peng2023-ttl.yaml shares lists through aliases, so they keep working; a bomb is refused before
    a single value is constructed (structural, not timed: the graph is measured on the composed nodes)."""
    (tmp_path / "m.yaml").write_text(
        "datasets: &d [synthetic-vessels]\narchitectures: [a1]\nstrategies: [ft]\nseeds: 1\n"
        "grids: [{datasets: *d}, {datasets: *d, seeds: [5]}]\n"
    )
    assert len(load_matrix(str(tmp_path / "m.yaml"), FakeCatalog()).cells) == 2
    built = []
    original = yaml.SafeLoader.construct_object
    monkeypatch.setattr(
        yaml.SafeLoader, "construct_object", lambda self, *a, **k: built.append(1) or original(self, *a, **k)
    )
    (tmp_path / "bomb.yaml").write_text(BOMB)
    with pytest.raises(UserError, match="more than 20,000 YAML nodes"):
        load_matrix(str(tmp_path / "bomb.yaml"), FakeCatalog())
    assert built == []


class CountingCatalog(FakeCatalog):
    """Counts how many cells expansion started to build (each resolves its architecture first)."""

    def __init__(self) -> None:
        self.built = 0

    def architecture(self, entry):
        self.built += 1
        return super().architecture(entry)


SWEEP = """datasets: [synthetic-vessels]
architectures: [a1]
strategies: [ft]
seeds: 1
sweep: {{lr: [{lrs}], weight_decay: [{wds}]}}
"""


def test_the_cell_count_is_capped_before_any_cell_is_built(tmp_path):
    lrs = ",".join(f"{i + 1}e-5" for i in range(1000))
    (tmp_path / "big.yaml").write_text(SWEEP.format(lrs=lrs, wds=",".join(str(i) for i in range(1000))))
    catalog = CountingCatalog()
    with pytest.raises(
        UserError, match=r"expands to 1,000,000 cells, more than the cap of 100,000; .*--max-cells"
    ):
        load_matrix(str(tmp_path / "big.yaml"), catalog)
    assert catalog.built == 0


def test_the_cap_counts_variants_as_they_expand(tmp_path):
    (tmp_path / "m.yaml").write_text(SWEEP.format(lrs="1e-3", wds="0").replace("[ft]", '["ttl@*"]'))
    assert len(load_matrix(str(tmp_path / "m.yaml"), FakeCatalog()).cells) == 7  # seven TTL variants
    with pytest.raises(UserError, match="more than 5 cells"):
        load_matrix(str(tmp_path / "m.yaml"), FakeCatalog(), max_cells=5)


def test_max_cells_raises_or_lowers_the_cap(tmp_path, capsys):
    path = tmp_path / "m.yaml"
    path.write_text(AXES.replace("seeds: [0]", "seeds: 3"))
    results = str(tmp_path / "r")
    assert main(["run", str(path), "--dry-run", "--results", results, "--max-cells", "2"]) == 2
    err = capsys.readouterr().err
    assert "m.yaml:1:1: expands to 3 cells, more than the cap of 2" in err
    assert main(["run", str(path), "--dry-run", "--results", results, "--max-cells", "3"]) == 0
    assert "3 cells in matrix" in capsys.readouterr().out
