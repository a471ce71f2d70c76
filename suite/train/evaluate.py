"""Loss, scores and metrics of a split, in eval mode: on images, or on a frozen backbone's cached features."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from suite.data.dataset import Split, TaskData
from suite.matrix.schema import TrainConfig
from suite.metrics import MetricReport, compute_metrics
from suite.models.normalise import Normalise


def task_loss(task: str, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    if task == "multilabel":
        return F.binary_cross_entropy_with_logits(logits, targets.float())
    return F.cross_entropy(logits, targets)


def _scores(task: str, logits: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(logits) if task == "multilabel" else torch.softmax(logits, dim=1)


@torch.no_grad()
def predict(
    model: nn.Module,
    norm: Normalise,
    split: Split,
    task: str,
    cfg: TrainConfig,
    device,
    features: torch.Tensor | None = None,
) -> tuple:
    """Mean loss, probabilities (N×K) and targets over a split, in eval mode. With `features` (the frozen
    backbone's cached vectors of this split, suite/train/features.py) only the classifier runs."""
    model.eval()
    head = model.get_classifier() if features is not None else None
    inputs = split.images if features is None else features
    amp = cfg.uses_amp(device.type) and head is None
    losses, scores = [], []
    for start in range(0, len(split), cfg.eval_batch_size):
        x = inputs[start : start + cfg.eval_batch_size].to(device)
        y = split.targets[start : start + cfg.eval_batch_size].to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            logits = (model(norm(x)) if head is None else head(x)).float()
        losses.append(task_loss(task, logits, y).item() * len(x))
        scores.append(_scores(task, logits).cpu())
    return sum(losses) / len(split), torch.cat(scores).numpy(), split.targets.cpu().numpy()


def evaluate(
    model, norm, split: Split, data: TaskData, cfg: TrainConfig, device, features: torch.Tensor | None = None
) -> tuple[MetricReport, Any]:
    loss, scores, targets = predict(model, norm, split, data.entry.task, cfg, device, features)
    report = compute_metrics(data.entry.task, targets, scores, data.entry.classes)
    report.scalars["loss"] = loss
    return report, (scores, targets)
