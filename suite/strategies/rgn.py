"""Auto-RGN: per-tensor learning rates from the relative gradient norm (Davila et al. 2024 §3.1.8; Lee et al. 2022).

RGN(w_i) = ‖g_i‖₂ / ‖w_i‖₂ for every parameter tensor. Normalised across tensors by dividing by the largest, it
multiplies the base LR of that tensor: the most "informative" tensor trains at the full LR, the others slower.
As in the authors' code (anniesch/surgical-finetuning, `main.py::get_lr_weights`), RGN is averaged over the first
5 training batches of every epoch and the multipliers are recomputed each epoch.

How this maps onto the loop's hooks (the strategy never owns a loop): `param_groups` gives each tensor its own
optimiser group; `before_step` (after backward, before the update) reads the gradients of the first `batches` steps
of an epoch and sets each group's LR to `scheduled LR × running-mean multiplier`. So the multipliers of step k are
the mean over steps 1..k, and they are fixed for the rest of the epoch after step `batches`. Two differences from
the authors' code, both deliberate: (1) their 5 batches are extra forward/backward passes before the epoch, here
they are the epoch's own first steps; (2) they build a fresh Adam every epoch (resetting its moments), here the
optimiser and its moments persist. They also leave parameters named `bn*` out of the optimiser (a name heuristic
for their ResNet); here every tensor, BatchNorm included, gets its own RGN multiplier.

A tensor whose norm is zero (a zero-initialised scale when training from scratch) has no defined RGN; it keeps the
full LR (multiplier 1) and is left out of the normalisation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from suite.lazy import lazy_module
from suite.strategies.base import Strategy, StrategyContext, registered

torch = lazy_module("torch")
nn = lazy_module("torch.nn")

_SCALE = "rgn_scale"  # the multiplier currently applied to an optimiser group's LR


def relative_gradient_norms(model: nn.Module) -> dict[str, float]:
    """‖g‖₂ / ‖w‖₂ per parameter tensor with a gradient; NaN where ‖w‖₂ is 0."""
    named = [(n, p) for n, p in model.named_parameters() if p.grad is not None]
    if not named:
        return {}
    grads = torch.stack(torch._foreach_norm([p.grad.detach() for _, p in named])).tolist()
    weights = torch.stack(torch._foreach_norm([p.detach() for _, p in named])).tolist()
    return {n: g / w if w > 0 else math.nan for (n, _), g, w in zip(named, grads, weights)}


def normalise(rgn: dict[str, float]) -> dict[str, float]:
    """Divide by the largest RGN (authors' code); undefined (NaN) or all-zero RGNs give multiplier 1."""
    top = max((v for v in rgn.values() if not math.isnan(v)), default=0.0)
    return {n: 1.0 if math.isnan(v) or top == 0 else v / top for n, v in rgn.items()}


def apply_lr_multipliers(optimizer: torch.optim.Optimizer, model: nn.Module, scale: dict[str, float]) -> None:
    """Set every one-tensor group's LR to the scheduled LR × its multiplier.

    The scheduled LR (what the LR scheduler made of the base LR) is read back from the group with the largest
    current multiplier, whose LR is the least distorted by it; all groups share one schedule.
    """
    name_of = {id(p): n for n, p in model.named_parameters()}
    groups = optimizer.param_groups
    ref = max(groups, key=lambda g: g.get(_SCALE, 1.0))
    scheduled = ref["lr"] / ref.get(_SCALE, 1.0)
    for group in groups:
        name = name_of[id(group["params"][0])]
        group[_SCALE] = scale.get(name, group.get(_SCALE, 1.0))
        group["lr"] = scheduled * group[_SCALE]


@registered
@dataclass(frozen=True)
class AutoRGN(Strategy):
    """Auto-RGN, per-tensor LR ∝ normalised relative gradient norm ‖g‖/‖w‖ (Davila §3.1.8; Lee et al. 2022).

    Trains: every layer and the new head; each parameter tensor at base LR × RGN / max RGN.
    `strategy_log.rgn` holds, per epoch, the multiplier of every tensor and the mean per block.
    Defaults: `batches: 5` and `every_epochs: 1`, as in the authors' code (anniesch/surgical-finetuning): RGN
    averaged over 5 batches and recomputed every epoch. Davila says only "recomputed during training".
    """

    name = "auto-rgn"
    label = "Auto-RGN"
    batches: int = 5
    every_epochs: int = 1

    def __post_init__(self) -> None:
        for field_name in ("batches", "every_epochs"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{field_name} must be a whole number >= 1, got {value!r}")

    def param_groups(self, model: nn.Module, ctx: StrategyContext) -> list[dict[str, Any]]:
        return [{"params": [n], "lr_scale": 1.0} for n, _ in model.named_parameters()]

    def on_epoch_start(self, model: nn.Module, epoch: int, ctx: StrategyContext) -> None:
        recompute = (epoch - 1) % self.every_epochs == 0
        ctx.state["rgn"] = {"epoch": epoch, "seen": 0 if recompute else self.batches, "sums": {}}

    def before_step(self, model: nn.Module, optimizer: torch.optim.Optimizer, ctx: StrategyContext) -> None:
        state = ctx.state.get("rgn")
        if state is None or state["seen"] >= self.batches:
            return
        sums = state["sums"]
        for name, value in relative_gradient_norms(model).items():
            sums[name] = sums.get(name, 0.0) + value
        state["seen"] += 1
        scale = normalise({n: s / state["seen"] for n, s in sums.items()})
        apply_lr_multipliers(optimizer, model, scale)
        self._record(ctx, state, scale)

    def _record(self, ctx: StrategyContext, state: dict[str, Any], scale: dict[str, float]) -> None:
        blocks = {}
        for block in ctx.blocks:
            values = [scale[n] for n in block.params if n in scale]
            blocks[block.name] = sum(values) / len(values) if values else math.nan
        entry = {
            "epoch": state["epoch"],
            "batches": state["seen"],
            "block_mean": blocks,
            "multipliers": {n: float(f"{v:.4g}") for n, v in scale.items()},  # 4 digits keep results small
        }
        log = ctx.records.setdefault("rgn", [])
        if log and log[-1]["epoch"] == state["epoch"]:
            log[-1] = entry
        else:
            log.append(entry)
