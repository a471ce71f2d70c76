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
from suite.models.surgery import modules_run
from suite.strategies.base import Strategy, StrategyContext, registered
from suite.strategies.layerwise import parse_step, step_blocks

nn = lazy_module("torch.nn")
peft = lazy_module("peft")


def lora_targets(
    model: nn.Module, params: set[str], image_size: int | None = None
) -> tuple[list[str], list[str]]:
    """(the layers of `params` that get an adapter, the Linear and Conv2d layers of `params` that cannot).

    Adapted: Linear and ungrouped Conv2d layers whose forward runs, and torch's MultiheadAttention (torchvision's
    ViT), which peft adapts as a whole: its in_proj and its out_proj. Grouped and depthwise convolutions are left
    out silently: peft's LoRA conv needs the rank to be divisible by the groups. Reported as not adapted: layers
    whose weight the model reads without calling them (the qkv and proj of torchvision's Swin-V2 attention), since
    an adapter beside them would never run.
    """
    ran = modules_run(model, image_size)
    adapted, skipped = [], []
    for name, m in model.named_modules():
        if isinstance(m, nn.MultiheadAttention) and f"{name}.in_proj_weight" in params:
            adapted.append(name)
        elif (
            isinstance(m, nn.Linear | nn.Conv2d)
            and getattr(m, "groups", 1) == 1
            and f"{name}.weight" in params
        ):
            inside_attention = isinstance(model.get_submodule(name.rpartition(".")[0]), nn.MultiheadAttention)
            if name in ran:
                adapted.append(name)
            elif not inside_attention:  # a MultiheadAttention's out_proj is adapted with it
                skipped.append(name)
    return adapted, skipped


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

    Builds: a rank-`rank` adapter beside every Linear and ungrouped Conv2d layer of the backbone (not the head), and
    every torch MultiheadAttention (its in_proj and out_proj, peft's own MHA adapter): W x + (alpha / rank) B A x,
    A kaiming-uniform (a = sqrt 5), B zeros, so training starts from the source model. A layer whose weight the model
    reads without calling it cannot hold an adapter (the qkv and proj of torchvision's Swin-V2): the result's
    `strategy_log.lora.not_adapted` names them, so tv_swin_v2_t's LoRA adapts its MLPs only.
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
        targets, skipped = lora_targets(model, ctx.blocks_params(blocks), ctx.image_size)
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
        if skipped:
            ctx.records["lora"]["not_adapted"] = skipped
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
