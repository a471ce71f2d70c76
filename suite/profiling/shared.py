"""MACs and latency once per distinct network of a matrix: the first cell that needs them measures, the others read.

MACs and latency are properties of the network, not of the cell: seeds, learning rates and strategies that only
freeze or regularise train the same graph. A network's key is what changes either figure:

    structure     sha256 of the prepared model's module tree (repr: layer types, shapes, adapters, the head's size)
                  and of every parameter's and buffer's name, shape and dtype
    architecture  the matrix's architecture entry (name and options)
    image_size, device (kind and model), threads in use, amp, channels_last, and the `train.profile` settings

The store is `results/<matrix>/work/networks/<digest>.json`: `{"format", "key", "fields", "notes",
"measured_by"}`, written atomically (suite.results.store), so two cells racing both measure and the last rename wins;
a file whose key differs from the one asked for, or that cannot be read, is measured again and replaced. A latency
that failed (say, out of memory) is not stored, so the next cell tries again.

Each cell's result keeps its own `macs` and `latency` records, copied from the store, with `network` (the digest) and
`measured_by` (the slug of the cell that measured them) added, so the report reads them as before.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from suite.matrix.schema import TrainConfig
from suite.profiling import profile_cell
from suite.profiling.timing import device_name
from suite.results.store import atomic_write_bytes

FORMAT = 1


def structure_digest(model: nn.Module) -> str:
    """sha256 of the module tree and of every parameter's and buffer's name, shape and dtype (not their values)."""
    h = hashlib.sha256(repr(model).encode())
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        h.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype};".encode())
    return h.hexdigest()


def network_key(
    model: nn.Module, cfg: TrainConfig, device: torch.device, architecture: dict[str, Any]
) -> dict[str, Any]:
    """Everything MACs and latency depend on (module docstring); JSON-ready."""
    return {
        "format": FORMAT,
        "structure": structure_digest(model),
        "architecture": architecture,
        "image_size": cfg.image_size,
        "device": device_name(device),
        "threads": cfg.threads or torch.get_num_threads(),
        "amp": cfg.amp,
        "channels_last": cfg.channels_last,
        "profile": cfg.profile.model_dump(mode="json"),
    }


def digest(key: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]


def _stored(path: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    """The stored entry when it is readable and measured for exactly `key`; None otherwise."""
    try:
        entry = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != key or not isinstance(entry.get("fields"), dict):
        return None
    return entry


def shared_profile(
    model: nn.Module,
    cfg: TrainConfig,
    device: torch.device,
    store: Path,
    architecture: dict[str, Any],
    cell: str,
) -> tuple[dict[str, Any], list[str]]:
    """`profile_cell`'s (fields, notes), measured once per network key under `store` and read by the other cells;
    `cell` is the slug recorded as `measured_by` when this cell measures."""
    if not (cfg.profile.macs or cfg.profile.latency):
        return {}, []
    key = network_key(model, cfg, device, architecture)
    name = digest(key)
    path = store / f"{name}.json"
    entry = _stored(path, key)
    if entry is None:
        fields, notes = profile_cell(model, cfg, device)
        entry = {"format": FORMAT, "key": key, "fields": fields, "notes": notes, "measured_by": cell}
        if "error" not in fields.get("latency", {}):
            text = json.dumps(entry, indent=1, allow_nan=False, default=str)
            atomic_write_bytes(path, (text + "\n").encode())
    marker = {"network": name, "measured_by": entry["measured_by"]}
    fields = {field: {**record, **marker} for field, record in entry["fields"].items()}
    return fields, list(entry["notes"])
