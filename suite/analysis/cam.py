"""Class-activation maps per block with the `grad-cam` library (LayerCAM, Jiang et al. 2021; Grad-CAM).

Fang et al. (METHODS.md §F) read LayerCAM at ResNet-50's layer1..layer4 to see where the two-step model stops
attending to the vessels, and pick the SWFT step from it. Here the columns are the model's blocks
(`suite.analysis.features`), so the same figure exists for every architecture. Each map is the library's: ReLU of
the class score's gradient times the activation (LayerCAM) or the channel-mean gradient weighting (Grad-CAM), summed
over channels, rectified, min-max scaled to [0, 1] per image and resized to the input.

Support: every CNN in the registry (4-D NCHW block outputs). Transformers through a reshape: Swin (NHWC stages)
and ViT (tokens laid back on the patch grid, class token dropped). ViT's last block gives an empty map, since only
the class token reaches the head there. MaxViT's stages are NCHW; its final norm sits in timm's head and has no map.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from pytorch_grad_cam import GradCAM, LayerCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

from suite.analysis.cells import (
    find_cell,
    label,
    load_data,
    load_trained,
    require_checkpoints,
    results_paths,
)
from suite.analysis.features import FeatureMap, Place, spatial_reshape
from suite.analysis.plots import CamRow, cam_figure
from suite.data.dataset import Split, TaskData
from suite.errors import UserError, did_you_mean
from suite.models.normalise import Normalise
from suite.paths import inside
from suite.results import CellResult, RunPaths, write_manifest

METHODS = {"layercam": LayerCAM, "gradcam": GradCAM}
METHOD_NAMES = {"layercam": "LayerCAM", "gradcam": "Grad-CAM"}


def choose_images(split: Split, count: int, seed: int, ids: list[str] | None = None) -> list[int]:
    """Row indices into `split`: the given ids, or `count` rows drawn with `seed`, taking classes in turn.

    Taking classes in turn (for single-label tasks) puts benign and malignant images side by side even when a
    small draw would otherwise hit one class only.
    """
    if ids:
        where = {image_id: i for i, image_id in enumerate(split.ids)}
        missing = [i for i in ids if i not in where]
        if missing:
            raise UserError(f"--ids: {did_you_mean(missing[0], split.ids)} (ids of the test split only)")
        return [where[i] for i in ids]
    if count < 1:
        raise UserError(f"--images {count}: give at least 1")
    rng = np.random.default_rng(seed)
    targets = split.targets.numpy()
    if targets.ndim != 1:
        return rng.permutation(len(split))[:count].tolist()
    pools = [list(rng.permutation(np.flatnonzero(targets == c))) for c in np.unique(targets)]
    chosen: list[int] = []
    while len(chosen) < min(count, len(split)):
        for pool in pools:
            if pool and len(chosen) < count:
                chosen.append(int(pool.pop(0)))
    return chosen


class _Scored(nn.Module):
    """Normalise a uint8-valued batch, then the model: grad-cam then sees one module from image to logits."""

    def __init__(self, norm: Normalise, model: nn.Module) -> None:
        super().__init__()
        self.norm, self.model = norm, model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(self.norm(x))


@dataclass
class CamResult:
    """Maps for some images of one cell: maps[i, j] is image i at place j, H×W in [0, 1]."""

    maps: np.ndarray
    scores: np.ndarray  # N × K class probabilities
    targets: list[int]  # the class each map explains


def _probabilities(logits: torch.Tensor, task: str) -> np.ndarray:
    probs = torch.sigmoid(logits) if task == "multilabel" else torch.softmax(logits, dim=1)
    return probs.detach().cpu().numpy()


def _pick_targets(target: str, truth: torch.Tensor, scores: np.ndarray, classes: list[str]) -> list[int]:
    """`true` (Fang: the labelled class), `pred`, or a class name; multilabel `true` falls back to `pred`."""
    if target == "pred" or (target == "true" and truth.ndim != 1):
        return scores.argmax(axis=1).tolist()
    if target == "true":
        return truth.tolist()
    if target not in classes:
        raise UserError(f"--target: {did_you_mean(target, ['true', 'pred', *classes])}")
    return [classes.index(target)] * len(scores)


def _per_layer(method: str) -> type:
    """The library's CAM class, returning one map per target layer instead of their mean.

    grad-cam computes and scales every target layer's map in one forward and backward pass, then averages them in
    `aggregate_multi_layers`; overriding that one method keeps the maps apart (one pass for all blocks, not one each).
    """

    def keep_layers(self, cam_per_target_layer: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(cam_per_target_layer, axis=1)

    base = METHODS[method]
    return type(f"PerLayer{base.__name__}", (base,), {"aggregate_multi_layers": keep_layers})


def class_maps(
    model: nn.Module,
    norm: Normalise,
    images: torch.Tensor,
    modules: list[str],
    targets: list[int],
    method: str = "layercam",
) -> np.ndarray:
    """N × P × H × W maps in [0, 1] for `images` (uint8 N×3×H×W) at `modules`, explaining `targets`.

    `modules` must be in forward order (grad-cam pairs activations and gradients by position). Parameters are frozen
    for the call and the input requires grad instead, so the backward pass computes only the activation gradients
    the maps need (no weight gradients: VGG-19 would otherwise allocate 0.5 GB for nothing).
    """
    device = next(model.parameters()).device
    scored = _Scored(norm, model).to(device).eval()
    x = images.to(device).float().requires_grad_(True)
    flags = [(p, p.requires_grad) for p in model.parameters()]
    layers = [model.get_submodule(m) for m in modules]
    cam = _per_layer(method)(scored, layers, spatial_reshape(model))
    try:  # not `with`: grad-cam's __exit__ swallows IndexErrors
        for p, _ in flags:
            p.requires_grad_(False)
        return cam(x, [ClassifierOutputTarget(t) for t in targets])
    finally:
        cam.activations_and_grads.release()
        for p, flag in flags:
            p.requires_grad_(flag)


def explain(
    model: nn.Module,
    norm: Normalise,
    split: Split,
    rows: list[int],
    places: list[Place],
    feature_map: FeatureMap,
    task: str,
    classes: list[str],
    target: str = "true",
    method: str = "layercam",
) -> CamResult:
    """Predictions and maps for the chosen rows of a split; maps come back in the order of `places`."""
    images = split.images[rows]
    device = next(model.parameters()).device
    with torch.no_grad():
        scores = _probabilities(_Scored(norm, model).to(device).eval()(images.to(device)), task)
    targets = _pick_targets(target, split.targets[rows], scores, classes)
    order = sorted(range(len(places)), key=lambda j: feature_map.finish(places[j].module))
    maps = class_maps(model, norm, images, [places[j].module for j in order], targets, method)
    return CamResult(maps[:, np.argsort(order)], scores, targets)


def _places(feature_map: FeatureMap, layers: str) -> list[Place]:
    blocks = feature_map.block_outputs()
    if layers == "blocks":
        return blocks[1:] or blocks  # Fang shows layer1..layer4, not the stem
    if layers == "all":
        return blocks
    return feature_map.resolve([n.strip() for n in layers.split(",") if n.strip()])


def _test_split(data: TaskData) -> Split:
    if "test" not in data.splits:
        raise UserError(f"{data.name} has no test split; CAM figures use test images only")
    return data.splits["test"]


def _column(place: Place, feature_map: FeatureMap) -> str:
    """`block3 · layer3 (4×4)`: the block, its module, and the map's resolution (1×1 carries no location)."""
    h, w = feature_map.spatial_size(place.module)
    name = place.label if place.label == place.module else f"{place.label} · {place.module}"
    return f"{name}\n({h}×{w})"


