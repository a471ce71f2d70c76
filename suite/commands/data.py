"""`medtl-bench data ...`: make, fetch, lock, verify, inspect splits, and add a user's own class-folder dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from tabulate import tabulate

from suite.data.adapters import build_index
from suite.data.fetch import download
from suite.data.intake import Inventory, class_folder_entry, take_inventory
from suite.data.lock import (
    MODALITIES,
    DatasetsLock,
    Digest,
    LockEntry,
    how_to_get,
    load_lock,
    lock_entry,
    writable_lock_path,
)
from suite.data.lockfile import append_entry, set_entry_fields
from suite.data.materialise import materialise
from suite.data.prepare import dataset_root, installed, prepare
from suite.data.splits import leakage, split_counts
from suite.data.verify import check, compute_digest, count_problems, missing_files, write_sidecars
from suite.errors import DataVerificationError, UserError
from suite.paths import cache_dir, check_name
from suite.results import atomic_write_bytes


def make(name: str) -> str:
    entry = lock_entry(name)
    if entry.source.kind != "generator":
        raise UserError(f"{name} is not a generated dataset; see its access notes: {entry.access}")
    return f"{name}: {materialise(name, entry)}"


def lock(name: str, root: str | None = None) -> str:
    """Compute the digests of `name` (under `root`, else its usual place) and write them into datasets.lock."""
    writable_lock_path()  # refused before any hashing when the lock is the installed package's copy
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
    # The sidecars first: the digests prove them, so they mean nothing until the lock holds those digests.
    sidecars = write_sidecars(name, index, per_file)
    set_entry_fields(name, fields)
    return _locked(name, digest, len(index), where, sidecars)


def _locked(name: str, digest: Digest, rows: int, where: Path, sidecars: Path) -> str:
    return (
        f"{name}: locked {digest.n_files} files, {rows} index rows under {where}\n"
        f"  index {digest.index}\n  files {digest.files}\n  manifest and index copy: {sidecars}"
    )


def _verify_one(name: str, entry: LockEntry) -> tuple[bool, list[str]]:
    """(matches the lock, the lines that say so or list what differs)."""
    root = dataset_root(name, entry)
    try:
        index = build_index(root, entry, name).index
    except UserError as exc:  # present but not readable as the adapter expects: incomplete
        return False, [f"{name}: incomplete: {exc}"]
    result = check(name, entry, root, index)
    return result.ok, result.lines()


def verify(names: list[str], strict: bool = False) -> str:
    """Check datasets against the lock and list what is missing, extra or changed.

    With names, each must be installed and match. Without, every dataset in the lock is checked that is installed;
    the others are listed as not installed with how to get them, and fail the run only with `strict`.
    """
    lock_file, _ = load_lock()
    todo = names or list(lock_file.datasets)
    lines, failed, absent = [], [], []
    for name in todo:
        entry = lock_entry(name)
        if not installed(name, entry):
            absent.append(name)
            lines.append(f"{name}: not installed ({dataset_root(name, entry)}); {how_to_get(name, entry)}")
            continue
        ok, said = _verify_one(name, entry)
        lines.extend(said)
        if not ok:
            failed.append(name)
    checked = len(todo) - len(absent)
    lines.append(
        f"{checked - len(failed)} of {len(todo)} dataset(s) verified, {len(failed)} changed or incomplete, "
        f"{len(absent)} not installed"
        + ("" if names or strict or not absent else " (--strict fails on those)")
    )
    print("\n".join(lines))
    if failed:
        raise DataVerificationError(
            f"{len(failed)} dataset(s) do not match datasets.lock: {', '.join(failed)}"
        )
    if absent and (names or strict):
        raise DataVerificationError(f"{len(absent)} dataset(s) not installed: {', '.join(absent)}")
    return ""


def fetch(name: str) -> str:
    """Download a dataset's published files (checking their published checksums), then lock or verify them."""
    entry = lock_entry(name)
    if entry.digest.files is None:
        writable_lock_path()  # it will be locked: refused before the download when it cannot be
    done = download(name, entry, dataset_root(name, entry))
    said = [f"{name}: downloaded {f} into {done.root}" for f in done.downloaded]
    said += [f"{name}: {f} already in {done.root} with the published checksum" for f in done.present]
    if entry.digest.files is None:
        return "\n".join([*said, lock(name)])
    ok, lines = _verify_one(name, entry)
    if not ok:
        print("\n".join([*said, *lines]))
        raise DataVerificationError(
            f"{name}: the published files do not match the copy locked in datasets.lock; "
            f"`medtl-bench data verify {name}` lists the differences"
        )
    return "\n".join([*said, *lines])


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


