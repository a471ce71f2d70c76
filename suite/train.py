"""The one training loop. It knows nothing about any particular strategy; strategies act only through their hooks.

seed everything; model = strategy.prepare_model(model)
optimiser over strategy.param_groups (frozen parameters get no gradient, hence no update)
for epoch in 1..epochs:
    requires_grad ← strategy.trainable(epoch)          # the one place trainability is decided
    (a changed trainable set starts a new phase: early-stopping patience restarts)
    strategy.on_epoch_start(epoch)
    for batch: loss = task loss + strategy.extra_loss; backward; strategy.before_step; step
    validate → monitor; scheduler step; keep the best state; early stopping (patience, delta)
restore the best state; evaluate the test split there
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms.v2 import functional as TF
from tqdm import tqdm

from suite.data.dataset import Split, TaskData
from suite.matrix.schema import Augment, TrainConfig
from suite.metrics import METRICS, MetricReport, compute_metrics
from suite.models.normalise import Normalise
from suite.models.trainable import apply_trainable, freeze_frozen_batchnorm
from suite.strategies.base import Strategy, StrategyContext

Progress = Callable[[int, int, dict[str, Any]], None]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False


def pick_device(cfg: TrainConfig) -> torch.device:
    if cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def augment(x: torch.Tensor, cfg: Augment) -> torch.Tensor:
    """Per-sample random flips, padded crops and rotations on a uint8 batch (uses the seeded global RNG)."""
    n = x.shape[0]
    if cfg.hflip:
        x = torch.where((torch.rand(n) < 0.5)[:, None, None, None], x.flip(-1), x)
    if cfg.vflip:
        x = torch.where((torch.rand(n) < 0.5)[:, None, None, None], x.flip(-2), x)
    if cfg.crop_padding:
        p, (h, w) = cfg.crop_padding, x.shape[-2:]
        padded = F.pad(x, (p, p, p, p), mode="reflect" if x.is_floating_point() else "constant")
        offsets = torch.randint(0, 2 * p + 1, (n, 2))
        x = torch.stack([padded[i, :, a : a + h, b : b + w] for i, (a, b) in enumerate(offsets.tolist())])
    if cfg.rotate:
        angles = (torch.rand(n) * 2 - 1) * cfg.rotate
        x = torch.stack([TF.rotate(img, float(a)) for img, a in zip(x, angles)])
    return x


def _loss(task: str, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    if task == "multilabel":
        return F.binary_cross_entropy_with_logits(logits, targets.float())
    return F.cross_entropy(logits, targets)


def _scores(task: str, logits: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(logits) if task == "multilabel" else torch.softmax(logits, dim=1)


@torch.no_grad()
def predict(model: nn.Module, norm: Normalise, split: Split, task: str, cfg: TrainConfig, device) -> tuple:
    """Mean loss, probabilities (N×K) and targets over a split, in eval mode."""
    model.eval()
    losses, scores = [], []
    for start in range(0, len(split), cfg.eval_batch_size):
        x = split.images[start : start + cfg.eval_batch_size].to(device)
        y = split.targets[start : start + cfg.eval_batch_size].to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.amp and device.type == "cuda"):
            logits = model(norm(x)).float()
        losses.append(_loss(task, logits, y).item() * len(x))
        scores.append(_scores(task, logits).cpu())
    return sum(losses) / len(split), torch.cat(scores).numpy(), split.targets.numpy()


def evaluate(model, norm, split: Split, data: TaskData, cfg: TrainConfig, device) -> tuple[MetricReport, Any]:
    loss, scores, targets = predict(model, norm, split, data.entry.task, cfg, device)
    report = compute_metrics(data.entry.task, targets, scores, data.entry.classes)
    report.scalars["loss"] = loss
    return report, (scores, targets)


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


@dataclass
class FitOutcome:
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    epochs_run: int = 0
    stop_reason: str = "max_epochs"
    best_state: dict[str, torch.Tensor] | None = None
    train_seconds: float = 0.0
    throughput: float = float("nan")


class _Monitor:
    """Best-so-far tracking with patience and delta (delta 0: any strict improvement counts)."""

    def __init__(self, cfg: TrainConfig) -> None:
        self.higher = METRICS.get(cfg.monitor).higher_is_better
        self.delta, self.patience = cfg.early_stopping.delta, cfg.early_stopping.patience
        self.best, self.bad = -math.inf if self.higher else math.inf, 0

    def improved(self, value: float) -> bool:
        better = value > self.best + self.delta if self.higher else value < self.best - self.delta
        if not math.isnan(value) and better:
            self.best, self.bad = value, 0
            return True
        self.bad += 1
        return False

    def restart_patience(self) -> None:
        """A new training phase (the trainable set changed): patience counts from here; the best stays."""
        self.bad = 0

    @property
    def exhausted(self) -> bool:
        return self.patience is not None and self.bad >= self.patience


@dataclass
class _Run:
    """One `fit` call: the model and its strategy, the optimiser state, and what has been recorded so far."""

    model: nn.Module
    norm: nn.Module
    strategy: Strategy
    ctx: StrategyContext
    data: TaskData
    cfg: TrainConfig
    device: torch.device
    optimizer: torch.optim.Optimizer
    scheduler: Any
    monitor: _Monitor
    out: FitOutcome = field(default_factory=FitOutcome)
    phase: set[str] | None = None
    steady: list[float] = field(default_factory=lambda: [0.0, 0.0])  # images, seconds after epoch 1

    def start_epoch(self, epoch: int) -> int:
        """The strategy's trainable set for this epoch (a new set restarts patience), then its epoch hook."""
        trainable = self.strategy.trainable(self.model, epoch, self.ctx)
        if epoch > 1 and trainable != self.phase:
            self.monitor.restart_patience()
        self.phase = trainable
        n_trainable = apply_trainable(self.model, trainable)
        self.strategy.on_epoch_start(self.model, epoch, self.ctx)
        return n_trainable

    @classmethod
    def start(
        cls, model, norm, strategy: Strategy, ctx: StrategyContext, data: TaskData, cfg: TrainConfig, device
    ):
        """The optimiser over the strategy's parameter groups, the LR schedule and the early-stopping monitor."""
        optimizer = build_optimizer(model, strategy, ctx, cfg)
        scheduler = build_scheduler(optimizer, cfg)
        return cls(model, norm, strategy, ctx, data, cfg, device, optimizer, scheduler, _Monitor(cfg))

    def train_epoch(self, epoch: int) -> tuple[float, float]:
        """(mean training loss, seconds) of one pass over the training split."""
        start = time.perf_counter()
        n = len(self.data.splits["train"])
        with tqdm(
            total=n, desc=f"epoch {epoch}/{self.cfg.epochs}", unit="img", mininterval=10, leave=False
        ) as bar:
            loss = self._steps(bar)
        seconds = time.perf_counter() - start
        if epoch > 1 or self.cfg.epochs == 1:
            self.steady[0] += n
            self.steady[1] += seconds
        return loss, seconds

    def _steps(self, bar) -> float:
        """The optimisation steps of one epoch: task loss + the strategy's extra loss, its `before_step` hook."""
        model, cfg, device, task = self.model, self.cfg, self.device, self.data.entry.task
        model.train()
        freeze_frozen_batchnorm(model)
        split = self.data.splits["train"]
        order = torch.randperm(len(split))
        total, seen = 0.0, 0
        for idx in order.split(cfg.batch_size):
            if len(idx) < 2 and len(order) > 1:  # BatchNorm cannot train on a batch of one
                continue
            x = augment(split.images[idx], cfg.augment).to(device, non_blocking=True)
            y = split.targets[idx].to(device, non_blocking=True)
            if cfg.channels_last and device.type == "cuda":
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.amp and device.type == "cuda"):
                loss = _loss(task, model(self.norm(x)).float(), y)
            extra = self.strategy.extra_loss(model, self.ctx)
            full = loss if extra is None else loss + extra
            self.optimizer.zero_grad(set_to_none=True)
            full.backward()
            self.strategy.before_step(model, self.optimizer, self.ctx)
            self.optimizer.step()
            total, seen = total + loss.item() * len(idx), seen + len(idx)
            bar.update(len(idx))
        return total / max(seen, 1)

    def validate(self) -> tuple[MetricReport, float]:
        """The validation report, and the monitored value in it (NaN when undefined)."""
        val, _ = evaluate(self.model, self.norm, self.data.splits["val"], self.data, self.cfg, self.device)
        return val, val.scalars.get(self.cfg.monitor, float("nan"))

    def step_scheduler(self, value: float) -> float:
        """Step the LR schedule; returns the LR the epoch trained at (the base LR where strategies scale groups)."""
        lr = max(g["lr"] for g in self.optimizer.param_groups)
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(value)
        elif self.scheduler is not None:
            self.scheduler.step()
        return lr

    def keep_if_best(self, epoch: int, value: float) -> bool:
        improved = self.monitor.improved(value)
        if improved:
            self.out.best_epoch = epoch
            state = self.model.state_dict().items()
            self.out.best_state = copy.deepcopy({k: v.detach().cpu() for k, v in state})
        return improved

    def should_stop(self) -> str | None:
        """Why training ends after this epoch: patience exhausted, or the plateau LR below its floor."""
        if self.monitor.exhausted:
            return "early_stopping"
        floor = self.cfg.scheduler.min_lr
        if self.cfg.scheduler.name == "plateau" and all(g["lr"] < floor for g in self.optimizer.param_groups):
            return "lr_floor"
        return None

    def finish(self) -> FitOutcome:
        """Throughput over the steady-state epochs; the best state restored into the model."""
        images, seconds = self.steady
        self.out.throughput = images / seconds if seconds else float("nan")
        if self.out.best_state is not None:
            self.model.load_state_dict(self.out.best_state)
        return self.out


