"""Strategies that fine-tune only the top of the model: LWFT (Tajbakhsh 2016 via Peng 2023) and SWFT (Fang 2025).

Neither changes the model; they decide which parameters train (`trainable`) and at what LR (`param_groups`).
LWFT's variants are cut points, like TTL's (`lwft@block3`, `lwft@layer3.3`); SWFT's are steps over the parameter
blocks of suite/models/blocks.py (`swft@1` = the head only, `swft@N` = everything).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar
from weakref import WeakKeyDictionary

from suite.errors import UserError
from suite.lazy import lazy_module
from suite.models.blocks import Block
from suite.models.surgery import Cut, cut_points, kept_params
from suite.strategies.base import Strategy, StrategyContext, registered
from suite.strategies.structural import CutStrategy

nn = lazy_module("torch.nn")

_BOTTOM: WeakKeyDictionary[nn.Module, dict[str, frozenset[str]]] = WeakKeyDictionary()


def _bottom(model: nn.Module, cut: Cut) -> frozenset[str]:
    """Parameters at or below the cut; cached per model, since the loop asks every epoch."""
    per_model = _BOTTOM.setdefault(model, {})
    if str(cut) not in per_model:
        per_model[str(cut)] = frozenset(kept_params(model, cut))
    return per_model[str(cut)]


@registered
@dataclass(frozen=True)
class LayerWiseFineTune(CutStrategy):
    """LWFT, layer-wise fine-tuning (Tajbakhsh et al. 2016, IEEE TMI; as generalised by Peng et al. 2023, §P).

    Trains: the layers above the cut and the new head; the layers at or below the cut are frozen (their BatchNorm
    statistics too), or train at `bottom_lr_ratio` × the base LR when that is set. Peng: "the top layer is fine-tuned
    with a base LR, and the other layers with a lower LR": the head gets the base LR and the other fine-tuned layers
    `lr_ratio` × it. Peng's text lost the ratio; 0.1 is Tajbakhsh's order of magnitude (a 10× smaller LR for the
    pretrained layers than for the new last layer), configurable.
    For "the top k blocks at the base LR and the rest at a lower LR" set `lr_ratio: 1.0, bottom_lr_ratio: 0.1`.
    Variants: cut points as for ttl (`lwft@block3` fine-tunes layer4 + head on ResNet). `lwft@*` is the block search,
    block1 .. block(T-1); the deepest, block(T-1), trains the head (and anything after the last tap) only, which is
    where Tajbakhsh's incremental procedure starts. Default cut: block(T-2), the last stage + head.
    """

    name = "lwft"
    label = "LWFT"
    lr_ratio: float = 0.1
    bottom_lr_ratio: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.lr_ratio <= 0 or (self.bottom_lr_ratio is not None and self.bottom_lr_ratio <= 0):
            raise ValueError(
                "lr_ratio and bottom_lr_ratio must be > 0 (leave bottom_lr_ratio unset to freeze)"
            )

    @classmethod
    def search_cuts(cls, model: nn.Module) -> list[Cut]:
        return cut_points(model, layers=False)[1:]

    def split(self, model: nn.Module, ctx: StrategyContext) -> tuple[set[str], set[str], set[str]]:
        """(head, top, bottom) parameter names."""
        bottom = set(_bottom(model, self.cut(model)))
        head = set(ctx.head)
        top = {n for n, _ in model.named_parameters()} - bottom - head
        return head, top, bottom

    def prepare_model(self, model: nn.Module, ctx: StrategyContext | None) -> nn.Module:
        _, top, bottom = self.split(model, ctx)
        ctx.records["cut"] = str(self.cut(model))
        ctx.records["tensors"] = {"top": len(top), "bottom": len(bottom)}
        return model

    def trainable(self, model: nn.Module, epoch: int, ctx: StrategyContext) -> set[str] | None:
        if self.bottom_lr_ratio is not None:
            return None
        head, top, _ = self.split(model, ctx)
        return head | top

    def param_groups(self, model: nn.Module, ctx: StrategyContext) -> list[dict[str, Any]]:
        head, top, bottom = self.split(model, ctx)
        order = [n for n, _ in model.named_parameters()]
        groups = [(head, 1.0), (top, self.lr_ratio), (bottom, self.bottom_lr_ratio or 0.0)]
        return [{"params": [n for n in order if n in g], "lr_scale": s} for g, s in groups if g]


def parse_step(variant: str | None, name: str) -> None:
    if variant is not None and not (variant.isdigit() and int(variant) >= 1):
        raise ValueError(
            f"{name}@{variant}: the variant is a step number, 1 (head only) .. the number of blocks"
        )


def step_blocks(variant: str | None, default: int, ctx: StrategyContext, name: str) -> list[Block]:
    """The top k blocks (the head is the first from the top) for step k."""
    n = len(ctx.blocks)
    k = int(variant) if variant else min(default, n)
    if k > n:
        raise UserError(
            f"{name}@{k}: this model has {n} parameter blocks; valid steps are {name}@1 .. {name}@{n}"
        )
    return ctx.blocks[n - k :]


@registered
@dataclass(frozen=True)
class StepWiseFineTune(Strategy):
    """SWFT, step-wise fine-tuning (Fang et al. 2025, Sci. Rep.; METHODS.md §F).

    Trains: at step k, the top k parameter blocks, counting the head as the first: step 1 = the head (linear probe),
    step 2 = last block + head, ..., step N = everything. On ResNet (blocks stem, layer1..4, head) that is Fang's six
    steps: fc; layer4+fc; layer3+layer4+fc; +layer2; +layer1; all. Frozen blocks keep their BatchNorm statistics.
    Every step starts from the same source weights (Fang runs SWFT on the two-step `+` checkpoint: use a source such
    as `imagenet>kaggle-dr`). Variants: `swft@1` .. `swft@N` from the architecture's block list (`swft@*` = all).
    Default (no variant): step 3, where Fang stops on ResNet-50 (LayerCAM, Table 6).
    """

    name = "swft"
    label = "SWFT"
    variant_kind = "step"
    DEFAULT_STEP: ClassVar[int] = 3

    def __post_init__(self) -> None:
        parse_step(self.variant, self.name)

    @classmethod
    def variants(cls, num_blocks: int) -> list[str]:
        return [str(k) for k in range(1, num_blocks + 1)]

    def prepare_model(self, model: nn.Module, ctx: StrategyContext | None) -> nn.Module:
        blocks = step_blocks(self.variant, self.DEFAULT_STEP, ctx, self.name)
        ctx.records["step"] = len(blocks)
        ctx.records["blocks"] = [b.name for b in blocks]
        return model

    def trainable(self, model: nn.Module, epoch: int, ctx: StrategyContext) -> set[str]:
        return ctx.blocks_params(step_blocks(self.variant, self.DEFAULT_STEP, ctx, self.name))