def add(name: str, folder: str, modality: str = "other", patient_pattern: str | None = None) -> str:
    """Check every file of a class-folder dataset (`<folder>/<class>/<image>`), then add it to the lock, locked.

    Nothing is written unless every image in the class folders decodes: the refused files are named at once (the
    full list goes to a file when it is long), and the skipped ones are listed by reason either way.
    """
    check_name("dataset name", name)
    writable_lock_path()
    if name in load_lock()[0].datasets:
        raise UserError(f"dataset {name!r} is already in datasets.lock; pick another name")
    if modality not in MODALITIES:
        raise UserError(f"modality {modality!r} is not one of {list(MODALITIES)}")
    root = Path(folder).expanduser().resolve()
    if not root.is_dir():
        raise UserError(f"--folder {folder}: not a folder")
    inventory = take_inventory(root)
    said = [line for line in [inventory.skipped_line()] if line]
    if inventory.refused:
        print("\n".join(said))
        raise UserError(_refusal(name, folder, inventory))
    entry = class_folder_entry(name, root, modality, patient_pattern, inventory)
    probe = DatasetsLock.model_validate({"datasets": {name: entry}}).datasets[name]
    index = build_index(root, probe, name).index
    digest, per_file = compute_digest(root, index)
    entry["digest"] = digest.model_dump()
    sidecars = write_sidecars(name, index, per_file)
    append_entry(name, entry, comment=f"added by `medtl-bench data add {name} --folder {folder}`")
    counts = entry["counts"]
    summary = ", ".join(f"{c}: {n}" for c, n in counts["per_class"].items())
    if inventory.high_bit:
        said.append(
            f"{inventory.high_bit} image(s) have 16-bit (or wider) pixels: image.intensity is minmax, so each is"
            " scaled from its own range to 0..255 (8-bit images are read as they are)"
        )
    return "\n".join(
        [
            f"{name}: {entry['task']}, {counts['total']} images ({summary})",
            *said,
            _locked(name, digest, len(index), root, sidecars),
            f"use it in a matrix: datasets: [{name}]",
        ]
    )


def _refusal(name: str, folder: str, inventory: Inventory) -> str:
    """One line naming every refused file (the first ten, and the file that lists them all when there are more)."""
    n, total = len(inventory.refused), len(inventory.refused) + len(inventory.images)
    where = ""
    if n > 10:
        listing = cache_dir() / "data-add" / f"{name}.refused.tsv"
        atomic_write_bytes(listing, inventory.refused_text().encode())
        where = f" (all {n} in {listing})"
    return (
        f"{name}: nothing added: {n} of {total} image file(s) in {folder} cannot be used: "
        f"{inventory.refused_summary()}{where}; remove or replace them and run `data add` again"
    )


def dispatch(args: argparse.Namespace) -> int:
    """Run `medtl-bench data <action>` from parsed arguments; output goes to stdout."""
    if args.action == "lock":
        text = lock(args.name, args.root)
    elif args.action == "add":
        text = add(args.name, args.folder, args.modality, args.patient_pattern)
    elif args.action == "verify":
        text = verify(args.names, args.strict)
    else:
        text = {"make": make, "splits": splits, "fetch": fetch}[args.action](args.name)
    if text:
        print(text)
    return 0
