"""Generators, splits, datasets.lock verification and the decoded-image cache."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from suite.data import dataset as ds
from suite.data.lock import SplitRecipe, lock_entry
from suite.data.splits import assign_splits
from suite.data.synthetic import GENERATORS
from suite.errors import UserError


def _digest(items) -> str:
    h = hashlib.sha256()
    for patient, image_id, label, pixels in items:
        h.update(f"{patient}{image_id}{label}".encode())
        h.update(pixels.tobytes())
    return h.hexdigest()


@pytest.mark.parametrize("name", GENERATORS.names())
def test_generators_are_deterministic(name):
    gen = GENERATORS.get(name)
    params = gen.params({"size": 32, "count": 12})
    first, second = list(gen.generate(params)), list(gen.generate(params))
    assert _digest(first) == _digest(second)
    other = gen.params({"size": 32, "count": 12, "seed": 1})
    assert _digest(gen.generate(other)) != _digest(first)
    assert all(p.shape == (32, 32, 3) and p.dtype == np.uint8 for _, _, _, p in first)
    assert all(p.std() > 5 for _, _, _, p in first)  # not blank


def test_vessels_patients_share_a_label_and_balance_classes():
    gen = GENERATORS.get("synthetic-vessels")
    items = list(gen.generate(gen.params({"size": 32, "count": 40, "images_per_patient": 4})))
    labels_by_patient = pd.DataFrame([(p, y) for p, _, y, _ in items]).groupby(0)[1].nunique()
    assert (labels_by_patient == 1).all()
    assert sum(y for _, _, y, _ in items) == 20


def test_kaggle_dr_split_counts():
    """REFERENCE.md: stratified per class, train = floor(0.7 n) → exactly 24,587 / 10,539."""
    counts = [25810, 2443, 5292, 873, 708]
    index = pd.DataFrame({"label": np.repeat([f"g{k}" for k in range(5)], counts)})
    splits = assign_splits(index, SplitRecipe(ratios={"train": 0.7, "val": 0.3}, seed=123, stratify="label"))
    assert splits.value_counts().to_dict() == {"train": 24587, "val": 10539}
    again = assign_splits(index, SplitRecipe(ratios={"train": 0.7, "val": 0.3}, seed=123, stratify="label"))
    assert (splits == again).all()


def test_grouped_split_has_no_patient_in_two_splits():
    rng = np.random.default_rng(0)
    index = pd.DataFrame(
        {"patient": rng.integers(0, 60, 400).astype(str), "label": rng.choice(["a", "b"], 400)}
    )
    recipe = SplitRecipe(
        ratios={"train": 0.7, "val": 0.2, "test": 0.1}, seed=1, stratify="label", group="patient"
    )
    splits = assign_splits(index, recipe)
    assert (index.assign(split=splits).groupby("patient")["split"].nunique() == 1).all()
    share = splits.value_counts(normalize=True)
    assert abs(share["train"] - 0.7) < 0.1 and set(share.index) == {"train", "val", "test"}


def test_ratios_must_sum_to_one():
    with pytest.raises(ValueError, match="sum to"):
        SplitRecipe(ratios={"train": 0.7, "val": 0.2, "test": 0.2})


def test_load_task_data_is_verified_and_split():
    data = ds.load_task_data("synthetic-vessels", 32)
    assert data.verified
    sizes = {k: len(v) for k, v in data.splits.items()}
    assert sum(sizes.values()) == 64 and set(sizes) == {"train", "val", "test"}
    assert data.splits["train"].images.dtype.is_floating_point is False
    assert tuple(data.splits["train"].images.shape[1:]) == (3, 32, 32)


def test_changed_file_fails_verification(tmp_path):
    """Copy the generated set, alter one file: verification must refuse it and name the file."""
    import shutil

    from suite.data.verify import check

    prepared = ds.prepare("synthetic-vessels")
    copy = tmp_path / "copy"
    shutil.copytree(prepared.root, copy)
    index = prepared.index.drop(columns="split")
    victim = index["path"].iloc[0]
    (copy / victim).write_bytes((copy / victim).read_bytes() + b"x")
    result = check("synthetic-vessels", lock_entry("synthetic-vessels"), copy, index)
    assert not result.ok and result.changed == [victim]
    assert "1 changed" in result.summary()
    (copy / victim).unlink()
    result = check("synthetic-vessels", lock_entry("synthetic-vessels"), copy, index)
    assert result.missing == [victim] and not result.changed


def test_unknown_dataset_suggests():
    with pytest.raises(UserError, match="did you mean 'synthetic-fundus'"):
        lock_entry("synthetic-fundas")
