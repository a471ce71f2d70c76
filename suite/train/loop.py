"""The loop itself: `fit` reads as the pseudocode in suite/train/__init__.py, each step a named method of `_Run`."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from suite.data.augment import augment
from suite.data.dataset import TaskData
from suite.errors import TrainingDiverged
from suite.matrix.schema import TrainConfig
from suite.metrics import MetricReport, NonFiniteScores
from suite.models.trainable import apply_trainable, freeze_frozen_modules
from suite.strategies.base import Strategy, StrategyContext
from suite.train.evaluate import evaluate, task_loss
from suite.train.features import FrozenFeatures, head_only, load_or_build, unsupported
from suite.train.optim import build_optimizer, build_scheduler
from suite.train.phases import Monitor, Phases, Trainable, frozen_set

Progress = Callable[[dict[str, Any]], None]


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
    validate_seconds: float = 0.0
    """The per-epoch validation passes (early stopping and the kept state need them; not in `train_seconds`)."""
    throughput: float = float("nan")
    features: FrozenFeatures | None = None
    """The frozen backbone's cached features, when the kept weights never trained the backbone (scoring uses them)."""
    feature_cache: dict[str, Any] = field(default_factory=dict)
    """What the cell did about the feature cache: used (built or read), or why not."""


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
    monitor: Monitor
    phases: Phases
    out: FitOutcome = field(default_factory=FitOutcome)
    trainable: Trainable = None
    trained: set[str] = field(default_factory=set)  # every parameter trainable so far
    features: FrozenFeatures | None = None
    cache_off: str | None = None  # why head-only epochs train on images
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
        run = cls(model, norm, strategy, ctx, data, cfg, device, optimizer, scheduler, Monitor(cfg), phases)
        run.out.phases = phases.final
        if any(head_only(t, ctx.head) for t in phases.sets):
            run.cache_off = run._cache_refusal()
            run.out.feature_cache = {"used": False, "why": run.cache_off} if run.cache_off else {}
        return run

    def _cache_refusal(self) -> str | None:
        """Why head-only epochs cannot train on cached features (None: they can)."""
        if not self.cfg.feature_cache:
            return "train.feature_cache is off"
        if getattr(self.model, "drop_rate", 0):
            return "the head has dropout (drop_rate > 0), which features cannot replay"
        if not hasattr(self.model, "forward_head"):
            return f"{type(self.model).__name__} has no forward_head (timm's contract)"
        return unsupported(self.cfg)

    def _cached(self, epoch: int) -> FrozenFeatures | None:
        """The frozen backbone's features when this epoch trains the head alone (built on first use)."""
        if self.cache_off is not None or not head_only(self.trainable, self.ctx.head):
            return None
        if self.features is None:
            try:
                self.features = load_or_build(self.model, self.norm, self.data, self.cfg, self.device)
            except ValueError as exc:
                self.cache_off = str(exc)
                self.out.feature_cache = {"used": False, "why": self.cache_off}
                return None
            self.out.feature_cache = self.features.record
        return self.features

    @property
    def final_phase_only(self) -> bool:
        return self.cfg.checkpoint == "final-phase"

    def start_epoch(self, epoch: int) -> int:
        """The strategy's trainable set for this epoch (a new phase restarts patience; the final phase also the
        search for the best state), then its epoch hook. Returns the number of trainable parameters."""
        trainable = frozen_set(self.strategy.trainable(self.model, epoch, self.ctx))
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
        features = self._cached(epoch)
        with tqdm(
            total=n,
            desc=f"epoch {epoch}/{self.cfg.epochs}",
            unit="img",
            mininterval=10,
            leave=False,
            disable=None,  # no progress-bar frames when stderr is not a terminal (logs get plain epoch lines)
        ) as bar:
            loss = (
                self._steps(epoch, bar) if features is None else self._steps_on_features(epoch, bar, features)
            )
        seconds = time.perf_counter() - start
        if epoch > 1 or self.cfg.epochs == 1:
            self.steady[0] += n
            self.steady[1] += seconds
        return loss, seconds

    def _steps(self, epoch: int, bar) -> float:
        """The optimisation steps of one epoch on images."""
        model, cfg, device, task = self.model, self.cfg, self.device, self.data.entry.task
        amp, channels_last = cfg.uses_amp(device.type), cfg.uses_channels_last(device.type)
        split = self.data.splits["train"]
        total, seen = 0.0, 0
        for step, idx in self._batches(len(split)):
            # indexed and augmented where the images live (the device, when suite/train/device.py put them there)
            at = idx.to(split.images.device, non_blocking=True)
            x = augment(split.images[at], cfg.augment).to(device, non_blocking=True)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                logits = model(self.norm(x)).float()
            y = split.targets[at].to(device, non_blocking=True)
            total += self._step(task_loss(task, logits, y), epoch, step) * len(idx)
            seen += len(idx)
            bar.update(len(idx))
        return total / max(seen, 1)

    def _steps_on_features(self, epoch: int, bar, features: FrozenFeatures) -> float:
        """The head's optimisation steps on the backbone's cached vectors: the same batches and the same flip draws
        (one `torch.rand` per batch, as `augment` makes them) as `_steps` on images."""
        cfg, device, task, head = self.cfg, self.device, self.data.entry.task, self.model.get_classifier()
        split = self.data.splits["train"]
        total, seen = 0.0, 0
        for step, idx in self._batches(len(split)):
            flips = torch.rand(len(idx)) < 0.5 if cfg.augment.hflip else None
            x = features.batch("train", idx, flips).to(device, non_blocking=True)
            total += self._step(
                task_loss(task, head(x).float(), split.targets[idx].to(device)), epoch, step
            ) * len(idx)
            seen += len(idx)
            bar.update(len(idx))
        return total / max(seen, 1)

    def _batches(self, n: int):
        """Train mode (frozen parts in eval), then (step, indices) of a fresh permutation, skipping a last batch of
        one (BatchNorm cannot train on it)."""
        self.model.train()
        freeze_frozen_modules(self.model)
        order = torch.randperm(n)
        for step, idx in enumerate(order.split(self.cfg.batch_size), start=1):
            if len(idx) >= 2 or n == 1:
                yield step, idx

    def _step(self, loss: torch.Tensor, epoch: int, step: int) -> float:
        """Task loss + the strategy's extra loss, backward, the `before_step` hook, the update; the task loss.
        A NaN or infinite loss stops training at once: nothing after it would mean anything."""
        extra = self.strategy.extra_loss(self.model, self.ctx)
        full = loss if extra is None else loss + extra
        value = full.item()
        if not math.isfinite(value):
            raise TrainingDiverged(
                f"the training loss is {value} at epoch {epoch}, step {step} (lr {self.cfg.lr:g}): training "
                "diverged; a lower train.lr usually helps"
            )
        self.optimizer.zero_grad(set_to_none=True)
        full.backward()
        self.strategy.before_step(self.model, self.optimizer, self.ctx)
        self.optimizer.step()
        return loss.item()

    def validate(self, epoch: int) -> tuple[MetricReport, float]:
        """The validation report, and the monitored value in it (NaN when undefined)."""
        features = self._cached(epoch)
        vectors = features.features["val"]["plain"] if features is not None else None
        try:
            val, _ = evaluate(
                self.model, self.norm, self.data.splits["val"], self.data, self.cfg, self.device, vectors
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
        if self.out.best_state is None:  # nothing improved: the last weights stand, trained in every phase
            self.out.trained_params = sum(
                p.numel() for n, p in self.model.named_parameters() if n in self.trained
            )
        else:
            self.model.load_state_dict(self.out.best_state)
        if self.features is not None and self.trained <= set(self.ctx.head):  # the backbone never trained
            self.out.features = self.features
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
        t_val = time.perf_counter()
        val, value = run.validate(epoch)
        run.out.validate_seconds += time.perf_counter() - t_val
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
