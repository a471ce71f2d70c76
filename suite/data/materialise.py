"""Write a generated dataset to disk once (PNG files + index.csv), so it takes the same path as real data."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pandas as pd
from PIL import Image

from suite.data.lock import LockEntry
from suite.data.synthetic import GENERATORS
from suite.paths import cache_dir

_MARKER = ".generated.json"


def generated_root(name: str) -> Path:
    return cache_dir() / "data" / name


def materialise(name: str, entry: LockEntry, root: Path | None = None) -> Path:
    """Generate `name` into `root` unless an identical generation is already there. Crash-safe (tmp + rename)."""
    generator = GENERATORS.get(entry.source.generator or name)
    params = generator.params(entry.source.params)
    spec = {
        "generator": entry.source.generator or name,
        "version": generator.version,
        "params": dataclasses.asdict(params),
    }
    root = root or generated_root(name)
    marker = root / _MARKER
    if marker.is_file() and json.loads(marker.read_text()) == spec:
        return root
    if generator.version != entry.source.version:
        from suite.errors import UserError

        raise UserError(
            f"datasets.lock asks for {name} generator v{entry.source.version}, the code has "
            f"v{generator.version}; update the entry and run `medtl-bench data lock {name}`"
        )
    tmp = root.with_name(root.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "images").mkdir(parents=True)
    rows = []
    for patient, image_id, label, pixels in generator.generate(params):
        rel = f"images/{image_id}.png"
        Image.fromarray(pixels).save(tmp / rel, compress_level=1)
        rows.append(
            {"image_id": image_id, "path": rel, "label": generator.classes[label], "patient": patient}
        )
    pd.DataFrame(rows).to_csv(tmp / "index.csv", index=False, lineterminator="\n")
    (tmp / _MARKER).write_text(json.dumps(spec, sort_keys=True))
    shutil.rmtree(root, ignore_errors=True)
    tmp.rename(root)
    return root
