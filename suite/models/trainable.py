"""Which parameters train: set from a strategy's declaration, and fully frozen parts of the model kept in eval mode.

The training loop applies these every epoch; cell assembly applies epoch 1's set before profiling, and the
profiler's synthetic training steps keep frozen parts frozen the same way.
"""

from __future__ import annotations

from torch import nn


def apply_trainable(model: nn.Module, names: set[str] | None) -> int:
    """Set requires_grad from the strategy's declaration; returns the number of trainable parameters."""
    count = 0
    for name, p in model.named_parameters():
        p.requires_grad_(names is None or name in names)
        count += p.numel() if p.requires_grad else 0
    return count


def freeze_frozen_modules(model: nn.Module) -> None:
    """Every part of the model whose parameters are all frozen runs in eval mode: frozen means it computes the same
    function at every step, so its BatchNorm statistics do not move and its dropout and stochastic depth are off
    (a linear probe trains on the features a frozen backbone gives in eval mode, which the feature cache stores).
    Call it after `model.train()`."""
    for m in model.modules():
        params = list(m.parameters())
        if params and not any(p.requires_grad for p in params):
            m.eval()
