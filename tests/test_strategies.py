"""Every registered strategy through the real loop on a tiny model, plus each family's own arithmetic by hand."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import timm
import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

import suite.train.loop
from suite.data.dataset import load_task_data
from suite.errors import UserError
from suite.matrix.schema import TrainConfig
from suite.models.blocks import Block, param_blocks
from suite.models.normalise import Normalise
from suite.strategies import STRATEGIES, StrategyContext
from suite.strategies.gradual import epochs_of
from suite.strategies.regularised import L1SP, L2SP
from suite.strategies.rgn import AutoRGN, normalise, relative_gradient_norms
from suite.train import build_optimizer, fit, seed_everything

EPOCHS = 3
ALL = ["stem", "block1", "block2", "block3", "block4", "head"]  # resnet10t
SCHEDULES = {  # blocks that train at epochs 1, 2, 3 (defaults: one epoch per step; LP for 10% of 3 → 1 epoch)
    "g-lf": [["head"], ["block4", "head"], ["block3", "block4", "head"]],
    "g-fl": [["stem", "head"], ["stem", "block1", "head"], ["stem", "block1", "block2", "head"]],
    "lp-ft": [["head"], ALL, ALL],
}


@pytest.fixture(scope="module")
def tiny_data():
    return load_task_data("synthetic-vessels", 32)


def run_fit(name: str, data, cfg: TrainConfig, **params):
    """`fit` with a probe after every epoch: the declared trainable set and the parameters it left untouched."""
    seed_everything(0)
    model = timm.create_model("resnet10t", pretrained=False, num_classes=2)
    strategy = STRATEGIES.get(name)(**params)
    ctx = StrategyContext(param_blocks(model), 2, cfg.epochs)
    model = strategy.prepare_model(model, ctx)
    seen = []
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def probe(entry):
        declared = strategy.trainable(model, entry["epoch"], ctx)
        declared = {n for n, _ in model.named_parameters()} if declared is None else declared
        now = model.state_dict()
        changed = {k for k, v in now.items() if not torch.equal(v, before[k])}
        flags = {n for n, p in model.named_parameters() if p.requires_grad}
        seen.append((declared, flags, changed, frozen_bn_buffers(model)))
        before.update({k: v.detach().clone() for k, v in now.items()})

    outcome = fit(
        model, Normalise((0.5,) * 3, (0.5,) * 3), strategy, ctx, data, cfg, torch.device("cpu"), probe
    )
    return outcome, seen, ctx


def frozen_bn_buffers(model: nn.Module) -> set[str]:
    """Buffer names of BatchNorm layers whose parameters are all frozen."""
    return {
        f"{name}.{b}"
        for name, m in model.named_modules()
        if isinstance(m, _BatchNorm) and not any(p.requires_grad for p in m.parameters())
        for b, _ in m.named_buffers()
    }


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_every_strategy_trains_exactly_what_it_declares(name, tiny_data):
    cfg = TrainConfig(epochs=EPOCHS, batch_size=22, lr=1e-3, image_size=32, threads=1)
    outcome, seen, ctx = run_fit(name, tiny_data, cfg)
    assert [b.name for b in ctx.blocks] == ALL
    assert outcome.epochs_run == EPOCHS and len(seen) == EPOCHS
    for epoch, (declared, flags, changed, frozen_bn) in enumerate(seen, start=1):
        moved = changed - buffers(changed)
        assert flags == declared, f"epoch {epoch}: requires_grad differs from the declaration"
        assert moved <= declared, f"epoch {epoch}: frozen parameters moved: {sorted(moved - declared)[:3]}"
        assert not changed & frozen_bn, f"epoch {epoch}: a frozen BatchNorm's statistics moved"
        assert moved, f"epoch {epoch}: nothing trained"
    if name in SCHEDULES:
        log = ctx.records["unfrozen"]
        assert [e["blocks"] for e in log] == SCHEDULES[name] and [e["epoch"] for e in log] == [1, 2, 3]
        for blocks, (declared, *_) in zip(SCHEDULES[name], seen):
            assert declared == ctx.blocks_params(b for b in ctx.blocks if b.name in blocks)
        assert ctx.records["blocks"]["block4"] == "layer4"


def buffers(names: set[str]) -> set[str]:
    return {
        n for n in names if n.rsplit(".", 1)[-1] in ("running_mean", "running_var", "num_batches_tracked")
    }


def fake_ctx(n_body: int, epochs: int) -> StrategyContext:
    blocks = [Block("stem", ("s",))] + [Block(f"block{i}", (f"b{i}",)) for i in range(1, n_body)]
    return StrategyContext([*blocks, Block("head", ("h",))], 2, epochs)


def test_gradual_schedules_with_steps_longer_than_an_epoch():
    ctx = fake_ctx(3, 20)
    glf = STRATEGIES.get("g-lf")(epochs_per_step=2)
    names = [[b.name for b in glf.unfrozen(e, ctx)] for e in range(1, 10)]
    assert names[:2] == [["head"]] * 2 and names[2] == ["block2", "head"]
    assert names[6:] == [["stem", "block1", "block2", "head"]] * 3
    gfl = STRATEGIES.get("g-fl")(epochs_per_step=0.1)  # 10% of 20 epochs = 2 per step
    assert [len(gfl.unfrozen(e, ctx)) for e in (1, 2, 3, 5, 20)] == [2, 2, 3, 4, 4]
    lpft = STRATEGIES.get("lp-ft")()
    assert [len(lpft.unfrozen(e, ctx)) for e in (1, 2, 3)] == [1, 1, 4]  # 10% of 20 epochs


def test_epochs_of():
    assert [epochs_of(v, 50) for v in (1, 5, 0.1, 0.5, 0.001)] == [1, 5, 5, 25, 1]


class Tiny(nn.Module):
    """A body (conv + BatchNorm) and a new head, small enough to compute penalties and RGN by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 1)
        self.bn = nn.BatchNorm2d(2)
        self.fc = nn.Linear(2, 2)

    def get_classifier(self) -> nn.Module:
        return self.fc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.bn(self.conv(x)).mean((2, 3)))


