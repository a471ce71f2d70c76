"""Names that become paths stay one safe component, and every path written under a root resolves inside it.

Issue 19.1: `name: ../../../tmp/escape-by-name` used to train and write three levels above `--results`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from data_fixtures import image
from report_fixtures import load, write_results

from suite.cli import main
from suite.data.lock import clear_cache, load_lock
from suite.errors import UserError
from suite.report.leaderboard import write_report
from suite.results import RunPaths

AXES = """
datasets: [synthetic-vessels]
architectures: [tf_efficientnet_lite0]
strategies: [ft]
seeds: [0]
train: {epochs: 1, image_size: 32}
"""


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("medtl-bench: error: ")
    return err


@pytest.mark.parametrize("name", ["smoke", "my-study_2", "Peng2023.ttl", "a" * 100])
def test_safe_names_pass(name):
    from suite.paths import check_name

    assert check_name("matrix name", name) == name


@pytest.mark.parametrize(
    "name", ["", ".", "..", "a..b", "../x", "a/b", "/abs", "-flag", ".hidden", "a b", "a\nb", "ü", "a" * 101]
)
def test_unsafe_names_are_one_line_errors(name):
    from suite.paths import check_name

    with pytest.raises(UserError) as caught:
        check_name("dataset name", name)
    assert str(caught.value).startswith("dataset name ") and "\n" not in str(caught.value)


def test_inside_refuses_paths_and_symlinks_that_leave_the_root(tmp_path):
    from suite.paths import inside

    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    (root / "sub").mkdir(parents=True)
    elsewhere.mkdir()
    (root / "link").symlink_to(elsewhere)
    assert inside(root, root / "sub" / "x.json") == root / "sub" / "x.json"
    assert inside(root, root / "not-yet" / "x") == root / "not-yet" / "x"
    for bad in (root / ".." / "x", root / "link" / "x.json", Path("/tmp/x")):
        with pytest.raises(UserError, match="outside"):
            inside(root, bad)


@pytest.mark.parametrize(
    "name", ["../../../escape-by-name", "{tmp}/absolute", "sub/dir", "..", "a..b", "'with space'"]
)
def test_a_matrix_name_that_would_leave_the_results_folder_is_refused(tmp_path, capsys, name):
    name = name.format(tmp=tmp_path)
    work = tmp_path / "a" / "b" / "c"
    work.mkdir(parents=True)
    path = work / "m.yaml"
    path.write_text(f"name: {name}\n{AXES}")
    results = work / "results"
    assert main(["run", str(path), "--dry-run", "--results", str(results)]) == 2
    err = one_line_error(capsys)
    assert "m.yaml:1:7: name: matrix name" in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == [
        "a",
        "b",
        "c",
        "m.yaml",
    ]  # nothing written anywhere


def test_a_file_name_that_cannot_be_a_folder_asks_for_name(tmp_path, capsys):
    path = tmp_path / "my study.yaml"
    path.write_text(AXES)
    assert main(["run", str(path), "--dry-run", "--results", str(tmp_path / "r")]) == 2
    assert "set `name:` in the file" in one_line_error(capsys)
    assert not (tmp_path / "r").exists()


def test_a_results_folder_symlinked_outside_its_root_is_refused(tmp_path, capsys):
    path = tmp_path / "m.yaml"
    path.write_text(AXES)
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "results" / "m").mkdir(parents=True)
    (tmp_path / "results" / "m" / "runs").symlink_to(outside)
    assert main(["run", str(path), "--dry-run", "--results", str(tmp_path / "results")]) == 2
    assert "outside" in one_line_error(capsys)
    assert list(outside.iterdir()) == []


def test_report_plots_never_leave_the_results_folder(tmp_path):
    """A `plots` symlink planted in the results folder would send every figure, and the pruning of old ones,
    elsewhere."""
    (tmp_path / "m.yaml").write_text(
        "name: m\ndatasets: [synthetic-vessels]\narchitectures: [a1]\nstrategies: [ft, lp]\nseeds: 2\n"
    )
    matrix = load(tmp_path / "m.yaml")
    paths = write_results(matrix, tmp_path / "results", lambda c: {"val": 0.8, "test": 0.7})
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.png").write_bytes(b"not ours")
    (paths.root / "plots").symlink_to(outside)
    with pytest.raises(UserError, match="outside"):
        write_report(matrix, paths)
    assert [p.name for p in outside.iterdir()] == ["keep.png"]


def test_a_results_folder_that_is_a_file(tmp_path, capsys):
    (tmp_path / "m.yaml").write_text(AXES)
    (tmp_path / "results").write_text("not a folder")
    assert main(["run", str(tmp_path / "m.yaml"), "--results", str(tmp_path / "results"), "--no-report"]) == 2
    assert "is a file, not a folder" in one_line_error(capsys)


def test_run_paths_refuse_a_matrix_name_and_cell_folders_outside(tmp_path):
    with pytest.raises(UserError, match="matrix name"):
        RunPaths.for_matrix(tmp_path, "../up")
    paths = RunPaths.for_matrix(tmp_path, "m")
    assert paths.root == tmp_path / "m"
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "work").symlink_to(tmp_path)
    with pytest.raises(UserError, match="outside"):
        _ = paths.work


def _class_folders(folder: Path) -> None:
    for i in range(40):
        image(folder / ("polyp" if i % 3 else "normal") / f"case{i // 2}_{i}.png", i)


@pytest.mark.parametrize("name", ["a..b", "x.."])
def test_data_add_refuses_a_dataset_name_with_dots(tmp_path, monkeypatch, capsys, name):
    lock = tmp_path / "datasets.lock"
    lock.write_text(Path(os.environ["MEDTL_LOCK"]).read_text())
    monkeypatch.setenv("MEDTL_LOCK", str(lock))
    _class_folders(tmp_path / "mine")
    before = lock.read_text()
    assert main(["data", "add", name, "--folder", str(tmp_path / "mine")]) == 2
    assert "dataset name" in one_line_error(capsys)
    assert lock.read_text() == before


def test_a_lock_entry_whose_name_leaves_its_folder_is_refused(tmp_path):
    raw = yaml.safe_load(Path(os.environ["MEDTL_LOCK"]).read_text())
    raw["datasets"]["../evil"] = raw["datasets"]["synthetic-vessels"]
    lock = tmp_path / "datasets.lock"
    lock.write_text(yaml.safe_dump(raw))
    clear_cache()
    with pytest.raises(UserError, match=r"dataset name '\.\./evil'"):
        load_lock(lock)