def _truth(split: Split, row: int, classes: list[str]) -> str:
    t = split.targets[row]
    return classes[int(t)] if t.ndim == 0 else "+".join(c for c, v in zip(classes, t.tolist()) if v) or "none"


def _cell_rows(
    paths: RunPaths,
    result: CellResult,
    ids: list[str],
    layers: str,
    target: str,
    method: str,
    device: torch.device,
) -> list[CamRow]:
    """One CamRow per image for one cell."""
    trained = load_trained(paths, result)
    model = trained.model.to(device)
    data = load_data(result)
    split = _test_split(data)
    rows = choose_images(split, len(ids), 0, ids)
    feature_map = FeatureMap(model, trained.image_size)
    places = _places(feature_map, layers)
    classes = data.entry.classes
    out = explain(
        model, trained.norm, split, rows, places, feature_map, data.entry.task, classes, target, method
    )
    cam_rows = []
    for i, row in enumerate(rows):
        pred = int(out.scores[i].argmax())
        caption = f"{label(result)}\npred {classes[pred]} ({out.scores[i, pred]:.2f})\nmap: {classes[out.targets[i]]}"
        cam_rows.append(
            CamRow(
                image=split.images[row].permute(1, 2, 0).numpy() / 255.0,
                maps=out.maps[i],
                places=[_column(p, feature_map) for p in places],
                title=f"{Path(split.ids[row]).name}\ntrue: {_truth(split, row, classes)}",
                caption=caption,
            )
        )
    return cam_rows


def cam_report(
    results_dir: str | Path,
    cells: list[str],
    *,
    images: int = 4,
    ids: list[str] | None = None,
    seed: int = 0,
    layers: str = "blocks",
    method: str = "layercam",
    target: str = "true",
    out: Path | None = None,
    device: torch.device | None = None,
) -> Path:
    """The CAM grid of one or more cells on the same test images; returns the PNG path (a manifest beside it)."""
    paths = results_paths(results_dir)
    results = [find_cell(paths, ref) for ref in cells]
    require_checkpoints(paths, results)
    name = f"{method}-{'-vs-'.join(r.cell_id for r in results)}"
    path = inside(
        paths.root, out or paths.analysis("cam") / f"{name}.png"
    )  # before the work: --out stays inside
    datasets = {r.config.dataset.name for r in results}
    if len(datasets) > 1:
        raise UserError(f"cells to compare must share a dataset, got {sorted(datasets)}")
    split = _test_split(load_data(results[0]))
    chosen = [split.ids[i] for i in choose_images(split, images, seed, ids)]
    per_cell = [
        _cell_rows(paths, r, chosen, layers, target, method, device or torch.device("cpu")) for r in results
    ]
    # image-major order, so each image's rows (one per cell) sit together: the side-by-side comparison
    rows = [cell_rows[i] for i in range(len(chosen)) for cell_rows in per_cell]
    title = f"{METHOD_NAMES[method]} on {datasets.pop()}: " + " vs ".join(label(r) for r in results)
    cam_figure(rows, path, f"{title} · {len(chosen)} test images")
    write_manifest(
        path,
        {
            "kind": "cam",
            "title": f"{title} ({len(chosen)} test images)",
            "method": method,
            "target": target,
            "layers": layers,
            "images": chosen,
            "seed": None if ids else seed,
            "cells": [{"id": r.cell_id, "slug": r.slug, "label": label(r)} for r in results],
        },
    )
    return path
