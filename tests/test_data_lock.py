"""The repository's datasets.lock, entry by entry (as torchvision checks its weights' metadata), and its editing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from suite.data.adapters import ADAPTERS
from suite.data.lock import MODALITIES, LockEntry, load_lock, parse_lock
from suite.data.lockfile import set_entry_fields
from suite.data.splits import assign_splits
from suite.errors import UserError
from suite.metrics import METRICS

REPO = Path(__file__).resolve().parents[1]
LOCK, _ = load_lock(REPO / "datasets.lock")
ENTRIES = sorted(LOCK.datasets.items())

# The contract names (BRIEF.md), and what the papers publish about them (paper, section or table).
CONTRACT = [
    "cenbi", "kaggle-dr", "chexpert", "mura-shoulder", "mura-wrist", "mura-humerus", "brain-tumor-mri", "bach",
    "isic2020", "cholect50-instrument", "bimcv-covid19", "midog2022", "medmnist-pathmnist",
    "synthetic-vessels", "synthetic-fundus",
]  # fmt: skip
PUBLISHED = {  # the papers' split sizes belong to the entries that reproduce their protocols
    "kaggle-dr-fang": {"total": 35126, "splits": {"train": 24587, "val": 10539}},  # Fang, REFERENCE.md
    "cenbi-fang": {"total": 11144, "splits": {"train": 7803, "val": 2228, "test": 1113}},  # Fang
    "chexpert-davila": {"splits": {"train": 64540, "val": 200}},  # Davila Table 2
    "brain-tumor-mri": {"per_class": {"meningioma": 708, "glioma": 1426, "pituitary": 930}},  # Davila §3.3
    "bach-davila": {"total": 400, "splits": {"train": 360, "val": 40}},  # Davila §3.3, Table 2
    "isic2020-davila": {"total": 32701, "splits": {"train": 26160, "val": 6541}},  # Davila §3.3, Table 2
    "cholect50-instrument": {"total": 10109},  # Davila §3.3
}
PRIMARY = {  # Davila's metric pairs (ISIC: AUROC first, as Davila's Table 9 and Table 11 rank it); Fang's three
    "chexpert": ["map", "auroc"], "mura-shoulder": ["accuracy", "kappa"], "brain-tumor-mri": ["accuracy", "f1_macro"],
    "bach": ["accuracy", "kappa"], "isic2020": ["auroc", "accuracy"], "cholect50-instrument": ["map", "auroc"],
    "cenbi": ["accuracy", "f1_macro", "auroc"],
}  # fmt: skip
HELD_OUT = [  # every entry but the paper-protocol ones ends with a test split
    "synthetic-vessels", "synthetic-fundus", "cenbi", "cenbi-fang", "kaggle-dr", "chexpert", "mura-shoulder",
    "mura-wrist", "mura-humerus", "brain-tumor-mri", "bach", "isic2020", "bimcv-covid19", "midog2022",
]  # fmt: skip


def test_contract_datasets_are_all_in_the_lock():
    assert set(CONTRACT) <= set(LOCK.datasets)


@pytest.mark.parametrize(("name", "entry"), ENTRIES, ids=[n for n, _ in ENTRIES])
def test_lock_entry(name: str, entry: LockEntry):
    spec = ADAPTERS.get(entry.adapter.name)
    spec.options.model_validate(entry.adapter.options)  # the options are the adapter's
    assert entry.modality in MODALITIES and entry.description and entry.licence and entry.access
    for metric in entry.metrics:
        assert metric in METRICS and entry.task in METRICS[metric].tasks, metric
    columns = {"label", "path", *spec.columns}
    for col in (entry.split.stratify, entry.split.group, entry.split.column):
        assert col is None or col in columns, f"{name}: split column {col!r} is not produced by {spec}"
    if entry.source.kind == "generator":
        assert entry.digest.files and entry.digest.index, "the embedded datasets ship locked"
    else:
        assert entry.source.urls and all(u.startswith("https://") for u in entry.source.urls)
        assert entry.source.citation
    assert (entry.digest.files is None) == (entry.digest.index is None)
    if entry.label_map:
        assert set(entry.label_map.values()) == set(entry.classes), "every class is reachable"
    if entry.counts.splits and entry.split.ratios and entry.counts.total:
        for split, n in entry.counts.splits.items():
            assert abs(n / entry.counts.total - entry.split.ratios[split]) < 0.01, (split, n)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_lock_carries_the_published_counts(name):
    counts = LOCK.datasets[name].counts.model_dump()
    for key, value in PUBLISHED[name].items():
        assert counts[key] == value


@pytest.mark.parametrize("name", sorted(PRIMARY))
def test_primary_metrics_are_the_papers(name):
    assert LOCK.datasets[name].metrics[: len(PRIMARY[name])] == PRIMARY[name]


REPRODUCIBLE = [
    n for n, e in ENTRIES if e.counts.per_class and e.counts.splits and e.split.ratios and not e.split.group
]


@pytest.mark.parametrize("name", REPRODUCIBLE)
def test_split_recipe_reproduces_published_sizes(name):
    """An index with the published class counts, split by the lock's recipe, gives the published sizes exactly."""
    entry = LOCK.datasets[name]
    labels = np.repeat(list(entry.counts.per_class), list(entry.counts.per_class.values()))
    splits = assign_splits(pd.DataFrame({"label": labels}), entry.split)
    assert splits.value_counts().to_dict() == entry.counts.splits


