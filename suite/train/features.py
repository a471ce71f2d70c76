"""Frozen-backbone features, computed once and trained on: what a linear probe really needs from its backbone.

While a strategy trains only the new head (LP; LP-FT's probe phase; SWFT step 1; Fang's `*` and `++`), the backbone
is frozen and in eval mode (suite/models/trainable.py), so it is a fixed function of each image: its output, the
head's input (timm's `forward_head(..., pre_logits=True)`), is computed once per image and view and the head
trains on those vectors. Views: the plain image and, with `augment.hflip`, its mirror; an epoch picks each
sample's view with the same random draws the image path makes, so the two paths see the same inputs. Random crops,
rotations and vertical flips have no finite set of views: such a cell trains on images, and its result says so.

The store is content-addressed under `$MEDTL_CACHE/features/`: the key hashes the backbone's parameters and
buffers (so ImageNet weights, a parent checkpoint and a seed's random init each get their own entry), the split
images, the normalisation, the views and the numeric settings. Seeds and cells that share a backbone and data share
the file. It is written atomically and refused when the key stored inside differs from the one asked for.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from suite.data.dataset import Split, TaskData
from suite.matrix.schema import TrainConfig
from suite.paths import cache_dir
from suite.results import atomic_write_from, remove_dead_writers

FORMAT = 1
VIEWS = ("plain", "hflip")


def head_only(trainable: frozenset[str] | None, head: tuple[str, ...]) -> bool:
    """Whether an epoch trains the head and nothing else."""
    return trainable is not None and bool(trainable) and trainable <= set(head)


def unsupported(cfg: TrainConfig) -> str | None:
    """Why features cannot stand in for images under this config, or None."""
    a = cfg.augment
    random = [
        name
        for name, on in (("vflip", a.vflip), ("rotate", a.rotate), ("crop_padding", a.crop_padding))
        if on
    ]
    if random:
        return f"augment.{'/'.join(random)} has no finite set of views"
    return None


def _digest(tensors: list[torch.Tensor]) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(str((tuple(t.shape), str(t.dtype))).encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def feature_key(
    model: nn.Module, norm: nn.Module, data: TaskData, views: tuple[str, ...], cfg, device
) -> dict:
    """Everything the features depend on; its sha256 names the file."""
    head = {id(p) for p in model.get_classifier().parameters()}
    body = [p for p in model.parameters() if id(p) not in head] + list(model.buffers())
    splits = {name: _digest([s.images]) for name, s in sorted(data.splits.items())}
    return {
        "format": FORMAT,
        "model": type(model).__name__,
        "backbone": _digest(body),
        "normalise": _digest(list(norm.buffers())),
        "images": splits,
        "views": list(views),
        "device": device.type,
        "amp": cfg.uses_amp(device.type),
        "eval_batch_size": cfg.eval_batch_size,
    }


@dataclass
class FrozenFeatures:
    """The head's inputs for every split and view, and the classifier that maps them to logits."""

    key: dict[str, Any]
    features: dict[str, dict[str, torch.Tensor]]  # split → view → N×D
    built: bool = False  # computed by this cell (else read from the store)
    notes: list[str] = field(default_factory=list)

    def batch(self, split: str, idx: torch.Tensor, flips: torch.Tensor | None) -> torch.Tensor:
        """The vectors of rows `idx`, each in its view (`flips[i]`: the mirrored image)."""
        plain = self.features[split]["plain"][idx]
        if flips is None:
            return plain
        return torch.where(flips[:, None], self.features[split]["hflip"][idx], plain)

    @property
    def record(self) -> dict[str, Any]:
        return {
            "used": True,
            "built": self.built,
            "key": hashlib.sha256(_canonical(self.key)).hexdigest()[:16],
        }


def _canonical(key: dict[str, Any]) -> bytes:
    return json.dumps(key, sort_keys=True).encode()


def store_path(key: dict[str, Any]) -> Path:
    return cache_dir() / "features" / f"{hashlib.sha256(_canonical(key)).hexdigest()}.pt"


@torch.no_grad()
def compute(
    model: nn.Module, norm: nn.Module, split: Split, view: str, cfg: TrainConfig, device
) -> torch.Tensor:
    """The backbone's pre-logit vectors of one split in one view (eval mode, on the cell's device)."""
    was_training = model.training
    model.eval()
    out = []
    try:
        for start in range(0, len(split), cfg.eval_batch_size):
            x = split.images[start : start + cfg.eval_batch_size].to(device)
            x = x.flip(-1) if view == "hflip" else x
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.uses_amp(device.type)):
                vectors = model.forward_head(model.forward_features(norm(x)), pre_logits=True)
            out.append(vectors.float().cpu())
    finally:
        model.train(was_training)
    return torch.cat(out)


def matches_the_model(
    model: nn.Module, norm: nn.Module, features: torch.Tensor, split: Split, device
) -> bool:
    """The head on cached vectors gives the model's own logits (checked on a few images): the model's forward is
    `forward_head(forward_features(x))` with the classifier as the last step, as timm's contract says."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            x = norm(split.images[:4].to(device))
            direct = model(x).float().cpu()
            via = model.get_classifier()(features[:4].to(device)).float().cpu()
    finally:
        model.train(was_training)
    return torch.allclose(direct, via, rtol=1e-3, atol=1e-4)


def load_or_build(
    model: nn.Module, norm: nn.Module, data: TaskData, cfg: TrainConfig, device
) -> FrozenFeatures:
    """The cached features of this backbone and data, computed and stored on a miss; raises ValueError when the
    stored file is not for this key or the model's head is not a function of its pre-logit vectors."""
    views = ("plain", "hflip") if cfg.augment.hflip else ("plain",)
    key = feature_key(model, norm, data, views, cfg, device)
    path = store_path(key)
    if path.is_file():
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if saved.get("key") != key:
            raise ValueError(f"{path} holds features for another key; delete it")
        cached = FrozenFeatures(key, saved["features"])
    else:
        features = {
            name: {v: compute(model, norm, s, v, cfg, device) for v in views}
            for name, s in data.splits.items()
        }
        cached = FrozenFeatures(key, features, built=True)
    train = data.splits["train"]
    if not matches_the_model(model, norm, cached.features["train"]["plain"], train, device):
        raise ValueError(f"{type(model).__name__}'s classifier is not applied to forward_head's pre-logits")
    if cached.built:
        remove_dead_writers(
            path.parent
        )  # a build killed while writing leaves a temporary file as big as this one
        atomic_write_from(path, lambda f: torch.save({"key": key, "features": cached.features}, f))
    return cached
