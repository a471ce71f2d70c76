"""`medtl-bench data ...`: make, lock, verify and inspect datasets."""

from __future__ import annotations

from suite.data.lock import load_lock, lock_entry, write_entry_digest
from suite.data.materialise import materialise
from suite.data.splits import assign_splits, split_counts
from suite.data.verify import compute_digest
from suite.errors import UserError
from suite.paths import data_root


def _root_and_index(name: str):
    from suite.data.adapters import ADAPTERS

    entry = lock_entry(name)
    root = (
        materialise(name, entry) if entry.source.kind == "generator" else data_root() / (entry.root or name)
    )
    return entry, root, ADAPTERS.get(entry.adapter.name)(root, entry)


def make(name: str) -> str:
    entry = lock_entry(name)
    if entry.source.kind != "generator":
        raise UserError(f"{name} is not a generated dataset; see its access notes: {entry.access}")
    return f"{name}: {materialise(name, entry)}"


def lock(name: str) -> str:
    """Compute the index and file digests of `name` and write them into datasets.lock."""
    entry, root, index = _root_and_index(name)
    if len(index) != entry.counts.total:
        raise UserError(
            f"{name}: {len(index)} images under {root}, the lock entry expects {entry.counts.total}"
        )
    digest = compute_digest(root, index)
    write_entry_digest(name, digest)
    return f"{name}: locked {digest.n_files} files, index {digest.index[:12]}, files {digest.files[:12]}"


def verify(name: str | None) -> str:
    from suite.data.dataset import prepare

    names = [name] if name else list(load_lock()[0].datasets)
    lines = []
    for n in names:
        prepared = prepare(n)
        lines.append(f"{n}: ok ({len(prepared.index)} images match datasets.lock)")
    return "\n".join(lines)


def splits(name: str) -> str:
    entry, _, index = _root_and_index(name)
    assigned = assign_splits(index, entry.split)
    table = split_counts(index, assigned)
    return f"{name} ({entry.split.model_dump(exclude_none=True)})\n{table.to_string()}"
