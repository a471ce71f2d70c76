"""Auto-RGN: per-layer learning rates from the relative gradient norm (Davila et al. 2024 §3.1.8; Lee et al. 2022).

RGN(l_i) = ‖g_i‖₂ / ‖w_i‖₂ for every layer l_i, w_i its parameter vector (Davila's Eq. 4: a layer's weight and bias
together; `unit: tensor` takes every tensor alone, as the authors' code does). Normalised across layers by dividing
by the largest, it multiplies the base LR of that layer: the most "informative" layer trains at the full LR, the
others slower.

The new head. Davila fine-tunes "the pre-trained model with the new classifier layer"; Lee et al.'s code keeps the
source's own classifier (CIFAR-10 → CIFAR-10-C), so it never meets a freshly initialised head. Such a head has
small weights and large gradients: its RGN is by far the largest (its bias alone can be 100× any backbone layer's),
so normalising by it trains the backbone at about 1% of the LR, close to linear probing. Davila's tables show
Auto-RGN near FT, not near LP (CheXpert ResNet-50: Auto-RGN 72.59 mAP, FT 71.98, LP 60.61; Table 3), which a
head-dominated normalisation cannot give. So by default (`head: base-lr`) the new head trains at the base LR and
is left out of the normalisation, and the backbone's layers are normalised among themselves; `head: rgn` gives the
head-dominated variant.
As in the authors' code (anniesch/surgical-finetuning, `main.py::get_lr_weights`), RGN is averaged over the first
5 training batches of every epoch and the multipliers are recomputed each epoch.

How this maps onto the loop's hooks (the strategy never owns a loop): `param_groups` gives each layer (or tensor)
its own optimiser group; `before_step` (after backward, before the update) reads the gradients of the first `batches` steps
of an epoch and sets each group's LR to `scheduled LR × running-mean multiplier`. So the multipliers of step k are
the mean over steps 1..k, and they are fixed for the rest of the epoch after step `batches`. Two differences from
the authors' code, both deliberate: (1) their 5 batches are extra forward/backward passes before the epoch, here
they are the epoch's own first steps; (2) they build a fresh Adam every epoch (resetting its moments), here the
optimiser and its moments persist. They also leave parameters named `bn*` out of the optimiser (a name heuristic
for their ResNet); here every tensor, BatchNorm included, gets its own RGN multiplier.

A layer whose norm is zero (a zero-initialised scale when training from scratch) has no defined RGN; it keeps the
full LR (multiplier 1) and is left out of the normalisation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from suite.lazy import lazy_module
from suite.strategies.base import Strategy, StrategyContext, registered

torch = lazy_module("torch")
nn = lazy_module("torch.nn")

_SCALE = "rgn_scale"  # the multiplier currently applied to an optimiser group's LR


Unit = Literal["layer", "tensor"]


def unit_of(name: str, unit: Unit) -> str:
    """The RGN unit a parameter belongs to: its module (`layer3.0.conv1`) or itself (`layer3.0.conv1.weight`)."""
    return name if unit == "tensor" else (name.rpartition(".")[0] or name)


def relative_gradient_norms(model: nn.Module, unit: Unit = "tensor") -> dict[str, float]:
    """‖g‖₂ / ‖w‖₂ per unit with a gradient, both norms over all of the unit's tensors; NaN where ‖w‖₂ is 0."""
    named = [(n, p) for n, p in model.named_parameters() if p.grad is not None]
    if not named:
        return {}
    grads = torch.stack(torch._foreach_norm([p.grad.detach() for _, p in named])).tolist()
    weights = torch.stack(torch._foreach_norm([p.detach() for _, p in named])).tolist()
    squares: dict[str, list[float]] = {}
    for (n, _), g, w in zip(named, grads, weights):
        sums = squares.setdefault(unit_of(n, unit), [0.0, 0.0])
        sums[0], sums[1] = sums[0] + g * g, sums[1] + w * w
    return {k: math.sqrt(g) / math.sqrt(w) if w > 0 else math.nan for k, (g, w) in squares.items()}


def normalise(rgn: dict[str, float]) -> dict[str, float]:
    """Divide by the largest RGN (authors' code); undefined (NaN) or all-zero RGNs give multiplier 1."""
    top = max((v for v in rgn.values() if not math.isnan(v)), default=0.0)
    return {n: 1.0 if math.isnan(v) or top == 0 else v / top for n, v in rgn.items()}


