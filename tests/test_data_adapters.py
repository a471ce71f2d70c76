"""Every adapter on a tiny copy of its dataset's published layout (tests/data_fixtures.py), then to tensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from data_fixtures import FIXTURES, Expect

from suite.data.adapters import ADAPTERS, build_index
from suite.data.cache import CacheRequest, decoded_images, rows_digest
from suite.data.images import Geometry
from suite.data.lock import DatasetsLock, LockEntry, lock_entry
from suite.errors import UserError

REPO = Path(__file__).resolve().parents[1]


def _entry_dict(adapter: str, expect: Expect, root) -> dict:
    datasets = yaml.safe_load((REPO / "datasets.lock").read_text())["datasets"]
    if expect.dataset:
        entry = dict(datasets[expect.dataset])
    else:  # class-folder: a user's own data, as `data add` writes it
        entry = {**datasets["bach"], "classes": ["cats", "dogs"], "label_map": {}, "task": "binary"}
    options = {**entry["adapter"].get("options", {}), **expect.options}
    entry.update(
        adapter={"name": adapter, "options": options},
        source={"kind": "manual"},
        root=str(root),
        counts={},
        digest={},
    )
    return entry


def _fixture(adapter: str, tmp_path, monkeypatch) -> tuple[LockEntry, Expect]:
    """Write the fixture, and a datasets.lock holding it as dataset `fx`; MEDTL_LOCK points there."""
    root = tmp_path / "data"
    root.mkdir()
    expect = FIXTURES[adapter](root)
    lock = tmp_path / "datasets.lock"
    lock.write_text(yaml.safe_dump({"version": 1, "datasets": {"fx": _entry_dict(adapter, expect, root)}}))
    monkeypatch.setenv("MEDTL_LOCK", str(lock))
    return lock_entry("fx"), expect


def _keys(index) -> list[str]:
    return (index["path"] + (("#" + index["member"]) if "member" in index else "")).tolist()


def test_every_adapter_has_a_real_layout_fixture():
    assert set(ADAPTERS.names()) == set(FIXTURES)


@pytest.mark.parametrize("adapter", sorted(FIXTURES))
def test_adapter_reads_its_published_layout(adapter, tmp_path, monkeypatch):
    entry, expect = _fixture(adapter, tmp_path, monkeypatch)
    index = build_index(tmp_path / "data", entry, "fx").index
    assert dict(zip(_keys(index), index["label"])) == expect.labels
    by_path = index.set_index("path")
    for path, patient in expect.patients.items():
        assert by_path.loc[[path], "patient"].iloc[0] == patient
    for path, split in expect.splits.items():
        assert by_path.loc[[path], "split"].iloc[0] == split
    declared = {"path", "label", "member", *ADAPTERS.get(adapter).columns}
    assert set(index.columns) <= declared | {"study", "view", "session", "eye", "lesion", "diagnosis"}


@pytest.mark.parametrize("adapter", sorted(FIXTURES))
def test_adapter_images_decode_into_the_cache(adapter, tmp_path, monkeypatch):
    """Every indexed image (files, npz rows, .mat datasets, TIFF boxes) decodes to uint8 3×16×16."""
    entry, _ = _fixture(adapter, tmp_path, monkeypatch)
    index = build_index(tmp_path / "data", entry, "fx").index
    paths = index["path"].tolist()
    members = index["member"].tolist() if "member" in index else [""] * len(paths)
    g = Geometry(entry.image.channels, 16, None, entry.image.intensity)
    decoded = decoded_images(
        CacheRequest("fx", "test", g, rows_digest(paths, members)), tmp_path / "data", paths, members
    )
    assert decoded.corrupt == {}
    assert decoded.images.shape == (len(index), 3, 16, 16) and decoded.images.dtype == np.uint8
    assert all(decoded.images[i].std() > 0 for i in range(len(index)))  # real pixels, not the zero fill
    if entry.image.channels == 1:
        assert (decoded.images[:, 0] == decoded.images[:, 2]).all()
    if entry.image.intensity == "minmax":  # 16-bit PNGs and int16 MRI use the full 8-bit range
        assert decoded.images.reshape(len(index), -1).max(axis=1).min() > 200


@pytest.mark.parametrize("adapter", ["chexpert", "cholect50"])
def test_multilabel_targets_reach_the_loop_as_float_matrix(adapter, tmp_path, monkeypatch):
    from suite.commands.data import lock
    from suite.data.dataset import load_task_data
    from suite.metrics import compute_metrics

    entry, expect = _fixture(adapter, tmp_path, monkeypatch)
    lock("fx")
    data = load_task_data("fx", 16)
    assert data.verified and data.record["split_recipe"]["column"] == "split"
    for split in data.splits.values():
        assert split.targets.dtype == torch.float32 and split.targets.shape == (len(split), entry.num_classes)
        for row, key in zip(split.targets, split.ids):
            names = {c for c, flag in zip(entry.classes, row.tolist()) if flag == 1.0}
            assert names == set(filter(None, expect.labels[key].split("|")))
    train = data.splits["train"]
    scores = torch.rand(train.targets.shape).numpy()
    report = compute_metrics("multilabel", train.targets.numpy(), scores, entry.classes)
    assert {"map", "auroc"} <= set(report.scalars)


def test_chexpert_uncertainty_policies(tmp_path, monkeypatch):
    """U-Zeros reads -1 as negative; U-Ignore drops the image and says how many; views and one per patient."""
    entry, _ = _fixture("chexpert", tmp_path, monkeypatch)

    def index_with(**options):
        raw = entry.model_dump()
        raw["adapter"]["options"] = {**raw["adapter"]["options"], **options}
        e = DatasetsLock.model_validate({"datasets": {"fx": raw}}).datasets["fx"]
        return build_index(tmp_path / "data", e, "fx")

    zeros = index_with(uncertain="zeros").index.set_index("path")["label"]
    assert zeros["train/patient00001/study1/view1_frontal.jpg"] == "Cardiomegaly"
    assert zeros["train/patient00003/study2/view1_frontal.jpg"] == ""
    ignored = index_with(uncertain="ignore")
    assert len(ignored.index) == 4 and "3 image(s) with an uncertain label left out" in ignored.notes[0]
    assert len(index_with(views="frontal").index) == 6
    assert len(index_with(per_patient="first").index) == 6


def test_medmnist_plus_reads_the_file_of_the_asked_size(tmp_path, monkeypatch):
    """MedMNIST+ ships `<flag>_<size>.npz` (64, 128, 224 px) beside the 28 px `<flag>.npz`; `size` picks the file."""
    root = tmp_path / "data"
    root.mkdir()
    expect = FIXTURES["medmnist"](root)
    with np.load(root / "pathmnist.npz") as z:
        big = {
            k: (np.repeat(np.repeat(v, 3, axis=1), 3, axis=2)[:, :64, :64] if "images" in k else v)
            for k, v in z.items()
        }
    np.savez_compressed(root / "pathmnist_64.npz", **big)
    (root / "pathmnist.npz").unlink()
    entry = _entry_dict("medmnist", expect, root)
    entry["adapter"]["options"]["size"] = 64
    lock = tmp_path / "datasets.lock"
    lock.write_text(yaml.safe_dump({"version": 1, "datasets": {"fx": entry}}))
    monkeypatch.setenv("MEDTL_LOCK", str(lock))
    index = build_index(root, lock_entry("fx"), "fx").index
    assert set(index["path"]) == {"pathmnist_64.npz"}
    assert sorted(index["label"]) == sorted(expect.labels.values())
    entry["adapter"]["options"]["size"] = 128  # not on disk: one line naming the file it looked for
    lock.write_text(yaml.safe_dump({"version": 1, "datasets": {"fx": entry}}))
    with pytest.raises(UserError, match=r"fx: pathmnist_128\.npz not found in "):
        build_index(root, lock_entry("fx"), "fx")
