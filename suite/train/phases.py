"""A strategy's phases (runs of epochs with one trainable set) and the early-stopping monitor."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import nn

from suite.matrix.schema import TrainConfig
from suite.metrics import METRICS
from suite.strategies.base import Strategy, StrategyContext

Trainable = frozenset[str] | None  # None: every parameter


@dataclass(frozen=True)
class Phases:
    """A strategy's schedule of trainable sets: a phase is a run of epochs with the same set (G-LF has one per
    block, LP-FT two, FT one). Asked of the strategy up front, so the loop knows where the final phase starts."""

    of_epoch: tuple[int, ...]
    sets: tuple[Trainable, ...]  # the trainable set of each epoch

    @classmethod
    def of(cls, strategy: Strategy, model: nn.Module, ctx: StrategyContext, epochs: int) -> Phases:
        numbers, sets = [], []
        for epoch in range(1, epochs + 1):
            current = frozen_set(strategy.trainable(model, epoch, ctx))
            numbers.append(1 if epoch == 1 else numbers[-1] + (current != sets[-1]))
            sets.append(current)
        return cls(tuple(numbers), tuple(sets))

    @property
    def final(self) -> int:
        return self.of_epoch[-1]

    @property
    def final_start(self) -> int:
        """The first epoch of the final phase."""
        return self.of_epoch.index(self.final) + 1


def frozen_set(names: set[str] | None) -> Trainable:
    return None if names is None else frozenset(names)


class Monitor:
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
