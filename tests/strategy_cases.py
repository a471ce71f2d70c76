"""Tiny models and one training step, shared by the structural, layer-wise and LoRA strategy tests."""

from __future__ import annotations

import timm
import torch
import torch.nn.functional as F
from timm.models.densenet import DenseNet
from torch import nn

from suite.assembly import prepare_strategy
from suite.matrix.schema import TrainConfig
from suite.models.trainable import apply_trainable, freeze_frozen_modules
from suite.strategies import STRATEGIES, Strategy, StrategyContext
from suite.train import build_optimizer

NUM_CLASSES = 3
SIZE = 32


def tiny_resnet() -> nn.Module:
    """ResNet-18's layout (2 basic blocks per stage, so layer cuts exist) at 8–64 channels."""
    torch.manual_seed(0)
    return timm.create_model(
        "resnet18", pretrained=False, num_classes=NUM_CLASSES, channels=(8, 16, 32, 64), stem_width=8
    )


def tiny_densenet() -> nn.Module:
    """DenseNet with 2-3 dense layers per block and growth 4."""
    torch.manual_seed(0)
    return DenseNet(growth_rate=4, block_config=(2, 3, 3, 2), num_classes=NUM_CLASSES)


def efficientnet() -> nn.Module:
    """EfficientNet-B0 at full width (5.3 M parameters; a step at SIZE px is quick): taps skip blocks.3 and blocks.5."""
    torch.manual_seed(0)
    return timm.create_model("efficientnet_b0", pretrained=False, num_classes=NUM_CLASSES)


def tiny_vit() -> nn.Module:
    torch.manual_seed(0)
    return timm.create_model("test_vit", pretrained=False, num_classes=NUM_CLASSES, img_size=SIZE)


def prepared(name: str, variant: str | None, make=tiny_resnet, **params):
    """(model, strategy, ctx) the way a cell prepares them."""
    strategy: Strategy = STRATEGIES.get(name)(variant=variant, **params)
    model, ctx = prepare_strategy(make(), strategy, NUM_CLASSES, 2, SIZE, trainable=False)
    return model, strategy, ctx


def one_step(model: nn.Module, strategy: Strategy, ctx: StrategyContext) -> set[str]:
    """Apply the declared trainable set, then one optimiser step on a random batch; returns the trainable names."""
    declared = strategy.trainable(model, 1, ctx)
    apply_trainable(model, declared)
    optimizer = build_optimizer(model, strategy, ctx, TrainConfig(lr=1e-2, image_size=SIZE))
    model.train()
    freeze_frozen_modules(model)
    torch.manual_seed(1)
    x, y = torch.randn(4, 3, SIZE, SIZE), torch.tensor([0, 1, 2, 0])
    loss = F.cross_entropy(model(x), y)
    extra = strategy.extra_loss(model, ctx)
    (loss if extra is None else loss + extra).backward()
    strategy.before_step(model, optimizer, ctx)
    optimizer.step()
    return declared if declared is not None else {n for n, _ in model.named_parameters()}
