"""`medtl-bench data ...`: make, lock, verify, inspect splits, and add a user's own class-folder dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from tabulate import tabulate

from suite.data.adapters import build_index, raw_index
from suite.data.dataset import dataset_root, prepare
from suite.data.lock import MODALITIES, DatasetsLock, load_lock, lock_entry
from suite.data.lockfile import append_entry, set_entry_fields
from suite.data.materialise import materialise
from suite.data.splits import leakage, split_counts
from suite.data.verify import check, compute_digest, count_problems, missing_files, write_sidecars
from suite.errors import DataVerificationError, UserError
from suite.paths import check_name


def make(name: str) -> str:
    entry = lock_entry(name)
    if entry.source.kind != "generator":
        raise UserError(f"{name} is not a generated dataset; see its access notes: {entry.access}")
    return f"{name}: {materialise(name, entry)}"


def lock(name: str, root: str | None = None) -> str:
    """Compute the digests of `name` (under `root`, else its usual place) and write them into datasets.lock."""
    entry = lock_entry(name)
    where = Path(root).expanduser().resolve() if root else dataset_root(name, entry)
    index = build_index(where, entry, name).index
    missing = missing_files(where, index["path"].tolist())
    if missing:
        raise UserError(f"{name}: {len(missing)} indexed file(s) missing under {where}, e.g. {missing[:3]}")
    problems = count_problems(entry, index["label"])
    if problems:
        raise UserError(
            f"{name}: the copy under {where} does not have the published counts ({'; '.join(problems)}); "
            f"if it is right, correct `counts` in datasets.lock (and say why in counts.note)"
        )
    digest, per_file = compute_digest(where, index)
    fields = {"digest": digest.model_dump()}
    if root and entry.source.kind != "generator" and where != dataset_root(name, entry).resolve():
        fields["root"] = str(where)
    set_entry_fields(name, fields)
    sidecars = write_sidecars(name, index, per_file)
    return (
        f"{name}: locked {digest.n_files} files, {len(index)} index rows under {where}\n"
        f"  index {digest.index}\n  files {digest.files}\n  manifest and index copy: {sidecars}"
    )


def verify(name: str | None) -> str:
    """Check one dataset (or every one on disk) against the lock; a mismatch prints the list and exits 2."""
    names = [name] if name else list(load_lock()[0].datasets)
    lines, failed = [], []
    for n in names:
        entry = lock_entry(n)
        root = dataset_root(n, entry)
        if not root.is_dir() and name is None:
            lines.append(f"{n}: not on disk ({root}); {entry.access}")
            continue
        result = check(n, entry, root, build_index(root, entry, n).index)
        lines.extend(result.lines())
        if not result.ok:
            failed.append(n)
    print("\n".join(lines))
    if failed:
        raise DataVerificationError(
            f"{len(failed)} dataset(s) do not match datasets.lock: {', '.join(failed)}"
        )
    return ""


def splits(name: str) -> str:
    """Counts per split and class, the recipe, leakage (a patient in two splits), and the paper's sizes."""
    p = prepare(name, allow_unverified=True)
    recipe = p.entry.split
    table = split_counts(p.index, p.index["split"])
    out = [
        f"{name}: {len(p.index)} images under {p.root}" + ("" if p.verified else " (UNVERIFIED)"),
        f"recipe: {recipe.model_dump(exclude_none=True)}",
        tabulate(table, headers="keys", tablefmt="github"),
    ]
    group = recipe.group or "patient"
    leaked = leakage(p.index, p.index["split"], group)
    if group not in p.index:
        out.append(f"leakage: cannot check, the index has no {group!r} column")
    elif leaked.empty:
        out.append(f"leakage: none (no {group} has images in two splits)")
    else:
        shown = ", ".join(f"{g} ({s})" for g, s in leaked.head(10).items())
        out.append(f"LEAKAGE: {len(leaked)} {group}(s) have images in more than one split: {shown}")
    expected = p.entry.counts.splits
    if expected:
        got = p.index["split"].value_counts().to_dict()
        same = all(got.get(k, 0) == v for k, v in expected.items())
        out.append(
            f"published split sizes {expected}: " + ("reproduced" if same else f"NOT reproduced (got {got})")
        )
    out.extend(f"note: {n}" for n in [*p.notes, *p.warnings])
    return "\n".join(out)


def _metrics_for(task: str) -> list[str]:
    return ["auroc", "accuracy", "f1_macro"] if task == "binary" else ["accuracy", "f1_macro", "auroc"]


def _class_folder_entry(name: str, root: Path, modality: str, patient_pattern: str | None) -> dict:
    """A lock entry for `<root>/<class>/<image>`: classes, counts and a 70/15/15 split from what is there."""
    options = {"patient_pattern": patient_pattern} if patient_pattern else {}
    entry = {
        "task": "multiclass",
        "classes": ["_", "__"],  # placeholders while the folders are read
        "modality": modality,
        "description": f"User dataset from class folders in {root} (added by `medtl-bench data add`).",
        "licence": "unknown (a user's own data)",
        "access": f"a local class-folder dataset at {root}",
        "source": {"kind": "manual"},
        "adapter": {"name": "class-folder", "options": options},
        "split": {"ratios": {"train": 0.7, "val": 0.15, "test": 0.15}, "seed": 0, "stratify": "label"},
        "metrics": ["accuracy"],
        "root": str(root),
    }
    probe = DatasetsLock.model_validate({"datasets": {name: entry}}).datasets[name]
    labels = raw_index(root, probe, name).index["label"]
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise UserError(f"{root}: found class folder(s) {classes}; a dataset needs at least two classes")
    entry["task"] = "binary" if len(classes) == 2 else "multiclass"
    entry["classes"] = classes
    entry["counts"] = {"total": len(labels), "per_class": {c: int((labels == c).sum()) for c in classes}}
    entry["metrics"] = _metrics_for(entry["task"])
    if patient_pattern:
        entry["split"]["group"] = "patient"
    return entry


def add(name: str, folder: str, modality: str = "other", patient_pattern: str | None = None) -> str:
    """Create a lock entry for a class-folder dataset (`<folder>/<class>/<image>`), then lock it."""
    check_name("dataset name", name)
    if name in load_lock()[0].datasets:
        raise UserError(f"dataset {name!r} is already in datasets.lock; pick another name")
    if modality not in MODALITIES:
        raise UserError(f"modality {modality!r} is not one of {list(MODALITIES)}")
    entry = _class_folder_entry(name, Path(folder).expanduser().resolve(), modality, patient_pattern)
    append_entry(name, entry, comment=f"added by `medtl-bench data add {name} --folder {folder}`")
    counts = entry["counts"]
    summary = ", ".join(f"{c}: {n}" for c, n in counts["per_class"].items())
    return (
        f"{name}: {entry['task']}, {counts['total']} images ({summary})\n{lock(name)}\n"
        f"use it in a matrix: datasets: [{name}]"
    )


def dispatch(args: argparse.Namespace) -> int:
    """Run `medtl-bench data <action>` from parsed arguments; output goes to stdout."""
    if args.action == "lock":
        text = lock(args.name, args.root)
    elif args.action == "add":
        text = add(args.name, args.folder, args.modality, args.patient_pattern)
    elif args.action == "verify":
        text = verify(args.name)
    else:
        text = {"make": make, "splits": splits}[args.action](args.name)
    if text:
        print(text)
    return 0
