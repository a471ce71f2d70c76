"""Build a cell's model: architecture + source (scratch, ImageNet, or a parent cell's checkpoint) + a new head."""

from __future__ import annotations

from pathlib import Path

import timm
import torch
from torch import nn

from suite.errors import UserError
from suite.models import torchvision_nets
from suite.models.catalog import TORCHVISION, ArchSpec
from suite.models.weights import create_pretrained, pretrained_cfg
from suite.results import atomic_write_from


def _size_kwargs(spec: ArchSpec) -> dict:
    """Models with a fixed input size (ViT, Swin, MaxViT) must be told the size so timm resamples positions."""
    cfg = pretrained_cfg(spec)
    if cfg is not None and cfg.fixed_input_size and tuple(cfg.input_size[-2:]) != (spec.input_size,) * 2:
        return {"img_size": spec.input_size}
    return {}


def random_model(spec: ArchSpec, num_classes: int) -> nn.Module:
    """`spec`'s network with random weights and a head of `num_classes`: a timm model, or a torchvision model in
    its wrapper (suite/models/torchvision_nets.py). Builds on whatever device context is active (meta too)."""
    if spec.family == TORCHVISION:
        return torchvision_nets.build(spec, num_classes)
    return timm.create_model(spec.timm_name, pretrained=False, num_classes=num_classes, **_size_kwargs(spec))


def build_model(spec: ArchSpec, num_classes: int, source: str, checkpoint: Path | None = None) -> nn.Module:
    """A model whose head is new, randomly initialised and sized for the task.

    `source` is `scratch`, `imagenet`, or `checkpoint` (a parent cell's best weights, for two-step transfer).
    The head is always replaced, as every strategy in the papers does (METHODS.md §D).
    """
    if source == "scratch":
        return random_model(spec, num_classes)
    if source == "imagenet":
        model = create_pretrained(spec, **_size_kwargs(spec))
    elif source == "checkpoint":
        if checkpoint is None or not checkpoint.is_file():
            raise UserError(f"parent checkpoint {checkpoint} is missing; run the parent cell first")
        saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
        model = random_model(spec, saved["num_classes"])
        model.load_state_dict(saved["state_dict"])
    else:
        raise ValueError(f"unknown source kind {source!r}")
    model.reset_classifier(num_classes)
    return model


def save_checkpoint(model: nn.Module, path: Path, num_classes: int) -> None:
    """Best-validation weights for consumers (two-step children, CAM analysis). Written atomically."""
    state = {"state_dict": model.state_dict(), "num_classes": num_classes}
    atomic_write_from(path, lambda f: torch.save(state, f))
