"""Gradual unfreezing (Davila et al. 2024, §3.1.3-3.1.5): G-LF, G-FL, and LP-FT ("Gradual Unfreeze, Last/All").

Each strategy is a schedule over the parameter blocks of `suite.models.blocks` (stem → head, head last): at every
epoch it declares which blocks train, and records them in the result's `strategy_log` (`unfrozen`, one entry per
epoch, plus `blocks`: what each block name spans). Frozen blocks get no gradient and run in eval mode, so their
BatchNorm statistics stay the pretrained ones (suite/models/trainable.py).

Durations accept whole epochs (>= 1) or a fraction of `train.epochs` (0 < x < 1, rounded, at least one epoch).
The loop restarts early-stopping patience whenever the trainable set changes, and by default keeps the best state
of the final phase and waits for it (`train.checkpoint: final-phase`), so neither a plateau nor a lucky epoch in an
early, mostly frozen phase decides the result.
"""

from __future__ import annotations

from dataclasses import dataclass

from suite.lazy import lazy_module
from suite.models.blocks import Block
from suite.strategies.base import Strategy, StrategyContext, registered

nn = lazy_module("torch.nn")


def epochs_of(value: float, total: int) -> int:
    """A duration given as whole epochs (>= 1) or as a fraction of the run's `total` epochs (at least 1)."""
    return int(value) if value >= 1 else max(1, round(value * total))


def check_epochs(field_name: str, value: float) -> None:
    """Reject durations that are neither a whole number of epochs nor a fraction in (0, 1)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{field_name} must be a number, got {value!r}")
    if value <= 0 or (value >= 1 and value != int(value)):
        raise ValueError(
            f"{field_name} must be a whole number of epochs >= 1 or a fraction of train.epochs in (0, 1);"
            f" got {value!r}"
        )


@dataclass(frozen=True)
class Scheduled(Strategy):
    """A strategy whose only decision is which blocks train at each epoch (`unfrozen`)."""

    def unfrozen(self, epoch: int, ctx: StrategyContext) -> list[Block]:
        raise NotImplementedError

    def trainable(self, model: nn.Module, epoch: int, ctx: StrategyContext) -> set[str]:
        return ctx.blocks_params(self.unfrozen(epoch, ctx))

    def on_epoch_start(self, model: nn.Module, epoch: int, ctx: StrategyContext) -> None:
        ctx.records.setdefault("blocks", {b.name: b.label for b in ctx.blocks})
        names = [b.name for b in self.unfrozen(epoch, ctx)]
        ctx.records.setdefault("unfrozen", []).append({"epoch": epoch, "blocks": names})


@dataclass(frozen=True)
class _Gradual(Scheduled):
    epochs_per_step: float = 1

    def __post_init__(self) -> None:
        check_epochs("epochs_per_step", self.epochs_per_step)

    def step(self, epoch: int, ctx: StrategyContext) -> int:
        """0 for the first `epochs_per_step` epochs, then 1, 2, ..."""
        return (epoch - 1) // epochs_of(self.epochs_per_step, ctx.epochs)


@registered
@dataclass(frozen=True)
class GradualLastToFirst(_Gradual):
    """G-LF, gradual unfreezing from the last block to the first (Davila §3.1.3; Howard & Ruder 2018, ULMFiT).

    Trains: the new head alone for the first step (Davila: G-LF "begins with LP"), then one more block per step
    from the top down: head → + last body block → ... → everything, which then trains to the end of the run.
    With ResNet-50's 6 blocks and one epoch per step, the whole network trains from epoch 6 on.
    Defaults: `epochs_per_step: 1`, Howard & Ruder's "unfreeze ... and fine-tune all unfrozen layers for one
    epoch"; Davila does not give the value.
    """

    name = "g-lf"
    label = "G-LF"

    def unfrozen(self, epoch: int, ctx: StrategyContext) -> list[Block]:
        return ctx.blocks[max(0, len(ctx.blocks) - 1 - self.step(epoch, ctx)) :]


@registered
@dataclass(frozen=True)
class GradualFirstToLast(_Gradual):
    """G-FL, gradual unfreezing from the first block to the last (Davila §3.1.4, "the reverse of G-LF").

    Trains: the new head throughout ("training them with the new classifier layer"), plus the body blocks from the
    bottom up: head + stem → + block1 → ... → everything, which then trains to the end of the run.
    Defaults: `epochs_per_step: 1`, as for G-LF (Howard & Ruder 2018); Davila does not give the value.
    """

    name = "g-fl"
    label = "G-FL"

    def unfrozen(self, epoch: int, ctx: StrategyContext) -> list[Block]:
        body, head = ctx.blocks[:-1], ctx.blocks[-1]
        return [*body[: self.step(epoch, ctx) + 1], head]


@registered
@dataclass(frozen=True)
class ProbeThenTune(Scheduled):
    """LP-FT, linear probing then full fine-tuning (Davila §3.1.5 "Gradual Unfreeze, Last/All"; Kumar et al. 2022).

    Trains: only the new head for the first `lp_epochs`, then every parameter, starting from the probed head.
    Defaults: `lp_epochs: 0.1`, the first 10% of `train.epochs` (5 of Davila's 50). Neither paper gives an epoch
    count: Davila says "a set number of epochs"; Kumar et al. fit the probe to convergence as a separate logistic
    regression, which a single epoch budget cannot do, so this default is ours. Set it per matrix.
    """

    name = "lp-ft"
    label = "LP-FT"
    lp_epochs: float = 0.1

    def __post_init__(self) -> None:
        check_epochs("lp_epochs", self.lp_epochs)

    def unfrozen(self, epoch: int, ctx: StrategyContext) -> list[Block]:
        return ctx.blocks[-1:] if epoch <= epochs_of(self.lp_epochs, ctx.epochs) else list(ctx.blocks)
