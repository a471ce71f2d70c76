"""Exit codes and summaries say what happened (issue 19.4b): 0 all done, 1 some cell failed, 2 a user mistake.

Each case used to exit 0: `run --no-retry-failed` over failed results ("0 failed"), `report` on a results folder
that does not exist (an empty board), `--jobs 0`, an `--only` that matches nothing, `profile --image-size 0`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from report_fixtures import write_cell

from suite.cli import main
from suite.commands import load_checked
from suite.results import RunPaths

MATRIX = """
name: codes
datasets: [synthetic-vessels]
architectures: ["timm:resnet10t"]
sources: [scratch]
strategies: [ft, lp]
seeds: [0, 1, 2]
train: {epochs: 1, image_size: 32}
"""


@pytest.fixture
def matrix(tmp_path) -> Path:
    path = tmp_path / "codes.yaml"
    path.write_text(MATRIX)
    return path


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("medtl-bench: error: ")
    return err


def test_kept_failures_are_counted_and_the_run_exits_1(tmp_path, capsys, matrix):
    """Three cells failed before; `--no-retry-failed` keeps them, so the run is not a success."""
    loaded = load_checked(str(matrix))
    paths = RunPaths(tmp_path / "results" / "codes")
    for cell in loaded.cells:
        failed = cell.config.strategy.name == "lp"
        write_cell(paths, "codes", cell, {"status": "failed", "error": "boom"} if failed else {"val": 0.8})
    args = ["run", str(matrix), "--results", str(tmp_path / "results"), "--no-report", "--no-retry-failed"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "6 cells: 0 trained, 3 already done, 0 failed, 3 failed before, kept (--no-retry-failed)," in err
    assert err.count("FAILED before, kept") == 3 and "boom" in err


def test_report_on_a_results_folder_that_does_not_exist(tmp_path, capsys, matrix):
    assert main(["report", str(matrix), "--results", str(tmp_path / "nowhere")]) == 2
    err = one_line(capsys)
    assert "no results for matrix 'codes'" in err and "does not exist" in err
    assert not (tmp_path / "nowhere").exists()


def test_report_with_a_bad_compare_folder_writes_nothing(tmp_path, capsys, matrix):
    paths = RunPaths(tmp_path / "results" / "codes")
    for cell in load_checked(str(matrix)).cells:
        write_cell(paths, "codes", cell, {"val": 0.8, "test": 0.7})
    before = sorted(p.name for p in paths.root.rglob("*"))
    args = ["report", str(matrix), "--results", str(tmp_path / "results"), "--compare", str(tmp_path / "old")]
    assert main(args) == 2
    assert "--compare" in one_line(capsys)
    assert sorted(p.name for p in paths.root.rglob("*")) == before


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (
            ["--only", "strategy=fy"],
            "--only strategy=fy matches no cell; strategy values in this matrix: ft, lp",
        ),
        (["--only", "seed=7"], "seed values in this matrix: 0, 1, 2"),
        (
            ["--only", "strategy=lp", "--only", "seed=0,9", "--only", "arch=resnet*"],
            "--only architecture=resnet*",
        ),
        (["--only", "strategy=lp", "--only", "id=deadbeef*"], "id values in this matrix: "),
        (["--jobs", "0"], "run: argument --jobs: must be ≥ 1, got 0"),
        (["--jobs", "two"], "must be an integer ≥ 1, got 'two'"),
        (["--max-cells", "0"], "argument --max-cells: must be ≥ 1"),
        (["--cpus", "-1"], "argument --cpus: must be a number > 0"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    ],
)
def test_run_mistakes_are_one_line_and_exit_2(tmp_path, capsys, matrix, flags, needle):
    results = tmp_path / "results"
    assert main(["run", str(matrix), "--dry-run", "--results", str(results), *flags]) == 2
    assert needle in one_line(capsys)
    assert not results.exists()


def test_filters_that_each_match_but_not_together(capsys, matrix, tmp_path):
    """Every cell here is resnet10t, so `arch=timm*` matches; with `source=imagenet` nothing does."""
    assert main(["run", str(matrix), "--dry-run", "--only", "arch=timm*", "--only", "source=imagenet"]) == 2
    assert "source values in this matrix: scratch" in one_line(capsys)
    (tmp_path / "two.yaml").write_text(MATRIX.replace("sources: [scratch]", "sources: [scratch, imagenet]"))
    assert main(["run", str(tmp_path / "two.yaml"), "--dry-run", "--only", "seed=0", "--only", "seed=1"]) == 2
    assert "no cell matches all of them" in one_line(capsys)


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--image-size", "-5"], "argument --image-size: must be ≥ 8, got -5"),
        (["--image-size", "0"], "argument --image-size: must be ≥ 8, got 0"),
        (["--num-classes", "1"], "argument --num-classes: must be ≥ 2"),
        (["--threads", "0"], "argument --threads: must be ≥ 1"),
        (["--batch-sizes", "0,1"], "batch sizes must be ≥ 1"),
    ],
)
def test_profile_numbers_are_checked_by_the_parser(capsys, flags, needle):
    assert main(["profile", "resnet18", "--no-latency", "--no-train", *flags]) == 2
    err = one_line(capsys)
    assert err.startswith("medtl-bench: error: profile: ") and needle in err


def test_help_still_prints_usage_and_exits_0(capsys):
    assert main(["run", "--help"]) == 0
    assert "--max-cells" in capsys.readouterr().out
