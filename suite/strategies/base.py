"""The strategy contract: a frozen config dataclass (hyperparameters + a docstring card) plus hooks.

The loop (suite/train/loop.py) calls, in order: `prepare_model` once; then each epoch `trainable` (the one place that
decides `requires_grad`), `on_epoch_start`; each step `extra_loss` and `before_step`. `param_groups` shapes the
optimiser. Every hook is a no-op by default, which is full fine-tuning. Strategies never contain a training loop.

What the report and the command line need (`name`, the paper's `label`, the `variant_kind`, the parameters and the
card) lives on the class, once, and importing this package loads no torch: the registries answer `list`,
`run --dry-run` and `report` without it (suite/lazy.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from suite.errors import UserError
from suite.models.blocks import Block, param_blocks
from suite.registry import Registry

if TYPE_CHECKING:
    import torch
    from torch import nn

VariantKind = Literal["cut", "step"]
"""`cut`: variants are cut points (`ttl@block3`), searched block then layer (Peng's -1/-2); `step`: numbered steps
(`swft@3`), each shown as its own row (Fang)."""


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
class VariantSpace:
    """A strategy's variants on one architecture: what `name@*` runs, every variant a matrix may name, and the ones
    that exist but cannot run there, with the reason (TF's cuts inside a residual stage). `unsupported` is the reason
    the strategy cannot run on the architecture at all (a cut-point strategy on a model without timm's feature taps),
    empty when it can."""

    search: tuple[str, ...] = ()
    valid: tuple[str, ...] = ()
    excluded: dict[str, str] = field(default_factory=dict)
    unsupported: str = ""

    def matching(self, pattern: str) -> list[str]:
        """`*` is the search; any other glob is matched against every valid variant."""
        return list(self.search) if pattern == "*" else [v for v in self.valid if fnmatchcase(v, pattern)]

    def why_excluded(self, pattern: str) -> str | None:
        """The reason the first excluded variant matching `pattern` cannot run, if one matches."""
        return next((why for v, why in self.excluded.items() if fnmatchcase(v, pattern)), None)


@dataclass(frozen=True)
class Strategy:
    """Full fine-tuning by default: every parameter trains at the base LR."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    """The paper's name for it, as the leaderboard prints it (`LP-FT`, `Auto-RGN`)."""
    variant_kind: ClassVar[VariantKind | None] = None
    variant: str | None = None

    @classmethod
    def variants(cls, num_blocks: int) -> list[str]:
        """Named variants (search points, steps); each becomes its own cell. None by default."""
        return []

    @classmethod
    def variant_space(cls, model: nn.Module) -> VariantSpace:
        """The variants on one architecture (`model` may live on the meta device). By default `variants(number of
        blocks)`; strategies whose variants are the model's cut points (ttl, tf, lwft) override this."""
        found = tuple(cls.variants(len(param_blocks(model))))
        return VariantSpace(found, found)

    @classmethod
    def variants_for(cls, model: nn.Module, pattern: str = "*") -> list[str]:
        """Variants for one architecture that match the glob `pattern` (`name@*`: `"*"`, `name@layer3.*`); a
        pattern that matches only variants which cannot run there is a `UserError` saying why."""
        space = cls.variant_space(model)
        if space.unsupported:
            raise UserError(space.unsupported)
        found = space.matching(pattern)
        why = None if found else space.why_excluded(pattern)
        if why:
            raise UserError(why)
        return found

    @classmethod
    def changes_network(cls) -> bool:
        """True when `prepare_model` changes the network (truncation, halving, adapters): its cost is its own."""
        return cls.prepare_model is not Strategy.prepare_model

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

S = TypeVar("S", bound=type[Strategy])


def registered(cls: S) -> S:
    """Class decorator: registers a strategy under its `name`, which is written once, on the class."""
    if not cls.name or not cls.label:
        raise TypeError(f"{cls.__name__} needs a `name` and a `label` to be registered")
    STRATEGIES.add(cls.name, cls)
    return cls
