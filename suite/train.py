"""The one training loop. It knows nothing about any particular strategy; strategies act only through their hooks.

seed everything; model = strategy.prepare_model(model)
optimiser over strategy.param_groups (frozen parameters get no gradient, hence no update)
phases ← the epochs over which strategy.trainable(epoch) stays the same (G-LF: one per block; FT: one)
for epoch in 1..epochs:
    requires_grad ← strategy.trainable(epoch)          # the one place trainability is decided
    (a new phase restarts early-stopping patience; with train.checkpoint: final-phase, the final phase also
     restarts the search for the best state, and early stopping waits for it)
    strategy.on_epoch_start(epoch)
    for batch: loss = task loss + strategy.extra_loss; backward; strategy.before_step; step
               (a NaN or infinite loss stops the cell here, naming the epoch and step)
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
from tqdm import tqdm

from suite.data.augment import augment
from suite.data.dataset import Split, TaskData
from suite.errors import TrainingDiverged
from suite.matrix.schema import TrainConfig
from suite.metrics import METRICS, MetricReport, NonFiniteScores, compute_metrics
from suite.models.normalise import Normalise
from suite.models.trainable import apply_trainable, freeze_frozen_batchnorm
from suite.strategies.base import Strategy, StrategyContext

Progress = Callable[[dict[str, Any]], None]


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
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.uses_amp(device.type)):
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
    best_phase: int = 0
    phases: int = 1
    trained_params: int = 0
    """Parameters that trained at some epoch up to the best one (what the kept weights learned in)."""
    epochs_run: int = 0
    stop_reason: str = "max_epochs"
    best_state: dict[str, torch.Tensor] | None = None
    train_seconds: float = 0.0
    throughput: float = float("nan")


Trainable = frozenset[str] | None  # None: every parameter


@dataclass(frozen=True)
class Phases:
    """A strategy's schedule of trainable sets: a phase is a run of epochs with the same set (G-LF has one per
    block, LP-FT two, FT one). Asked of the strategy up front, so the loop knows where the final phase starts."""

    of_epoch: tuple[int, ...]

    @classmethod
    def of(cls, strategy: Strategy, model: nn.Module, ctx: StrategyContext, epochs: int) -> Phases:
        numbers, previous = [], None
        for epoch in range(1, epochs + 1):
            current = _frozen(strategy.trainable(model, epoch, ctx))
            numbers.append(1 if epoch == 1 else numbers[-1] + (current != previous))
            previous = current
        return cls(tuple(numbers))

    @property
    def final(self) -> int:
        return self.of_epoch[-1]

    @property
    def final_start(self) -> int:
        """The first epoch of the final phase."""
        return self.of_epoch.index(self.final) + 1


def _frozen(names: set[str] | None) -> Trainable:
    return None if names is None else frozenset(names)


class _Monitor:
    """Best-so-far tracking with patience and delta (delta 0: any strict improvement counts)."""

    def __init__(self, cfg: TrainConfig) -> None:
        self.higher = METRICS.get(cfg.monitor).higher_is_better
        self.delta, self.patience = cfg.early_stopping.delta, cfg.early_stopping.patience
        self.reset()

    def reset(self) -> None:
        """Forget the best so far (the final phase of a multi-phase strategy looks for its own best)."""
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
    phases: Phases
    out: FitOutcome = field(default_factory=FitOutcome)
    trainable: Trainable = None
    trained: set[str] = field(default_factory=set)  # every parameter trainable so far
    steady: list[float] = field(default_factory=lambda: [0.0, 0.0])  # images, seconds after epoch 1

    @classmethod
    def start(
        cls, model, norm, strategy: Strategy, ctx: StrategyContext, data: TaskData, cfg: TrainConfig, device
    ):
        """The optimiser over the strategy's parameter groups, the LR schedule, the early-stopping monitor, and
        the strategy's phases."""
        optimizer = build_optimizer(model, strategy, ctx, cfg)
        scheduler = build_scheduler(optimizer, cfg)
        phases = Phases.of(strategy, model, ctx, cfg.epochs)
        run = cls(model, norm, strategy, ctx, data, cfg, device, optimizer, scheduler, _Monitor(cfg), phases)
        run.out.phases = phases.final
        return run

    @property
    def final_phase_only(self) -> bool:
        return self.cfg.checkpoint == "final-phase"

    def start_epoch(self, epoch: int) -> int:
        """The strategy's trainable set for this epoch (a new phase restarts patience; the final phase also the
        search for the best state), then its epoch hook. Returns the number of trainable parameters."""
        trainable = _frozen(self.strategy.trainable(self.model, epoch, self.ctx))
        if epoch > 1 and trainable != self.trainable:
            self.monitor.restart_patience()
            if self.final_phase_only and epoch == self.phases.final_start:
                self.monitor.reset()
                self.out.best_state, self.out.best_epoch = None, 0
        self.trainable = trainable
        n_trainable = apply_trainable(self.model, trainable)
        self.trained |= {n for n, p in self.model.named_parameters() if p.requires_grad}
        self.strategy.on_epoch_start(self.model, epoch, self.ctx)
        return n_trainable

    def train_epoch(self, epoch: int) -> tuple[float, float]:
        """(mean training loss, seconds) of one pass over the training split."""
        start = time.perf_counter()
        n = len(self.data.splits["train"])
        with tqdm(
            total=n,
            desc=f"epoch {epoch}/{self.cfg.epochs}",
            unit="img",
            mininterval=10,
            leave=False,
            disable=None,  # no progress-bar frames when stderr is not a terminal (logs get plain epoch lines)
        ) as bar:
            loss = self._steps(epoch, bar)
        seconds = time.perf_counter() - start
        if epoch > 1 or self.cfg.epochs == 1:
            self.steady[0] += n
            self.steady[1] += seconds
        return loss, seconds

    def _steps(self, epoch: int, bar) -> float:
        """The optimisation steps of one epoch: task loss + the strategy's extra loss, its `before_step` hook.
        A NaN or infinite loss stops training at once: nothing after it would mean anything."""
        model, cfg, device, task = self.model, self.cfg, self.device, self.data.entry.task
        amp, channels_last = cfg.uses_amp(device.type), cfg.uses_channels_last(device.type)
        model.train()
        freeze_frozen_batchnorm(model)
        split = self.data.splits["train"]
        order = torch.randperm(len(split))
        total, seen = 0.0, 0
        for step, idx in enumerate(order.split(cfg.batch_size), start=1):
            if len(idx) < 2 and len(order) > 1:  # BatchNorm cannot train on a batch of one
                continue
            x = augment(split.images[idx], cfg.augment).to(device, non_blocking=True)
            y = split.targets[idx].to(device, non_blocking=True)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                loss = _loss(task, model(self.norm(x)).float(), y)
            extra = self.strategy.extra_loss(model, self.ctx)
            full = loss if extra is None else loss + extra
            value = full.item()
            if not math.isfinite(value):
                raise TrainingDiverged(
                    f"the training loss is {value} at epoch {epoch}, step {step} (lr {cfg.lr:g}): training "
                    "diverged; a lower train.lr usually helps"
                )
            self.optimizer.zero_grad(set_to_none=True)
            full.backward()
            self.strategy.before_step(model, self.optimizer, self.ctx)
            self.optimizer.step()
            total, seen = total + loss.item() * len(idx), seen + len(idx)
            bar.update(len(idx))
        return total / max(seen, 1)

    def validate(self, epoch: int) -> tuple[MetricReport, float]:
        """The validation report, and the monitored value in it (NaN when undefined)."""
        try:
            val, _ = evaluate(
                self.model, self.norm, self.data.splits["val"], self.data, self.cfg, self.device
            )
        except NonFiniteScores:
            raise TrainingDiverged(
                f"the validation scores are NaN or infinite after epoch {epoch} (lr {self.cfg.lr:g}): training "
                "diverged; a lower train.lr usually helps"
            ) from None
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
        eligible = not self.final_phase_only or epoch >= self.phases.final_start
        if not eligible:
            self.monitor.improved(value)  # patience still counts, for the record; the state is not kept
            return False
        improved = self.monitor.improved(value)
        if improved:
            self.out.best_epoch, self.out.best_phase = epoch, self.phases.of_epoch[epoch - 1]
            self.out.trained_params = sum(
                p.numel() for n, p in self.model.named_parameters() if n in self.trained
            )
            state = self.model.state_dict().items()
            self.out.best_state = copy.deepcopy({k: v.detach().cpu() for k, v in state})
        return improved

    def should_stop(self, epoch: int) -> str | None:
        """Why training ends after this epoch: patience exhausted (never before the final phase when only its
        states count), or the plateau LR below its floor."""
        waiting = self.final_phase_only and epoch < self.phases.final_start
        if self.monitor.exhausted and not waiting:
            return "early_stopping"
        floor = self.cfg.scheduler.min_lr
        if self.cfg.scheduler.name == "plateau" and all(g["lr"] < floor for g in self.optimizer.param_groups):
            return "lr_floor"
        return None

    def finish(self) -> FitOutcome:
        """Throughput over the steady-state epochs; the best state restored into the model."""
        images, seconds = self.steady
        self.out.throughput = images / seconds if seconds else float("nan")
        if (
            self.out.best_state is None
        ):  # nothing improved: the last weights stand, trained in every phase so far
            self.out.trained_params = sum(
                p.numel() for n, p in self.model.named_parameters() if n in self.trained
            )
        else:
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
    """Train with early stopping on `cfg.monitor` (validation), keeping the best state: the module docstring.
    `progress` gets each epoch's history entry as soon as the epoch ends."""
    run = _Run.start(model, norm, strategy, ctx, data, cfg, device)
    for epoch in range(1, cfg.epochs + 1):
        n_trainable = run.start_epoch(epoch)
        train_loss, seconds = run.train_epoch(epoch)
        val, value = run.validate(epoch)
        lr = run.step_scheduler(value)
        improved = run.keep_if_best(epoch, value)
        entry = {
            "epoch": epoch,
            "phase": run.phases.of_epoch[epoch - 1],
            "train_loss": train_loss,
            "val_loss": val.scalars["loss"],
            f"val_{cfg.monitor}": value,
            "lr": lr,
            "trainable_params": n_trainable,
            "seconds": round(seconds, 3),
            "img_s": round(len(data.splits["train"]) / seconds, 1) if seconds else None,
            "best": improved,
        }
        run.out.history.append(entry)
        run.out.epochs_run, run.out.train_seconds = epoch, run.out.train_seconds + seconds
        if progress:
            progress(entry)
        stop = run.should_stop(epoch)
        if stop:
            run.out.stop_reason = stop
            break
    return run.finish()