def fit(
    model,
    norm,
    strategy: Strategy,
    ctx: StrategyContext,
    data: TaskData,
    cfg: TrainConfig,
    device,
    progress: Progress | None = None,
) -> FitOutcome:
    """Train with early stopping on `cfg.monitor` (validation), keeping the best state: the module docstring."""
    run = _Run.start(model, norm, strategy, ctx, data, cfg, device)
    for epoch in range(1, cfg.epochs + 1):
        n_trainable = run.start_epoch(epoch)
        train_loss, seconds = run.train_epoch(epoch)
        val, value = run.validate()
        lr = run.step_scheduler(value)
        improved = run.keep_if_best(epoch, value)
        run.out.history.append(
            {
                "epoch": epoch,
                "train_loss": train_loss,
                "val_loss": val.scalars["loss"],
                f"val_{cfg.monitor}": value,
                "lr": lr,
                "trainable_params": n_trainable,
                "seconds": round(seconds, 3),
                "best": improved,
            }
        )
        run.out.epochs_run, run.out.train_seconds = epoch, run.out.train_seconds + seconds
        if progress:
            progress(epoch, cfg.epochs, {"val": value, "monitor": cfg.monitor})
        stop = run.should_stop()
        if stop:
            run.out.stop_reason = stop
            break
    return run.finish()
