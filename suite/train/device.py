"""Seeds, deterministic algorithms, the device a cell runs on, and where its data lives on that device."""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import torch

from suite.data.dataset import TaskData
from suite.matrix.schema import TrainConfig


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False


def pick_device(cfg: TrainConfig) -> torch.device:
    if cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


RESIDENT_FRACTION = 0.5
"""At most this share of the device's free memory holds the dataset; the rest is the model's and the batches'."""


def place_data(data: TaskData, device: torch.device, free_bytes: Callable[[], int] | None = None) -> dict:
    """Every split's uint8 images and targets on the accelerator, once, when they fit in RESIDENT_FRACTION of its
    free memory (batches are then indexed and augmented there: no host-to-device copy per step); otherwise they
    stay in pinned host memory and each batch is copied asynchronously. On the CPU there is nothing to move.
    Returns what the result records under `data.placement`."""
    need = sum(s.images.nbytes + s.targets.nbytes for s in data.splits.values())
    if device.type == "cpu":
        return {"device": "cpu", "bytes": need}
    free = (free_bytes or (lambda: torch.cuda.mem_get_info(device)[0]))()
    if need <= RESIDENT_FRACTION * free:
        for split in data.splits.values():
            split.images, split.targets = split.images.to(device), split.targets.to(device)
        return {"device": device.type, "bytes": need, "free_bytes": free, "resident": True}
    if device.type == "cuda":
        for split in data.splits.values():
            split.images, split.targets = split.images.pin_memory(), split.targets.pin_memory()
    return {
        "device": device.type,
        "bytes": need,
        "free_bytes": free,
        "resident": False,
        "why": f"the images need {need / 2**30:.1f} GiB, more than {RESIDENT_FRACTION:.0%} of the "
        f"{free / 2**30:.1f} GiB free on {device}: batches are copied from pinned host memory",
    }