def set_(p: torch.Tensor, values) -> None:
    with torch.no_grad():
        p.copy_(torch.tensor(values, dtype=p.dtype).view_as(p))


@pytest.mark.parametrize("cls", [L2SP, L1SP])
def test_sp_penalty_equals_a_hand_computation(cls):
    model = Tiny()
    set_(model.conv.weight, [1.0, 2.0])
    strategy = cls(alpha=0.3, beta=0.05)
    ctx = StrategyContext([], 2, 1)
    strategy.prepare_model(model, ctx)  # w⁰ is frozen here
    set_(model.conv.weight, [1.5, 0.0])  # moves by +0.5, -2
    set_(model.fc.weight, [1.0, -2.0, 0.0, 3.0])
    set_(model.conv.bias, [7.0, 7.0])  # biases and BatchNorm are not penalised by default
    set_(model.bn.weight, [9.0, 9.0])
    if cls is L2SP:
        expected = 0.3 / 2 * (0.5**2 + 2**2) + 0.05 / 2 * (1 + 4 + 0 + 9)
    else:
        expected = 0.3 * (0.5 + 2) + 0.05 * (1 + 2 + 0 + 3)
    assert strategy.extra_loss(model, ctx).item() == pytest.approx(expected)
    everything = cls(alpha=0.3, beta=0.05, norm_and_bias=True)
    ctx_all = StrategyContext([], 2, 1)
    everything.prepare_model(model, ctx_all)
    set_(model.bn.bias, [1.0, 1.0])  # from 0: now counted in the drift term
    drift = 2 * (0.5 if cls is L2SP else 1.0)
    assert everything.terms(model, ctx_all)[0].item() == pytest.approx(drift)
    model.to("meta")  # as the cell moves the model to its device after prepare_model
    assert strategy.extra_loss(model, ctx).device.type == "meta"


