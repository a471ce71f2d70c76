"""The strategy contract: a frozen config dataclass (hyperparameters + a docstring card) plus hooks.

The loop (suite/train.py) calls, in order: `prepare_model` once; then each epoch `trainable` (the one place that
decides `requires_grad`), `on_epoch_start`; each step `extra_loss` and `before_step`. `param_groups` shapes the
optimiser. Every hook is a no-op by default, which is full fine-tuning. Strategies never contain a training loop.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, ClassVar

import torch
from torch import nn

from suite.models.blocks import Block, param_blocks
from suite.registry import Registry


@dataclass
class StrategyContext:
    """What a strategy may read about the prepared model; `records` goes into the result's `strategy_log`.

    `state` is the strategy's working memory between hooks (the strategy itself is a frozen config): a reference
    copy of the weights, running sums. It is not saved.
    """

    blocks: list[Block]
    num_classes: int
    epochs: int
    records: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    image_size: int | None = None
    """The cell's input size (px); strategies that size a layer from the feature map need it (TTL without pooling)."""

    @property
    def head(self) -> tuple[str, ...]:
        return self.blocks[-1].params

    def blocks_params(self, blocks: Iterable[Block]) -> set[str]:
        return {name for block in blocks for name in block.params}


@dataclass(frozen=True)
class Strategy:
    """Full fine-tuning by default: every parameter trains at the base LR."""

    name: ClassVar[str] = ""
    variant: str | None = None

    @classmethod
    def variants(cls, num_blocks: int) -> list[str]:
        """Named variants (search points, steps); each becomes its own cell. None by default."""
        return []

    @classmethod
    def variants_for(cls, model: nn.Module, pattern: str = "*") -> list[str]:
        """Variants for one architecture (`model` may live on the meta device) that match the glob `pattern`.

        A matrix's `name@*` asks for `pattern="*"`, `name@layer3.*` for `"layer3.*"`. By default these are
        `variants(num_blocks)`; strategies whose variants are the model's cut points (ttl, tf, lwft) override this.
        """
        return [v for v in cls.variants(len(param_blocks(model))) if fnmatchcase(v, pattern)]

    def prepare_model(self, model: nn.Module, ctx: StrategyContext | None) -> nn.Module:
        return model

    def trainable(self, model: nn.Module, epoch: int, ctx: StrategyContext) -> set[str] | None:
        """Names of the parameters that train in `epoch`; None means all of them."""
        return None

    def param_groups(self, model: nn.Module, ctx: StrategyContext) -> list[dict[str, Any]]:
        """Optimiser groups as {"params": [names], "lr_scale": float}; default one group at the base LR."""
        return [{"params": [n for n, _ in model.named_parameters()], "lr_scale": 1.0}]

    def extra_loss(self, model: nn.Module, ctx: StrategyContext) -> torch.Tensor | None:
        return None

    def on_epoch_start(self, model: nn.Module, epoch: int, ctx: StrategyContext) -> None:
        return None

    def before_step(self, model: nn.Module, optimizer: torch.optim.Optimizer, ctx: StrategyContext) -> None:
        return None


STRATEGIES: Registry[type[Strategy]] = Registry("strategy")
