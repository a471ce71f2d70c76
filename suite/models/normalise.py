"""The model's input: a uint8 batch scaled and normalised with the mean and std its weights expect."""

from __future__ import annotations

import torch
from torch import nn


class Normalise(nn.Module):
    """uint8 batch → float, scaled and normalised with the weights' mean and std."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1) * 255.0)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1) * 255.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.float() - self.mean) / self.std
