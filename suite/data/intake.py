"""What `data add` finds in a user's class-folder tree, before anything is written: every file accounted for.

Every file below the folder ends up in exactly one place:
- an image the dataset will hold (`<class>/**/<image>`, decoded once here so a bad one is found now, not in the
  first training run);
- skipped, by reason: hidden files and folders (`.DS_Store`, `._x.png`, `.git/`), files that are not images by
  suffix (`README.txt`), images outside the class folders. These are never part of the dataset.
- refused, by reason: empty (0-byte) image files and images that cannot be decoded. One refused file stops `data add`
  (a dataset locked with them fails later), and every one is named at once.
16-bit (and 32-bit integer / float) images are read the way the pipeline reads them, scaled from each image's own
range to 0..255 (`image: {intensity: minmax}`); `data add` sets that when it finds any, and says so.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from suite.data.adapters import IMAGE_SUFFIXES, raw_index
from suite.data.images import HIGH_BIT_MODES, ImageError, probe_file
from suite.data.lock import DatasetsLock
from suite.errors import UserError

HIDDEN, NOT_IMAGE, OUTSIDE = "hidden", "not an image", "outside the class folders"
EMPTY, UNDECODABLE = "empty file", "cannot decode"


@dataclass
class Inventory:
    """Every file under `root`, sorted into images, skipped (reason → paths) and refused (path → reason)."""

    root: Path
    images: list[str] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    modes: Counter = field(default_factory=Counter)

    @property
    def high_bit(self) -> int:
        """Images whose pixels are not 8-bit (16-bit TIFF / PNG, 32-bit integer, float)."""
        return sum(n for mode, n in self.modes.items() if mode in HIGH_BIT_MODES)

    def skipped_line(self, shown: int = 3) -> str | None:
        """`skipped 3 file(s): 1 hidden (.DS_Store), 2 not an image (README.txt, notes.doc)`, or None."""
        if not self.skipped:
            return None
        parts = []
        for reason, paths in sorted(self.skipped.items()):
            names = ", ".join(paths[:shown]) + (", ..." if len(paths) > shown else "")
            parts.append(f"{len(paths)} {reason} ({names})")
        return f"skipped {sum(map(len, self.skipped.values()))} file(s): " + "; ".join(parts)

    def refused_summary(self, shown: int = 10) -> str:
        """The refused files with their reasons, the first `shown` of them, and how many more."""
        items = [f"{path} ({why})" for path, why in sorted(self.refused.items())]
        more = f" and {len(items) - shown} more" if len(items) > shown else ""
        return ", ".join(items[:shown]) + more

    def refused_text(self) -> str:
        """Every refused file, one `path<TAB>reason` line each (the full list beside the capped message)."""
        return "".join(f"{path}\t{why}\n" for path, why in sorted(self.refused.items()))


def _walk(root: Path, suffixes: frozenset[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Candidate images in class folders, and the files skipped by name alone, by reason."""
    candidates, skipped = [], {}
    for folder, dirs, files in os.walk(root):
        rel = Path(folder).relative_to(root).as_posix()
        prefix = "" if rel == "." else f"{rel}/"
        for d in sorted(d for d in dirs if d.startswith(".")):
            skipped.setdefault(HIDDEN, []).append(f"{prefix}{d}/")
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for f in sorted(files):
            reason = (
                HIDDEN
                if f.startswith(".")
                else NOT_IMAGE
                if Path(f).suffix.lower() not in suffixes
                else OUTSIDE
                if not prefix
                else None
            )
            if reason:
                skipped.setdefault(reason, []).append(f"{prefix}{f}")
            else:
                candidates.append(f"{prefix}{f}")
    return sorted(candidates), skipped


def take_inventory(root: Path, suffixes=IMAGE_SUFFIXES) -> Inventory:
    """Walk `root`, sort every file, and decode every candidate image fully (threads: Pillow releases the GIL)."""
    from suite.data.cache import workers

    candidates, skipped = _walk(root, frozenset(s.lower() for s in suffixes))
    inventory = Inventory(root, skipped=skipped)

    def probe(rel: str) -> tuple[str, str | None, str | None]:
        path = root / rel
        if path.stat().st_size == 0:
            return rel, None, EMPTY
        try:
            return rel, probe_file(path), None
        except ImageError as exc:
            return rel, None, f"{UNDECODABLE}: {str(exc).splitlines()[0][:120]}"

    with ThreadPoolExecutor(workers()) as pool:
        results = pool.map(probe, candidates)
        bar = tqdm(results, total=len(candidates), desc="checking images", disable=not sys.stderr.isatty())
        for rel, mode, refused in bar:
            if refused:
                inventory.refused[rel] = refused
            else:
                inventory.images.append(rel)
                inventory.modes[mode] += 1
    return inventory


def _metrics_for(task: str) -> list[str]:
    return ["auroc", "accuracy", "f1_macro"] if task == "binary" else ["accuracy", "f1_macro", "auroc"]


def class_folder_entry(
    name: str, root: Path, modality: str, patient_pattern: str | None, inventory: Inventory
) -> dict:
    """A lock entry for `<root>/<class>/<image>`: classes, counts, a 70/15/15 split and the image policy."""
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
    if inventory.high_bit:
        entry["image"] = {"channels": 3, "intensity": "minmax"}
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
