"""Regularisation toward the starting point (Davila et al. 2024 §3.1.6-3.1.7; Li, Grandvalet & Davoine 2018).

Everything trains; the loss gains a penalty that pulls the pretrained weights back toward w⁰, a frozen copy taken
in `prepare_model` (after the new head is in place, before any step), and a plain penalty on the new head:

    L2-SP:  α/2 · ‖w_s − w⁰_s‖²₂ + β/2 · ‖w_head‖²₂        L1-SP:  α · ‖w_s − w⁰_s‖₁ + β · ‖w_head‖₁

The ½ follows Li et al. (their code uses `tf.nn.l2_loss`); Davila's Eq. 3 omits it, which only rescales α and β.
The head term of L1-SP is an L1 norm as in Davila's Eq. 1 (Li et al.'s code keeps an L2 term on the head).

Which parameters are penalised: by default the ones timm would weight-decay (`param_groups_weight_decay` with the
model's `no_weight_decay()` list): conv and linear kernels. Biases, BatchNorm/LayerNorm scales and shifts, and
position embeddings or tokens train freely, as in Li et al.'s code, which penalises only `weights` variables.
`norm_and_bias: true` penalises every parameter (their "mode 101"). BatchNorm running statistics are buffers, never
penalised; they update as in FT.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from suite.lazy import lazy_module
from suite.models.blocks import head_params
from suite.strategies.base import Strategy, StrategyContext, registered

torch = lazy_module("torch")
nn = lazy_module("torch.nn")
timm_optim = lazy_module("timm.optim")


def penalised_params(model: nn.Module, norm_and_bias: bool) -> set[str]:
    """Names of the parameters the SP penalty covers (see the module docstring)."""
    names = {id(p): n for n, p in model.named_parameters()}
    if norm_and_bias:
        return set(names.values())
    skip = model.no_weight_decay() if hasattr(model, "no_weight_decay") else ()
    groups = timm_optim.param_groups_weight_decay(model, weight_decay=1.0, no_weight_decay_list=skip)
    return {names[id(p)] for g in groups if g["weight_decay"] for p in g["params"]}


@dataclass(frozen=True)
class _StartingPoint(Strategy):
    alpha: float = 0.1
    beta: float = 0.01
    norm_and_bias: bool = False
    order: ClassVar[int] = 2

    def __post_init__(self) -> None:
        for field_name in ("alpha", "beta"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{field_name} must be a number >= 0, got {value!r}")

    def _norm(self, x: torch.Tensor) -> torch.Tensor:
        return x.abs().sum() if self.order == 1 else 0.5 * x.pow(2).sum()

    def prepare_model(self, model: nn.Module, ctx: StrategyContext | None) -> nn.Module:
        if ctx is None:
            raise ValueError(f"{self.name} needs a StrategyContext to keep its reference weights")
        new = set(head_params(model))
        covered = penalised_params(model, self.norm_and_bias)
        ctx.state["reference"] = {
            n: p.detach().clone() for n, p in model.named_parameters() if n in covered and n not in new
        }
        ctx.state["head"] = [n for n, _ in model.named_parameters() if n in covered and n in new]
        return model

    def terms(self, model: nn.Module, ctx: StrategyContext) -> tuple[torch.Tensor, torch.Tensor]:
        """The two penalties before α and β: distance to w⁰ over the pretrained part, size of the new head."""
        named = dict(model.named_parameters())
        if "reference" not in ctx.state:
            raise RuntimeError(f"{self.name}: prepare_model must run before training (it copies w⁰)")
        reference = ctx.state["reference"]
        device = next(iter(named.values())).device
        if reference and next(iter(reference.values())).device != device:  # the model moved after prepare
            reference = ctx.state["reference"] = {n: r.to(device) for n, r in reference.items()}
        zero = torch.zeros((), device=device)
        drift = sum((self._norm(named[n] - r) for n, r in reference.items()), zero)
        head = sum((self._norm(named[n]) for n in ctx.state["head"]), zero)
        return drift, head

    def extra_loss(self, model: nn.Module, ctx: StrategyContext) -> torch.Tensor:
        drift, head = self.terms(model, ctx)
        return self.alpha * drift + self.beta * head

    def on_epoch_start(self, model: nn.Module, epoch: int, ctx: StrategyContext) -> None:
        with torch.no_grad():
            drift, head = self.terms(model, ctx)
        ctx.records.setdefault("penalty", []).append(
            {"epoch": epoch, "drift": drift.item(), "head": head.item()}
        )


_CARD = """
    Trains: every layer and the new head; the loss adds the penalty above, toward the frozen copy w⁰ of the
    starting weights (ImageNet, or a parent cell's checkpoint). `strategy_log.penalty` records both terms
    (without α, β) at the start of each epoch. Davila calls α and β "arbitrary positive coefficients" and does
    not report them; `norm_and_bias: false` (see the module).
"""


@registered
@dataclass(frozen=True)
class L2SP(_StartingPoint):
    __doc__ = (
        "L2-SP: loss + α/2‖w_s − w⁰_s‖²₂ + β/2‖w_head‖²₂ (Davila §3.1.7; Li et al. 2018).\n"
        + _CARD
        + "    Defaults: α = 0.1, β = 0.01, from the run script of Li et al.'s released code (holyseven/\n"
        "    TransferLearningClassification, train.sh: `--weight_decay_mode 1 --weight_decay_rate 0.1\n"
        "    --weight_decay_rate2 0.01`, mode 1 = L2-SP).\n"
    )
    name = "l2-sp"
    label = "L2-SP"
    order = 2


@registered
@dataclass(frozen=True)
class L1SP(_StartingPoint):
    __doc__ = (
        "L1-SP: loss + α‖w_s − w⁰_s‖₁ + β‖w_head‖₁ (Davila §3.1.6; Li et al. 2018).\n"
        + _CARD
        + "    Defaults: α = 1e-4, β = 1e-3. Li et al.'s released code implements L1-SP (network_base.py, mode 4)\n"
        "    but its script sets rates only for L2-SP (0.1, 0.01) and for plain weight decay on the same layers\n"
        "    (train.sh, mode 0: `--weight_decay_rate 0.0001 --weight_decay_rate2 0.001`); we take the latter.\n"
        "    L2-SP's 0.1 does not carry over: an L1 pull has a constant gradient α per weight however close it is,\n"
        "    and after one epoch of EfficientNet-Lite0 (results/cpu-strategies, protocol 1) α = 0.1 made the term\n"
        "    80× the cross-entropy (0.1 × 466 vs 0.585), pinning the backbone; 1e-4 makes it 8% (0.047).\n"
    )
    name = "l1-sp"
    label = "L1-SP"
    order = 1
    alpha: float = 1e-4
    beta: float = 1e-3
