"""Multi-phase strategies report their final phase (issue 16.1), and a diverging run stops or is flagged (19.4).

The validation "metric" is planted (monkeypatched `evaluate`), so each test decides which epoch is best.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import timm
import torch

import suite.train.loop
from suite.data.dataset import load_task_data
from suite.errors import TrainingDiverged
from suite.matrix.schema import TrainConfig
from suite.models.blocks import param_blocks
from suite.models.normalise import Normalise
from suite.strategies import STRATEGIES, StrategyContext
from suite.train import Phases, fit, seed_everything


@pytest.fixture(scope="module")
def tiny_data():
    return load_task_data("synthetic-vessels", 32)


def run(name: str, data, cfg: TrainConfig, **params):
    seed_everything(0)
    model = timm.create_model("resnet10t", pretrained=False, num_classes=2)
    strategy = STRATEGIES.get(name)(**params)
    ctx = StrategyContext(param_blocks(model), 2, cfg.epochs)
    model = strategy.prepare_model(model, ctx)
    norm = Normalise((0.5,) * 3, (0.5,) * 3)
    return fit(model, norm, strategy, ctx, data, cfg, torch.device("cpu")), ctx


def planted(monkeypatch, losses: list[float]) -> None:
    """Validation loss `losses[epoch - 1]` at each epoch."""
    calls = iter(losses)
    monkeypatch.setattr(
        suite.train.loop, "evaluate", lambda *a, **k: (SimpleNamespace(scalars={"loss": next(calls)}), None)
    )


def cfg(epochs: int, **extra) -> TrainConfig:
    return TrainConfig(
        **{"epochs": epochs, "batch_size": 64, "lr": 1e-3, "image_size": 32, "threads": 1, **extra}
    )


def test_phases_follow_the_trainable_set():
    model = timm.create_model("resnet10t", pretrained=False, num_classes=2)
    ctx = StrategyContext(param_blocks(model), 2, 8)
    glf = Phases.of(STRATEGIES.get("g-lf")(), model, ctx, 8)
    assert glf.of_epoch == (1, 2, 3, 4, 5, 6, 6, 6) and glf.final == 6 and glf.final_start == 6
    lpft = Phases.of(STRATEGIES.get("lp-ft")(lp_epochs=3), model, ctx, 8)
    assert lpft.of_epoch == (1, 1, 1, 2, 2, 2, 2, 2) and lpft.final_start == 4
    assert Phases.of(STRATEGIES.get("ft")(), model, ctx, 8).of_epoch == (1,) * 8


def test_a_best_epoch_in_the_head_only_phase_is_not_reported(tiny_data, monkeypatch):
    """The planted best validation loss is at epoch 1, when LP-FT trains the head alone: by default the result
    comes from the final (fine-tuning) phase; `checkpoint: any-phase` keeps epoch 1 and says so."""
    losses = [0.10, 0.9, 0.5, 0.6, 0.7, 0.8]
    planted(monkeypatch, losses)
    final, _ = run("lp-ft", tiny_data, cfg(6), lp_epochs=2)
    assert final.phases == 2 and final.best_phase == 2 and final.best_epoch == 3
    assert [h["phase"] for h in final.history] == [1, 1, 2, 2, 2, 2]
    head = 512 * 2 + 2
    assert final.trained_params > head  # the kept weights trained the whole network, not only the head
    planted(monkeypatch, losses)
    anyphase, _ = run("lp-ft", tiny_data, cfg(6, checkpoint="any-phase"), lp_epochs=2)
    assert anyphase.best_epoch == 1 and anyphase.best_phase == 1 and anyphase.trained_params == head


def test_early_stopping_waits_for_the_final_phase(tiny_data, monkeypatch):
    """A long probe phase with a flat loss must not end the run before fine-tuning starts."""
    planted(monkeypatch, [0.5] * 10)
    outcome, _ = run("lp-ft", tiny_data, cfg(10, early_stopping={"patience": 2}), lp_epochs=5)
    assert outcome.epochs_run == 8 and outcome.best_epoch == 6 and outcome.stop_reason == "early_stopping"


def test_a_nan_loss_stops_the_cell_at_its_epoch_and_step(tiny_data):
    """LR 1e30: the first step's update makes the weights overflow, and training stops at the first sign of it,
    never training on to fail on NaN scores at the end."""
    with pytest.raises(TrainingDiverged, match=r"(at epoch 1, step \d+|after epoch 1) .*diverged"):
        run("ft", tiny_data, cfg(3, lr=1e30, optimizer="sgd", batch_size=16))


def test_a_finite_but_absurd_loss_is_flagged():
    from suite.results import SplitMetrics
    from suite.runner.cell import Scores, chance_loss, diverged_warning

    data = SimpleNamespace(entry=SimpleNamespace(task="binary"), num_outputs=2)
    assert chance_loss(data) == pytest.approx(math.log(2))
    high = Scores(metrics={"val": SplitMetrics(scalars={"loss": 1e16})})
    assert "diverged" in diverged_warning(high, data)
    assert diverged_warning(Scores(metrics={"val": SplitMetrics(scalars={"loss": 0.7})}), data) is None