def test_reproducible_entries_cover_the_papers():
    assert {"kaggle-dr-fang", "isic2020-davila", "bach-davila"} <= set(REPRODUCIBLE)


@pytest.mark.parametrize("name", HELD_OUT)
def test_every_entry_but_a_papers_protocol_holds_out_a_test_split(name):
    """A synthetic index with the entry's columns, split by its recipe, has a test split; the `-davila` / `-fang`
    entries that reproduce a protocol without one say so in their note."""
    entry = LOCK.datasets[name]
    rng = np.random.default_rng(0)
    classes = entry.classes if entry.task != "multilabel" else ["|".join(entry.classes[:2])]
    index = pd.DataFrame(
        {
            "label": rng.choice(classes, 600),
            "patient": [f"p{i // 3}" for i in range(600)],
            "lesion": rng.choice(["a", "b", "c"], 600),
            "split": np.where(np.arange(600) < 500, "train", "val"),
        }
    )
    assert "test" in set(assign_splits(index, entry.split))
    for protocol in (n for n in LOCK.datasets if n.endswith(("-davila", "-fang")) and n != "cenbi-fang"):
        assert "not held out" in LOCK.datasets[protocol].split.note


def _lock_with(tmp_path, **changes) -> Path:
    raw = yaml.safe_load((REPO / "datasets.lock").read_text())
    entry = raw["datasets"]["bach"]
    for key, value in changes.items():
        entry[key] = value
    path = tmp_path / "datasets.lock"
    path.write_text(yaml.safe_dump({"version": 1, "datasets": {"bach": entry}}))
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"split": {"ratios": {"train": 0.7, "val": 0.2, "test": 0.2}}}, "sum to 1.1, not 1"),
        ({"split": {"ratios": {"train": 1.0}}}, "at least train and val"),
        ({"label_map": {"Normal": "normal", "Odd": "odd"}}, "not in classes"),
        ({"modality": "xray"}, "modality"),
        ({"counts": {"total": 400, "per_class": {"normal": 1}}}, "sums to 1"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_lock_entries_are_one_line_errors(tmp_path, changes, message):
    with pytest.raises(UserError, match=message) as info:
        load_lock(_lock_with(tmp_path, **changes))
    assert "\n" not in str(info.value)


def test_digest_is_written_in_place_keeping_comments(tmp_path):
    path = tmp_path / "datasets.lock"
    text = (REPO / "datasets.lock").read_text()
    path.write_text(text)
    digest = {"index": "a" * 64, "files": "b" * 64, "n_files": 3}
    set_entry_fields("bach", {"digest": digest, "root": "/data/bach"}, path)
    edited = path.read_text()
    assert edited.count("\n#") == text.count("\n#") and "# --- Davila et al. 2024" in edited
    lock = parse_lock(edited)
    assert lock.datasets["bach"].digest.model_dump() == digest and lock.datasets["bach"].root == "/data/bach"
    assert lock.datasets["isic2020"] == LOCK.datasets["isic2020"]
    set_entry_fields(
        "synthetic-vessels", {"digest": digest}, path
    )  # a digest over two lines is replaced whole
    assert load_lock(path)[0].datasets["synthetic-vessels"].digest.n_files == 3
