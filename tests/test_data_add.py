"""`data add` accounts for every file: what it skipped and why, what it refused (all at once), and 16-bit images."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from data_fixtures import image

from suite.cli import main
from suite.data.dataset import load_task_data
from suite.data.lock import lock_entry


@pytest.fixture
def lock(tmp_path, monkeypatch) -> Path:
    """A datasets.lock of this test's own (MEDTL_LOCK) holding one entry, so `data add` appends there."""
    entry = yaml.safe_load(Path(os.environ["MEDTL_LOCK"]).read_text())["datasets"]["synthetic-fundus"]
    path = tmp_path / "datasets.lock"
    path.write_text(yaml.safe_dump({"version": 1, "datasets": {"synthetic-fundus": entry}}))
    monkeypatch.setenv("MEDTL_LOCK", str(path))
    return path


def messy_folder(root: Path, bad: int = 1) -> Path:
    """Two classes of 16-bit TIFFs and 8-bit PNGs, plus what a real folder holds: README.txt, .DS_Store, a corrupt
    PNG (`bad` of them) and a zero-byte file."""
    for i in range(12):
        image(root / ("normal" if i % 2 else "tumour") / f"scan{i}.tif", i, mode="I;16")
    for i in range(6):
        image(root / ("normal" if i % 2 else "tumour") / f"photo{i}.png", 100 + i)
    (root / "README.txt").write_text("scans from the 2024 study\n")
    (root / ".DS_Store").write_bytes(b"\0" * 64)
    (root / "normal" / ".DS_Store").write_bytes(b"\0" * 64)
    for i in range(bad):
        (root / "normal" / f"corrupt{i}.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really" * 20)
    (root / "tumour" / "empty.png").write_bytes(b"")
    return root


def test_data_add_refuses_undecodable_and_empty_images_naming_each(tmp_path, lock, capsys):
    before = lock.read_text()
    folder = messy_folder(tmp_path / "scans")
    assert main(["data", "add", "scans", "--folder", str(folder)]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "nothing added: 2 of 20 image file(s)" in err
    assert "normal/corrupt0.png (cannot decode: " in err and "tumour/empty.png (empty file)" in err
    assert "skipped 3 file(s): 2 hidden (.DS_Store, normal/.DS_Store); 1 not an image (README.txt)" in out
    assert lock.read_text() == before and not (tmp_path / "datasets.lock.d").exists()


def test_a_long_refusal_is_capped_and_listed_in_full_in_a_file(tmp_path, lock, capsys):
    folder = messy_folder(tmp_path / "scans", bad=14)
    assert main(["data", "add", "scans", "--folder", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "15 of 33 image file(s)" in err and " and 5 more (all 15 in " in err
    listing = Path(err.split("(all 15 in ")[1].split(")")[0])
    assert len(listing.read_text().splitlines()) == 15


def test_data_add_lists_what_it_skipped_and_reads_16_bit_images(tmp_path, lock, capsys):
    folder = messy_folder(tmp_path / "scans", bad=0)
    (folder / "tumour" / "empty.png").unlink()
    assert main(["data", "add", "scans", "--folder", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "scans: binary, 18 images (normal: 9, tumour: 9)" in out
    assert "skipped 3 file(s): 2 hidden (.DS_Store, normal/.DS_Store); 1 not an image (README.txt)" in out
    assert "12 image(s) have 16-bit (or wider) pixels: image.intensity is minmax" in out
    assert lock_entry("scans").image.intensity == "minmax"
    data = load_task_data("scans", 16)  # every TIFF decodes: the first training run does not stop on one
    assert data.verified and sum(len(s) for s in data.splits.values()) == 18
    assert all(s.images.float().std() > 0 for s in data.splits.values())
