"""Augmentation of a uint8 image batch, per sample, with the global (seeded) RNG: flips, padded crops, rotations.

The papers' augmentations: Fang's random horizontal flip, Peng's random crop and slight rotation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision.transforms.v2 import functional as TF

from suite.matrix.schema import Augment


def augment(x: torch.Tensor, cfg: Augment) -> torch.Tensor:
    """Per-sample random flips, padded crops and rotations on a uint8 batch (uses the seeded global RNG)."""
    n = x.shape[0]
    if cfg.hflip:
        x = torch.where((torch.rand(n) < 0.5)[:, None, None, None], x.flip(-1), x)
    if cfg.vflip:
        x = torch.where((torch.rand(n) < 0.5)[:, None, None, None], x.flip(-2), x)
    if cfg.crop_padding:
        p, (h, w) = cfg.crop_padding, x.shape[-2:]
        padded = F.pad(x, (p, p, p, p), mode="reflect" if x.is_floating_point() else "constant")
        offsets = torch.randint(0, 2 * p + 1, (n, 2))
        x = torch.stack([padded[i, :, a : a + h, b : b + w] for i, (a, b) in enumerate(offsets.tolist())])
    if cfg.rotate:
        angles = (torch.rand(n) * 2 - 1) * cfg.rotate
        x = torch.stack([TF.rotate(img, float(a)) for img, a in zip(x, angles)])
    return x
