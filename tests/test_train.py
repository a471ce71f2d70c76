"""The training loop on a tiny model: determinism, frozen weights, early stopping, the best checkpoint."""

from __future__ import annotations

import pytest
import torch

from suite.data.dataset import load_task_data
from suite.matrix.schema import TrainConfig
from suite.models.blocks import param_blocks
from suite.models.normalise import Normalise
from suite.models.trainable import apply_trainable
from suite.strategies import STRATEGIES, StrategyContext
from suite.train import Monitor as _Monitor
from suite.train import build_scheduler, evaluate, fit, seed_everything


def tiny_model():
    import timm

    return timm.create_model("resnet10t", pretrained=False, num_classes=2)


def run(strategy_name: str, seed: int = 0, **train):
    cfg = TrainConfig(**{"epochs": 2, "batch_size": 16, "lr": 1e-3, "image_size": 32, **train})
    seed_everything(seed)
    data = load_task_data("synthetic-vessels", 32)
    model = tiny_model()
    strategy = STRATEGIES.get(strategy_name)()
    ctx = StrategyContext(param_blocks(model), 2, cfg.epochs)
    model = strategy.prepare_model(model, ctx)  # as run_cell does
    ctx.blocks = param_blocks(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    norm = Normalise((0.5,) * 3, (0.5,) * 3)
    outcome = fit(model, norm, strategy, ctx, data, cfg, torch.device("cpu"))
    report, _ = evaluate(model, norm, data.splits["val"], data, cfg, torch.device("cpu"))
    return outcome, report, before, model


def test_same_seed_same_metrics():
    a, ra, _, _ = run("ft", seed=3)
    b, rb, _, _ = run("ft", seed=3)
    assert [h["train_loss"] for h in a.history] == [h["train_loss"] for h in b.history]
    assert ra.scalars.keys() == rb.scalars.keys()
    assert all(
        ra.scalars[k] == rb.scalars[k] or (ra.scalars[k] != ra.scalars[k] and rb.scalars[k] != rb.scalars[k])
        for k in ra.scalars
    )


def test_linear_probe_changes_only_the_head():
    _, _, before, model = run("lp")
    head = set(param_blocks(model)[-1].params)
    after = model.state_dict()
    for name, _ in model.named_parameters():
        same = torch.equal(before[name], after[name])
        assert same != (name in head), name
    running = [k for k in before if k.endswith("running_mean")]
    assert running and all(
        torch.equal(before[k], after[k]) for k in running
    )  # frozen BN keeps its statistics


def test_best_epoch_and_early_stopping():
    cfg = dict(early_stopping={"patience": 1}, epochs=6)
    outcome, _, _, _ = run("ft", **{k: v for k, v in cfg.items() if k != "epochs"})
    assert 1 <= outcome.best_epoch <= outcome.epochs_run
    assert outcome.history[outcome.best_epoch - 1]["best"]


def test_apply_trainable_counts():
    model = tiny_model()
    head = set(param_blocks(model)[-1].params)
    n = apply_trainable(model, head)
    assert n == sum(p.numel() for p in model.get_classifier().parameters())
    assert apply_trainable(model, None) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_every_strategy_steps_on_a_tiny_batch(name):
    outcome, report, _, _ = run(name)
    assert outcome.epochs_run == 2 and 0.0 <= report.scalars["accuracy"] <= 1.0


def test_the_model_returned_is_the_best_validation_epoch():
    """After fit, evaluating the model on validation gives the best epoch's logged loss: the test split is then
    evaluated at the best checkpoint, not at the last epoch."""
    outcome, report, _, _ = run("ft", epochs=4, early_stopping={"patience": None})
    assert outcome.epochs_run == 4 and outcome.best_state is not None
    best = outcome.history[outcome.best_epoch - 1]
    assert best["best"] and best["val_loss"] == min(h["val_loss"] for h in outcome.history)
    assert report.scalars["loss"] == pytest.approx(best["val_loss"], rel=1e-6)


def test_step_scheduler_halves_the_lr_on_schedule():
    outcome, _, _, _ = run(
        "ft",
        epochs=3,
        scheduler={"name": "step", "step_size": 1, "gamma": 0.5},
        early_stopping={"patience": None},
    )
    assert [h["lr"] for h in outcome.history] == pytest.approx([1e-3, 5e-4, 2.5e-4])


def test_plateau_scheduler_follows_the_monitored_metric_direction():
    model = tiny_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for monitor, mode in (("loss", "min"), ("auroc", "max")):
        cfg = TrainConfig(monitor=monitor, scheduler={"name": "plateau", "factor": 0.1, "patience": 0})
        scheduler = build_scheduler(optimizer, cfg)
        assert isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau) and scheduler.mode == mode


def test_early_stopping_delta_and_patience():
    cfg = TrainConfig(early_stopping={"patience": 2, "delta": 0.1})
    monitor = _Monitor(cfg)  # monitor: loss, lower is better
    assert monitor.improved(1.0)
    assert not monitor.improved(0.95)  # better, but by less than delta
    assert monitor.improved(0.85) and not monitor.exhausted
    assert not monitor.improved(float("nan")) and not monitor.improved(0.9)
    assert monitor.exhausted  # two epochs without an improvement of more than delta
    monitor.restart_patience()  # a new trainable set (gradual unfreezing) gets its own patience
    assert not monitor.exhausted and monitor.best == 0.85