def apply_lr_multipliers(
    optimizer: torch.optim.Optimizer, model: nn.Module, scale: dict[str, float], unit: Unit = "tensor"
) -> None:
    """Set every one-unit group's LR to the scheduled LR × its multiplier.

    The scheduled LR (what the LR scheduler made of the base LR) is read back from the group with the largest
    current multiplier, whose LR is the least distorted by it; all groups share one schedule.
    """
    name_of = {id(p): n for n, p in model.named_parameters()}
    groups = optimizer.param_groups
    ref = max(groups, key=lambda g: g.get(_SCALE, 1.0))
    scheduled = ref["lr"] / ref.get(_SCALE, 1.0)
    for group in groups:
        name = unit_of(name_of[id(group["params"][0])], unit)
        group[_SCALE] = scale.get(name, group.get(_SCALE, 1.0))
        group["lr"] = scheduled * group[_SCALE]


@registered
@dataclass(frozen=True)
class AutoRGN(Strategy):
    """Auto-RGN, per-layer LR ∝ normalised relative gradient norm ‖g‖/‖w‖ (Davila §3.1.8; Lee et al. 2022).

    Trains: every layer and the new head; each backbone layer at base LR × RGN / max backbone RGN, the new head at
    the base LR (see the module docstring for why). `strategy_log.rgn` holds, per epoch, the multiplier of every
    layer and the mean per block.
    Defaults: `batches: 5` and `every_epochs: 1`, as in the authors' code (anniesch/surgical-finetuning): RGN
    averaged over 5 batches and recomputed every epoch (Davila says only "recomputed during training");
    `unit: layer` (Davila's Eq. 4; `tensor` as in the authors' code); `head: base-lr` (`rgn`: the head joins the
    normalisation, which then trains the backbone at about 1% of the LR).
    """

    name = "auto-rgn"
    label = "Auto-RGN"
    batches: int = 5
    every_epochs: int = 1
    unit: Unit = "layer"
    head: Literal["base-lr", "rgn"] = "base-lr"

    def __post_init__(self) -> None:
        for field_name in ("batches", "every_epochs"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{field_name} must be a whole number >= 1, got {value!r}")
        if self.unit not in ("layer", "tensor") or self.head not in ("base-lr", "rgn"):
            raise ValueError(
                f"unit must be layer or tensor and head base-lr or rgn, got {self.unit!r}, {self.head!r}"
            )

    def param_groups(self, model: nn.Module, ctx: StrategyContext) -> list[dict[str, Any]]:
        units: dict[str, list[str]] = {}
        for n, _ in model.named_parameters():
            units.setdefault(unit_of(n, self.unit), []).append(n)
        return [{"params": names, "lr_scale": 1.0} for names in units.values()]

    def multipliers(self, rgn: dict[str, float], ctx: StrategyContext) -> dict[str, float]:
        """Normalised RGN per unit; with `head: base-lr` the head's units are 1 and not part of the normalisation."""
        if self.head == "rgn":
            return normalise(rgn)
        head = {unit_of(n, self.unit) for n in ctx.head}
        return {
            **normalise({k: v for k, v in rgn.items() if k not in head}),
            **{k: 1.0 for k in rgn if k in head},
        }

    def on_epoch_start(self, model: nn.Module, epoch: int, ctx: StrategyContext) -> None:
        recompute = (epoch - 1) % self.every_epochs == 0
        ctx.state["rgn"] = {"epoch": epoch, "seen": 0 if recompute else self.batches, "sums": {}}

    def before_step(self, model: nn.Module, optimizer: torch.optim.Optimizer, ctx: StrategyContext) -> None:
        state = ctx.state.get("rgn")
        if state is None or state["seen"] >= self.batches:
            return
        sums = state["sums"]
        for name, value in relative_gradient_norms(model, self.unit).items():
            sums[name] = sums.get(name, 0.0) + value
        state["seen"] += 1
        scale = self.multipliers({n: s / state["seen"] for n, s in sums.items()}, ctx)
        apply_lr_multipliers(optimizer, model, scale, self.unit)
        self._record(ctx, state, scale)

    def _record(self, ctx: StrategyContext, state: dict[str, Any], scale: dict[str, float]) -> None:
        blocks = {}
        for block in ctx.blocks:
            units = dict.fromkeys(unit_of(n, self.unit) for n in block.params)
            values = [scale[u] for u in units if u in scale]
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
