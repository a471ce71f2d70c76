"""Ordered parameter blocks, stem to head, from timm's own contract (`group_matcher`), covering every parameter once.

Strategies that unfreeze or truncate "block by block" read this list; they never name an architecture.
"""

from __future__ import annotations

from dataclasses import dataclass

from timm.models._manipulate import group_parameters
from torch import nn


@dataclass(frozen=True)
class Block:
    name: str
    params: tuple[str, ...]


def head_params(model: nn.Module) -> tuple[str, ...]:
    """Names of the classifier's parameters (timm's `get_classifier`)."""
    head = model.get_classifier()
    ids = {id(p) for p in head.parameters()} if isinstance(head, nn.Module) else set()
    return tuple(n for n, p in model.named_parameters() if id(p) in ids)


def param_blocks(model: nn.Module) -> list[Block]:
    """Coarse groups of `model.group_matcher(coarse=True)` in order, with the classifier as the last block."""
    head = set(head_params(model))
    groups = group_parameters(model, model.group_matcher(coarse=True))
    blocks = []
    for i, names in enumerate(groups.values()):
        body = tuple(n for n in names if n not in head)
        if body:
            blocks.append(Block("stem" if i == 0 else f"block{i}", body))
    if head:
        blocks.append(Block("head", tuple(n for n, _ in model.named_parameters() if n in head)))
    return blocks
