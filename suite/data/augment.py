"""Augmentation of a uint8 image batch, on whatever device the batch is on: flips, padded crops, rotations.

The papers' augmentations: Fang's random horizontal flip, Peng's random crop and slight rotation.

Each transform is one batched tensor operation (no loop over images), so a batch resident on a GPU is augmented
there. The random draws are made on the CPU with the seeded global generator, in a fixed order (hflip, vflip, crop
offsets, angles), and then moved to the batch's device: the same seed gives the same augmented images on any
device. The rotation is torchvision's `rotate` (nearest, zero fill, about the centre) written for a batch of
angles: torchvision's tensor kernel takes one angle per call, and its batched `affine_grid` is private API, so the
inverse-rotation grid is built here with torch's public `affine_grid` (same half-pixel convention, align_corners
False) and sampled with `grid_sample` (a test checks it against `TF.rotate` image by image).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from suite.matrix.schema import Augment


def augment(x: torch.Tensor, cfg: Augment) -> torch.Tensor:
    """Per-sample random flips, padded crops and rotations of an N×C×H×W batch (uses the seeded global RNG)."""
    n = x.shape[0]
    if cfg.hflip:
        x = torch.where(_on(torch.rand(n) < 0.5, x)[:, None, None, None], x.flip(-1), x)
    if cfg.vflip:
        x = torch.where(_on(torch.rand(n) < 0.5, x)[:, None, None, None], x.flip(-2), x)
    if cfg.crop_padding:
        x = crop(x, cfg.crop_padding, _on(torch.randint(0, 2 * cfg.crop_padding + 1, (n, 2)), x))
    if cfg.rotate:
        x = rotate(x, _on((torch.rand(n) * 2 - 1) * cfg.rotate, x))
    return x


def _on(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return t.to(x.device, non_blocking=True)


def crop(x: torch.Tensor, pad: int, offsets: torch.Tensor) -> torch.Tensor:
    """Each image padded by `pad` (zeros for integers, reflection for floats), then its H×W window at (row, col)
    `offsets[i]`, gathered for the whole batch with one indexing operation."""
    n, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect" if x.is_floating_point() else "constant")
    rows = offsets[:, 0, None] + torch.arange(h, device=x.device)  # N×H
    cols = offsets[:, 1, None] + torch.arange(w, device=x.device)  # N×W
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    channel = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]


def rotate(x: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Each image rotated counter-clockwise by `degrees[i]` about its centre, nearest neighbour, zeros outside:
    torchvision's `rotate(img, angle)` for a batch of angles."""
    n, _, h, w = x.shape
    # torchvision's inverse matrix for rotate(angle): R(-angle % 360), computed in double as its Python floats are
    r = torch.deg2rad(-(degrees.double() % 360))
    cos, sin, zero = r.cos(), r.sin(), torch.zeros_like(r)
    theta = torch.stack([torch.stack([cos, sin, zero], 1), torch.stack([-sin, cos, zero], 1)], 1).float()
    # torchvision normalises the pixel-unit grid by (w/2, h/2); affine_grid works in normalised units, so the
    # off-diagonal terms are rescaled by the aspect ratio (1 for square images)
    theta[:, 0, 1] *= h / w
    theta[:, 1, 0] *= w / h
    grid = F.affine_grid(theta, [n, 1, h, w], align_corners=False)
    fp = x.is_floating_point()
    out = F.grid_sample(
        x if fp else x.float(), grid, mode="nearest", padding_mode="zeros", align_corners=False
    )
    return out if fp else out.round_().to(x.dtype)
