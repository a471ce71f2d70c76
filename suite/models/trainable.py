"""Which parameters train: set from a strategy's declaration, and fully frozen BatchNorm layers kept in eval mode.

The training loop applies these every epoch; cell assembly applies epoch 1's set before profiling, and the
profiler's synthetic training steps keep frozen BatchNorm layers frozen the same way.
"""

from __future__ import annotations

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def apply_trainable(model: nn.Module, names: set[str] | None) -> int:
    """Set requires_grad from the strategy's declaration; returns the number of trainable parameters."""
    count = 0
    for name, p in model.named_parameters():
        p.requires_grad_(names is None or name in names)
        count += p.numel() if p.requires_grad else 0
    return count


def freeze_frozen_batchnorm(model: nn.Module) -> None:
    """Fully frozen BatchNorm layers stay in eval mode: frozen means their statistics do not move either."""
    for m in model.modules():
        params = list(m.parameters(recurse=False))
        if isinstance(m, _BatchNorm) and params and not any(p.requires_grad for p in params):
            m.eval()
