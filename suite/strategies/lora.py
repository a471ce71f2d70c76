"""LoRA adapters through `peft` (Hu et al. 2022), as Fang et al. 2025 use them (METHODS.md §F).

Adapters are injected with peft's `inject_adapter_in_model`, which keeps the timm model (and its parameter names, its
`group_matcher` and `get_classifier`) instead of wrapping it in a `PeftModel`. Trainability is NOT left to peft: peft
marks only adapters as trainable, which freezes a new head unless it is listed in `modules_to_save`, and a peft model
reloaded without `is_trainable=True` freezes everything (the known pitfall). Here the loop applies `trainable()` at
every epoch, and it names exactly the adapter matrices and the head, whatever peft did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from suite.lazy import lazy_module
from suite.models.blocks import Block
from suite.strategies.base import Strategy, StrategyContext, registered
from suite.strategies.layerwise import parse_step, step_blocks

nn = lazy_module("torch.nn")
peft = lazy_module("peft")


def lora_targets(model: nn.Module, params: set[str]) -> list[str]:
    """Linear and ungrouped Conv2d layers whose weight is in `params`.

    Grouped and depthwise convolutions are left out: peft's LoRA conv needs the rank to be divisible by the groups.
    """
    return [
        name
        for name, m in model.named_modules()
        if isinstance(m, nn.Linear | nn.Conv2d)
        and getattr(m, "groups", 1) == 1
        and f"{name}.weight" in params
    ]


def lora_params(model: nn.Module) -> set[str]:
    """Names of every LoRA A and B matrix in the model."""
    names = set()
    for name, module in model.named_modules():
        if isinstance(module, peft.tuners.lora.LoraLayer):
            for part in ("lora_A", "lora_B"):
                names |= {f"{name}.{part}.{p}" for p, _ in getattr(module, part).named_parameters()}
    return names


@registered
@dataclass(frozen=True)
class LoRA(Strategy):
    """LoRA, low-rank adaptation (Hu et al. 2022, via peft; Fang et al. 2025's "Step 6 (LoRA)").

    Builds: a rank-`rank` adapter beside every Linear and ungrouped Conv2d layer of the backbone (not the head):
    W x + (alpha / rank) B A x, A kaiming-uniform (a = sqrt 5), B zeros, so training starts from the source model.
    Trains: the adapters (A and B) and the new head; the base weights and their BatchNorm statistics stay frozen.
    Defaults rank 8, alpha 16, no dropout: Fang's settings. The trainable count goes into the result's `params`; a
    Conv2d(in, out, k×k) adds rank·(in·k·k + out) parameters, a Linear(in, out) rank·(in + out).
    """

    name = "lora"
    label = "LoRA"
    rank: int = 8
    alpha: int = 16
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.rank < 1 or self.alpha <= 0 or not 0 <= self.dropout < 1:
            raise ValueError("rank must be >= 1, alpha > 0 and dropout in [0, 1)")

    def adapted_blocks(self, ctx: StrategyContext) -> list[Block]:
        return ctx.blocks[:-1]

    def prepare_model(self, model: nn.Module, ctx: StrategyContext | None) -> nn.Module:
        blocks = self.adapted_blocks(ctx)
        targets = lora_targets(model, ctx.blocks_params(blocks))
        if targets:
            config = peft.LoraConfig(
                r=self.rank,
                lora_alpha=self.alpha,
                lora_dropout=self.dropout,
                target_modules=targets,
                init_lora_weights=True,  # A: kaiming_uniform_(a=sqrt(5)), B: zeros
                bias="none",
            )
            peft.inject_adapter_in_model(config, model)
        named = dict(model.named_parameters())
        ctx.records["lora"] = {
            "blocks": [b.name for b in blocks],
            "layers": len(targets),
            "adapter_params": sum(named[n].numel() for n in lora_params(model)),
        }
        return model

    def trainable(self, model: nn.Module, epoch: int, ctx: StrategyContext) -> set[str]:
        return lora_params(model) | set(ctx.head)


@registered
@dataclass(frozen=True)
class StepWiseLoRA(LoRA):
    """SWFT + LoRA (Fang et al. 2025's "Step k (LoRA)"): LoRA added block by block from the top, as in SWFT.

    Builds and trains: at step k, adapters in the k-1 blocks below the head (base weights frozen) and the new head.
    `swft-lora@N` = `lora`; `swft-lora@1` would be the head alone (= `swft@1`, a linear probe), so the variants are
    2 .. N. Defaults as for lora; no variant means step 3 (Fang's best SWFT step on ResNet-50).
    """

    name = "swft-lora"
    label = "SWFT-LoRA"
    variant_kind = "step"
    DEFAULT_STEP: ClassVar[int] = 3

    def __post_init__(self) -> None:
        super().__post_init__()
        parse_step(self.variant, self.name)

    @classmethod
    def variants(cls, num_blocks: int) -> list[str]:
        return [str(k) for k in range(2, num_blocks + 1)]

    def adapted_blocks(self, ctx: StrategyContext) -> list[Block]:
        return step_blocks(self.variant, self.DEFAULT_STEP, ctx, self.name)[:-1]