def test_rgn_by_default_is_per_layer_and_leaves_the_new_head_at_the_base_lr():
    """Davila's Eq. 4 is per layer (weight and bias together). A new head's RGN dwarfs the backbone's; by default it
    trains at the base LR and the backbone is normalised on its own, so some backbone layer trains at the base LR."""
    model = Tiny()
    set_(model.conv.weight, [3.0, 4.0])
    set_(model.conv.bias, [0.0, 0.0])  # the layer's ‖w‖ = ‖(3, 4, 0, 0)‖ = 5
    grads = {
        "conv.weight": [0.3, 0.0],
        "conv.bias": [0.4, 0.0],
        "fc.weight": [1.0] * 4,
        "fc.bias": [9.0, 9.0],
    }
    for n, p in model.named_parameters():
        p.grad = torch.tensor(grads[n]).view_as(p) if n in grads else None
    rgn = relative_gradient_norms(model, "layer")
    assert set(rgn) == {"conv", "fc"} and rgn["conv"] == pytest.approx(0.5 / 5)
    assert rgn["fc"] > 10 * rgn["conv"]  # the new head dominates
    ctx = StrategyContext(param_blocks_of(model), 2, 1)
    assert AutoRGN().multipliers(rgn, ctx) == pytest.approx({"conv": 1.0, "fc": 1.0})
    assert AutoRGN(head="rgn").multipliers(rgn, ctx)["conv"] == pytest.approx(rgn["conv"] / rgn["fc"])
    optimizer = build_optimizer(model, AutoRGN(), ctx, TrainConfig(lr=0.1))
    assert len(optimizer.param_groups) == 3  # conv, bn, fc: one group per layer


def test_rgn_multipliers_equal_the_normalised_ratio_by_hand():
    model = Tiny()
    set_(model.conv.weight, [3.0, 4.0])  # ‖w‖ = 5
    set_(model.conv.bias, [1.0, 0.0])  # ‖w‖ = 1
    set_(model.fc.weight, [1.0, 0.0, 0.0, 1.0])  # ‖w‖ = √2
    set_(model.fc.bias, [0.0, 0.0])  # ‖w‖ = 0: undefined RGN
    grads = {
        "conv.weight": [0.5, 0.0],
        "conv.bias": [0.2, 0.0],
        "fc.weight": [0.1] * 4,
        "fc.bias": [1.0, 1.0],
    }
    for n, p in model.named_parameters():
        p.grad = torch.tensor(grads[n]).view_as(p) if n in grads else None
    rgn = relative_gradient_norms(model)
    assert rgn["conv.weight"] == pytest.approx(0.1) and rgn["conv.bias"] == pytest.approx(0.2)
    assert rgn["fc.weight"] == pytest.approx(0.2 / math.sqrt(2)) and math.isnan(rgn["fc.bias"])
    assert "bn.weight" not in rgn  # no gradient, no RGN
    scale = normalise(rgn)
    assert scale == pytest.approx(
        {"conv.weight": 0.5, "conv.bias": 1.0, "fc.weight": 1 / math.sqrt(2), "fc.bias": 1.0}
    )


def test_rgn_sets_group_lrs_under_the_schedule_and_averages_batches():
    """Per tensor, head included (the authors' code): the LRs follow the averaged, normalised RGN."""
    model = Tiny()
    strategy = AutoRGN(batches=2, unit="tensor", head="rgn")
    ctx = StrategyContext(param_blocks_of(model), 2, 3)
    optimizer = build_optimizer(model, strategy, ctx, TrainConfig(lr=0.1))
    assert len(optimizer.param_groups) == len(list(model.parameters()))
    strategy.on_epoch_start(model, 1, ctx)
    per_step = []
    for step, conv_grad in enumerate(([0.5, 0.0], [1.5, 0.0], [9.0, 9.0])):
        model.zero_grad()
        model(torch.randn(4, 1, 3, 3)).sum().backward()
        model.conv.weight.grad = torch.tensor(conv_grad).view_as(model.conv.weight)
        per_step.append(relative_gradient_norms(model))
        strategy.before_step(model, optimizer, ctx)  # no optimiser step here, so ‖w‖ stays put
        assert ctx.records["rgn"][-1]["batches"] == min(step + 1, 2)
    # the mean over the first `batches` = 2 steps, normalised; the third step no longer changes anything
    mean = normalise({n: (per_step[0][n] + per_step[1][n]) / 2 for n in per_step[0]})
    assert ctx.records["rgn"][0]["multipliers"] == pytest.approx(mean, rel=1e-3)
    lrs = {n: g["lr"] for n, g in zip(names_of(model), optimizer.param_groups)}
    assert lrs == pytest.approx({n: 0.1 * m for n, m in mean.items()})
    assert len(ctx.records["rgn"]) == 1
    for g in optimizer.param_groups:  # what StepLR does at an epoch end
        g["lr"] *= 0.5
    strategy.on_epoch_start(model, 2, ctx)
    model.zero_grad()
    model(torch.randn(4, 1, 3, 3)).sum().backward()
    strategy.before_step(model, optimizer, ctx)
    scale = ctx.records["rgn"][-1]["multipliers"]
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx(
        [0.05 * scale[n] for n in names_of(model)], rel=1e-3
    )


