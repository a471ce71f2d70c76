"""Full fine-tuning and linear probing (Davila et al. 2024, METHODS.md §D)."""

from __future__ import annotations

from dataclasses import dataclass

from suite.lazy import lazy_module
from suite.strategies.base import Strategy, StrategyContext, registered

nn = lazy_module("torch.nn")


@registered
@dataclass(frozen=True)
class FullFineTune(Strategy):
    """FT, full fine-tuning (Davila; Peng's FTL; Fang's Expt 1 `**`, and Expt 2 `^` from scratch).

    Trains: every layer and the new, randomly initialised head, at the base LR.
    """

    name = "ft"
    label = "FT"


@registered
@dataclass(frozen=True)
class LinearProbe(Strategy):
    """LP, linear probing (Davila; Fang's one-step `*` and two-step `++`).

    Trains: only the new head. The backbone is frozen and runs in eval mode (its BatchNorm statistics stay the
    pretrained ones, its dropout is off; the loop does this for any fully frozen part), so the head trains on fixed
    features, which the loop computes once and caches (suite/train/features.py).
    """

    name = "lp"
    label = "LP"

    def trainable(self, model: nn.Module, epoch: int, ctx: StrategyContext) -> set[str]:
        return set(ctx.head)
