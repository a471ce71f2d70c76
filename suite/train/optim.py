"""The optimiser over a strategy's parameter groups, and the LR schedule."""

from __future__ import annotations

import torch
from torch import nn

from suite.matrix.schema import TrainConfig
from suite.metrics import METRICS
from suite.strategies.base import Strategy, StrategyContext


def build_optimizer(model: nn.Module, strategy: Strategy, ctx: StrategyContext, cfg: TrainConfig):
    named = dict(model.named_parameters())
    groups = strategy.param_groups(model, ctx)
    listed = [n for g in groups for n in g["params"]]
    if sorted(listed) != sorted(named):
        raise RuntimeError(f"{strategy.name}: param_groups must list every parameter exactly once")
    torch_groups = [{"params": [named[n] for n in g["params"]], "lr": cfg.lr * g["lr_scale"]} for g in groups]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(torch_groups, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return cls(torch_groups, lr=cfg.lr, weight_decay=cfg.weight_decay)


def build_scheduler(optimizer, cfg: TrainConfig):
    s = cfg.scheduler
    if s.name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=s.step_size, gamma=s.gamma)
    if s.name == "plateau":
        mode = "max" if METRICS.get(cfg.monitor).higher_is_better else "min"
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode=mode, factor=s.factor, patience=s.patience
        )
    return None
