"""Bad input gets a one-line answer and nothing is lost: verification, bad-file policies, path escapes, commands."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from data_fixtures import image

from suite.cli import main
from suite.data.adapters import build_index
from suite.data.dataset import load_task_data, prepare
from suite.data.lock import lock_entry
from suite.errors import DataVerificationError, UserError


def make_dataset(tmp_path, monkeypatch, labels=("a", "b") * 6, bad_files="fail", extra_rows=()):
    """A csv-index dataset `ds` under tmp_path/ds and a datasets.lock holding it (MEDTL_LOCK points there)."""
    root = tmp_path / "ds"
    rows = ["path,label,patient"]
    for i, label in enumerate(labels):
        image(root / "img" / f"{i}.png", i)
        rows.append(f"img/{i}.png,{label},p{i // 2}")
    rows.extend(extra_rows)
    (root / "index.csv").write_text("\n".join(rows) + "\n")
    entry = {
        "task": "binary",
        "classes": ["a", "b"],
        "modality": "other",
        "description": "test data",
        "licence": "none",
        "access": "made by the test",
        "source": {"kind": "manual"},
        "adapter": {"name": "csv-index"},
        "split": {"ratios": {"train": 0.5, "val": 0.5}, "stratify": "label", "seed": 1},
        "metrics": ["accuracy"],
        "bad_files": bad_files,
        "root": str(root),
    }
    lock = tmp_path / "datasets.lock"
    lock.write_text("# a comment kept by edits\n" + yaml.safe_dump({"version": 1, "datasets": {"ds": entry}}))
    monkeypatch.setenv("MEDTL_LOCK", str(lock))
    return root


def _append_row(root, row: str) -> None:
    with (root / "index.csv").open("a") as f:
        f.write(row + "\n")


def test_verify_lists_missing_extra_changed_and_relabelled(tmp_path, monkeypatch, capsys):
    root = make_dataset(tmp_path, monkeypatch)
    assert main(["data", "lock", "ds"]) == 0
    assert main(["data", "verify", "ds"]) == 0 and "ds: ok" in capsys.readouterr().out
    (root / "img/0.png").unlink()
    (root / "img/1.png").write_bytes((root / "img/1.png").read_bytes() + b"\0")
    image(root / "img/new.png", 50)
    _append_row(root, "img/new.png,a,p9")
    text = (root / "index.csv").read_text().replace("img/2.png,a,", "img/2.png,b,")
    (root / "index.csv").write_text(text)
    assert main(["data", "verify", "ds"]) == 2
    out, err = capsys.readouterr()
    assert "missing (1): img/0.png" in out and "extra (1): img/new.png" in out
    assert "changed (1): img/1.png" in out and "relabelled (1): img/2.png" in out
    assert err.count("\n") == 1 and "do not match datasets.lock: ds" in err


def test_cell_refuses_unverified_data_unless_allowed(tmp_path, monkeypatch):
    root = make_dataset(tmp_path, monkeypatch)
    with pytest.raises(DataVerificationError, match="no digest yet"):
        prepare("ds")
    main(["data", "lock", "ds"])
    (root / "img/3.png").write_bytes((root / "img/3.png").read_bytes() + b"\0")
    with pytest.raises(DataVerificationError, match=r"1 changed.*--allow-unverified") as info:
        prepare("ds")
    assert "\n" not in str(info.value)
    data = load_task_data("ds", 16, allow_unverified=True)
    assert not data.verified and data.record["verified"] is False
    assert any("unverified data" in w for w in data.warnings)


def test_bad_files_skip_leaves_files_out_and_counts_them(tmp_path, monkeypatch):
    root = make_dataset(tmp_path, monkeypatch, bad_files="skip", extra_rows=["img/broken.png,a,p8"])
    (root / "img/broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    main(["data", "lock", "ds"])  # the published copy itself holds a corrupt file
    (root / "img/4.png").unlink()
    image(root / "img/extra.png", 60)
    _append_row(root, "img/extra.png,b,p9")
    data = load_task_data("ds", 16)
    assert data.verified
    assert data.record["skipped"] == {"missing": 1, "extra": 1, "corrupt": 1}
    assert sum(len(s) for s in data.splits.values()) == 14 - 3
    assert not any("broken" in i or "extra" in i for s in data.splits.values() for i in s.ids)


def test_corrupt_files_fail_with_their_paths(tmp_path, monkeypatch):
    root = make_dataset(tmp_path, monkeypatch, extra_rows=["img/broken.png,a,p8"])
    (root / "img/broken.png").write_bytes(b"not an image at all")
    main(["data", "lock", "ds"])
    with pytest.raises(UserError, match=r"1 image\(s\) cannot be decoded: .*img/broken.png.*bad_files: skip"):
        load_task_data("ds", 16)


def test_missing_files_stop_data_lock_with_paths(tmp_path, monkeypatch):
    make_dataset(tmp_path, monkeypatch, extra_rows=["img/gone.png,a,p8"])
    with pytest.raises(UserError, match=r"1 indexed file\(s\) missing .*img/gone.png"):
        main_raising(["data", "lock", "ds"])


def main_raising(argv):
    from suite.cli import _parser
    from suite.commands.data import dispatch

    return dispatch(_parser().parse_args(argv))


@pytest.mark.parametrize("bad", ["../outside.png", "/etc/hostname", "img/../../outside.png", "C:/x.png"])
def test_index_paths_escaping_the_root_are_rejected(tmp_path, monkeypatch, bad):
    make_dataset(tmp_path, monkeypatch, extra_rows=[f"{bad},a,p8"])
    with pytest.raises(UserError, match="escapes the dataset root"):
        build_index(tmp_path / "ds", lock_entry("ds"), "ds")


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_symlinks_out_of_the_root_are_rejected(tmp_path, monkeypatch, kind):
    root = make_dataset(tmp_path, monkeypatch)
    outside = tmp_path / "outside"
    image(outside / "secret.png", 1)
    if kind == "file":
        os.symlink(outside / "secret.png", root / "img" / "link.png")
        _append_row(root, "img/link.png,a,p8")
    else:
        os.symlink(outside, root / "linked")
        _append_row(root, "linked/secret.png,a,p8")
    with pytest.raises(UserError, match="symlink pointing outside the dataset root"):
        build_index(root, lock_entry("ds"), "ds")


def test_labels_outside_the_label_map_are_named(tmp_path, monkeypatch):
    make_dataset(tmp_path, monkeypatch, extra_rows=["img/x.png,tumour,p8"])
    with pytest.raises(
        UserError, match=r"label 'tumour' of img/x.png is not in the lock's label map; valid: \['a', 'b'\]"
    ):
        build_index(tmp_path / "ds", lock_entry("ds"), "ds")


def test_a_class_empty_after_the_split_is_an_error(tmp_path, monkeypatch):
    make_dataset(tmp_path, monkeypatch, labels=("a",) * 7 + ("b",))
    main(["data", "lock", "ds"])
    with pytest.raises(UserError, match=r"split 'train' has no images of class\(es\) \['b'\]"):
        prepare("ds")


def test_data_splits_prints_counts_and_flags_leakage(tmp_path, monkeypatch, capsys):
    make_dataset(tmp_path, monkeypatch)  # split not grouped, two images per patient
    main(["data", "lock", "ds"])
    assert main(["data", "splits", "ds"]) == 0
    out = capsys.readouterr().out
    assert "train" in out and "| images" in out and "LEAKAGE" in out and "patient(s)" in out
    text = (
        (tmp_path / "datasets.lock")
        .read_text()
        .replace("stratify: label", "stratify: label\n      group: patient")
    )
    (tmp_path / "datasets.lock").write_text(text)
    main(["data", "lock", "ds"])
    main(["data", "splits", "ds"])
    assert "leakage: none" in capsys.readouterr().out


def test_data_lock_root_is_recorded(tmp_path, monkeypatch):
    root = make_dataset(tmp_path, monkeypatch)
    moved = tmp_path / "moved"
    root.rename(moved)
    assert main(["data", "lock", "ds", "--root", str(moved)]) == 0
    text = (tmp_path / "datasets.lock").read_text()
    assert f"root: {moved}" in text and text.startswith("# a comment kept by edits")
    assert prepare("ds").verified


def test_data_add_is_the_two_minute_path(tmp_path, monkeypatch, capsys, matrix_file):
    from suite.catalog import SuiteCatalog
    from suite.matrix import load_matrix

    make_dataset(tmp_path, monkeypatch)
    folder = tmp_path / "mine"
    for i in range(40):
        image(folder / ("polyp" if i % 3 else "normal") / f"case{i // 2}_{i}.png", i)
    argv = ["data", "add", "my-polyps", "--folder", str(folder), "--modality", "endoscopy"]
    assert main([*argv, "--patient-pattern", r"case(\d+)_"]) == 0
    out = capsys.readouterr().out
    assert "my-polyps: binary, 40 images (normal: 14, polyp: 26)" in out and "locked 40 files" in out
    entry = lock_entry("my-polyps")
    assert entry.split.group == "patient" and entry.classes == ["normal", "polyp"] and entry.digest.files
    assert "# added by `medtl-bench data add my-polyps" in (tmp_path / "datasets.lock").read_text()
    assert "my-polyps" in SuiteCatalog().dataset_names()
    path = matrix_file(
        "datasets: [my-polyps]\narchitectures: [resnet18]\nsources: [scratch]\nstrategies: [ft]\nseeds: 1\n"
    )
    assert len(load_matrix(str(path), SuiteCatalog()).cells) == 1
    data = load_task_data("my-polyps", 16)
    assert data.verified and sum(len(s) for s in data.splits.values()) == 40
    assert main(["data", "add", "my-polyps", "--folder", str(folder)]) == 2  # no silent overwrite


def test_data_verify_all_lists_absent_datasets_as_not_installed(tmp_path, monkeypatch, capsys):
    make_dataset(tmp_path, monkeypatch)
    main(["data", "lock", "ds"])
    text = (tmp_path / "datasets.lock").read_text()
    absent = yaml.safe_load(text)["datasets"]["ds"] | {"root": str(tmp_path / "nowhere"), "digest": {}}
    raw = yaml.safe_load(text)
    raw["datasets"]["absent"] = absent
    (tmp_path / "datasets.lock").write_text(yaml.safe_dump(raw))
    assert main(["data", "verify"]) == 0
    out = capsys.readouterr().out
    assert "ds: ok" in out and "absent: not installed" in out and "made by the test" in out  # access steps
    assert main(["data", "verify", "absent"]) == 2


def test_run_allow_unverified_reaches_the_cell(tmp_path, monkeypatch):
    """Through the executor: tampered data fails the cell; `--allow-unverified` trains it and the result says so."""
    from suite.results import load_results

    root = make_dataset(tmp_path, monkeypatch, labels=("a", "b") * 10)
    main(["data", "lock", "ds"])
    (root / "img/3.png").write_bytes((root / "img/3.png").read_bytes() + b"\0")
    matrix = tmp_path / "m.yaml"
    matrix.write_text(
        "datasets: [ds]\narchitectures: ['timm:resnet10t']\nsources: [scratch]\nstrategies: [lp]\nseeds: [0]\n"
        "train: {epochs: 1, batch_size: 4, image_size: 16, threads: 1, profile: {latency: false, macs: false}}\n"
    )
    results = tmp_path / "results"
    assert main(["run", str(matrix), "--results", str(results), "--no-report"]) == 1
    (refused,) = load_results(results / "m" / "runs")
    assert refused.status == "failed" and "--allow-unverified" in refused.error
    assert main(["run", str(matrix), "--results", str(results), "--no-report", "--allow-unverified"]) == 0
    (trained,) = load_results(results / "m" / "runs")
    assert trained.status == "ok" and trained.data["verified"] is False
    assert trained.cell_id == refused.cell_id  # a run option, not part of the cell's id


def test_data_make_materialises_an_embedded_set_and_refuses_real_data(capsys):
    """`medtl-bench data make` writes PNGs + index.csv once; a real dataset gets its access notes instead."""
    assert main(["data", "make", "synthetic-vessels"]) == 0
    root = capsys.readouterr().out.strip().split(": ", 1)[1]
    index = (Path(root) / "index.csv").read_text().splitlines()
    assert index[0].startswith("image_id,path,label,patient") and len(index) > 1
    assert all((Path(root) / row.split(",")[1]).is_file() for row in index[1:])
    assert main(["data", "make", "synthetic-vesels"]) == 2
    assert "did you mean 'synthetic-vessels'" in capsys.readouterr().err