def names_of(model: nn.Module) -> list[str]:
    return [n for n, _ in model.named_parameters()]


def param_blocks_of(model: nn.Module) -> list[Block]:
    return [
        Block("stem", tuple(n for n in names_of(model) if not n.startswith("fc"))),
        Block("head", ("fc.weight", "fc.bias")),
    ]


def test_a_changed_trainable_set_restarts_patience(tiny_data, monkeypatch):
    """With a validation loss that never improves, FT stops after `patience` epochs; G-LF only `patience` epochs
    into its final phase (everything free), whose first epoch is its own best (train.checkpoint: final-phase)."""
    flat = SimpleNamespace(scalars={"loss": 1.0})
    monkeypatch.setattr(suite.train.loop, "evaluate", lambda *a, **k: (flat, None))
    cfg = TrainConfig(
        epochs=12, batch_size=64, lr=1e-3, image_size=32, threads=1, early_stopping={"patience": 2}
    )
    ft, *_ = run_fit("ft", tiny_data, cfg)
    glf, _, ctx = run_fit("g-lf", tiny_data, cfg)
    assert ft.epochs_run == 3 and ft.stop_reason == "early_stopping"
    assert glf.epochs_run == len(ctx.blocks) + 2 and glf.stop_reason == "early_stopping"
    assert glf.best_epoch == len(ctx.blocks) and glf.best_phase == glf.phases == len(ctx.blocks)


@pytest.mark.parametrize(
    ("entry", "needle"),
    [
        ("{name: l2-sp, params: {alpha: -1}}", "alpha must be a number >= 0"),
        ("{name: lp-ft, params: {lp_epochs: 2.5}}", "lp_epochs must be a whole number"),
        ("{name: g-lf, params: {epochs_per_stp: 2}}", "did you mean 'epochs_per_step'"),
        ("{name: auto-rgn, params: {batches: 0}}", "batches must be a whole number >= 1"),
    ],
)
def test_bad_strategy_params_are_one_line_user_errors(entry, needle, matrix_file):
    from suite.catalog import SuiteCatalog
    from suite.matrix import load_matrix

    text = f"datasets: [synthetic-vessels]\narchitectures: [resnet18]\nstrategies: [{entry}]\nseeds: [0]\n"
    with pytest.raises(UserError, match=needle) as err:
        load_matrix(str(matrix_file(text)), SuiteCatalog())
    assert "m.yaml:3" in str(err.value) and "\n" not in str(err.value)


def test_strategy_params_from_yaml_reach_the_cell_config(matrix_file):
    from suite.catalog import SuiteCatalog
    from suite.matrix import load_matrix

    text = (
        "datasets: [synthetic-vessels]\narchitectures: [resnet18]\nseeds: [0]\n"
        "strategies: [l2-sp, {name: l2-sp, params: {alpha: 0.01}}, {name: lp-ft, params: {lp_epochs: 5}}]\n"
    )
    cells = load_matrix(str(matrix_file(text)), SuiteCatalog()).cells
    params = [c.config.strategy.params for c in cells]
    assert params == [
        {"alpha": 0.1, "beta": 0.01, "norm_and_bias": False},
        {"alpha": 0.01, "beta": 0.01, "norm_and_bias": False},
        {"lp_epochs": 5},
    ]
    assert len({c.id for c in cells}) == 3


def test_l1_sp_defaults_come_from_the_authors_weight_decay_rates_not_l2_sps():
    """α = 0.1 (L2-SP's) made the L1 term 80× the cross-entropy after one epoch; the default is Li et al.'s
    released rate for the same layers' weight decay, and the card says where it comes from."""
    assert (L1SP().alpha, L1SP().beta) == (1e-4, 1e-3) and (L2SP().alpha, L2SP().beta) == (0.1, 0.01)
    assert "train.sh" in L1SP.__doc__ and "80×" in L1SP.__doc__
