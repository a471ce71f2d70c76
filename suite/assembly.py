"""A cell's model, assembled one way for everyone: the runner trains it, `profile` measures it, the analyses reload it.

spec      = the architecture as the cell resolved it (timm model, weights, input size, LR)
model     = timm model with a new head, from the cell's source (scratch, ImageNet, or the parent's checkpoint)
strategy  = the strategy the config names, with its parameters
model     = strategy.prepare_model(model)   (truncation, halving, adapters), then its epoch-1 trainable set
norm      = the input normalisation the weights expect
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from suite.matrix.cell import CellConfig, StrategyRef
from suite.models.blocks import param_blocks
from suite.models.build import build_model
from suite.models.catalog import ArchSpec, resolve_architecture
from suite.models.normalise import Normalise
from suite.models.trainable import apply_trainable
from suite.models.weights import preprocessing
from suite.strategies import STRATEGIES, Strategy, StrategyContext


def strategy_of(ref: StrategyRef) -> Strategy:
    """The strategy instance a cell config names (the one place it is rebuilt from the config)."""
    return STRATEGIES.get(ref.name)(variant=ref.variant, **ref.params)


def arch_spec(config: CellConfig) -> ArchSpec:
    """The architecture as the cell resolved it: its weights, and its training image size and LR."""
    a, train = config.architecture, config.train
    return resolve_architecture(a.name, weights=a.weights, input_size=train.image_size, lr=train.lr)


def prepare_strategy(
    model: nn.Module,
    strategy: Strategy,
    num_classes: int,
    epochs: int,
    image_size: int | None = None,
    *,
    trainable: bool = True,
) -> tuple[nn.Module, StrategyContext]:
    """`prepare_model`, then (with `trainable`) the epoch-1 trainable set: the model as the strategy trains it and
    as it is profiled. Without it every parameter keeps `requires_grad`, as gradient-based analyses (CAM) need."""
    ctx = StrategyContext(param_blocks(model), num_classes, epochs, image_size=image_size)
    model = strategy.prepare_model(model, ctx)
    ctx.blocks = param_blocks(model)
    if trainable:
        apply_trainable(model, strategy.trainable(model, 1, ctx))
    return model, ctx


def source_model(config: CellConfig, num_classes: int, parents: dict[str, str]) -> nn.Module:
    """The cell's model before its strategy: its source weights (ImageNet, the parent's checkpoint, or the
    initialisation the global RNG gives for scratch) and a new head of `num_classes`."""
    spec, source = arch_spec(config), config.source
    if source.parent is not None:
        return build_model(spec, num_classes, "checkpoint", Path(parents[source.parent]))
    return build_model(spec, num_classes, source.name)


@dataclass
class Assembled:
    """A cell's model as its strategy trains it, with everything the loop and the profilers need beside it."""

    spec: ArchSpec
    model: nn.Module
    strategy: Strategy
    ctx: StrategyContext
    norm: Normalise

    @property
    def image_size(self) -> int:
        return self.spec.input_size


def assemble(config: CellConfig, num_classes: int, parents: dict[str, str]) -> Assembled:
    """The cell's model from its source, prepared by its strategy (run_cell's model)."""
    strategy = strategy_of(config.strategy)
    model = source_model(config, num_classes, parents)
    return _prepared(config, model, strategy, num_classes)


def _prepared(
    config: CellConfig, model: nn.Module, strategy: Strategy, num_classes: int, trainable: bool = True
) -> Assembled:
    spec, train = arch_spec(config), config.train
    model, ctx = prepare_strategy(
        model, strategy, num_classes, train.epochs, train.image_size, trainable=trainable
    )
    return Assembled(spec, model, strategy, ctx, Normalise(*preprocessing(spec)))


def load_trained(config: CellConfig, checkpoint: Path) -> Assembled:
    """A finished cell's model with its best weights, in eval mode: random weights of the right structure (no
    download), the strategy's surgery (TTL's truncation, TF's halving, LoRA's adapters), then the checkpoint."""
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    model = build_model(arch_spec(config), saved["num_classes"], "scratch")
    built = _prepared(config, model, strategy_of(config.strategy), saved["num_classes"], trainable=False)
    built.model.load_state_dict(saved["state_dict"])
    built.model.eval()
    return built
