"""What a running cell tells the world, and what the driver reads back: one format in one place.

The cell process writes, as it goes:
- `progress.json` (replaced atomically): its stage (`setup`, `training`, `evaluating`, `profiling`), the wall-clock
  time its work began (after imports), seconds per stage so far, and the last epoch's numbers. The driver reads it
  for its progress bars, its plain epoch lines and the timeout, which counts the cell's work only: data, model,
  training and evaluation, never process start, imports or profiling.
- one plain line per epoch on stdout (the cell's `log.txt`), never progress-bar frames;
- `metrics.csv`, one row per epoch (rewritten whole each epoch, so it is never half-written);
- TensorBoard event files under `tensorboard/` when the cell's `train.log` asks (tensorboardX).
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from suite.matrix.schema import TrainConfig
from suite.results import atomic_write_bytes

WORK_STAGES = ("setup", "training", "evaluating")
"""The stages a cell's `train.timeout_min` counts."""


def epoch_line(slug: str, entry: dict[str, Any], epochs: int, elapsed: float) -> str:
    """`epoch 3/6 <slug> train_loss=0.4712 val_loss=0.6021 val_accuracy=0.8125 lr=0.001 img/s=131 elapsed=21s`."""
    metrics = " ".join(
        f"{k}={v:.4f}" for k, v in entry.items() if k.startswith("val_") and isinstance(v, float)
    )
    img_s = entry.get("img_s")
    return (
        f"epoch {entry['epoch']}/{epochs} {slug} train_loss={entry['train_loss']:.4f} {metrics} "
        f"lr={entry['lr']:.3g} img/s={img_s if img_s is not None else '?'} elapsed={elapsed:.0f}s"
    )


@dataclass
class CellProgress:
    """The cell side: stages, epochs and their files. `work_started` is set when the imports are done."""

    folder: Path
    slug: str
    cfg: TrainConfig
    imports_s: float = 0.0
    work_started: float = field(default_factory=time.time)
    stages: dict[str, float] = field(default_factory=dict)
    stage: str = "setup"
    stage_started: float = field(default_factory=time.time)
    rows: list[dict[str, Any]] = field(default_factory=list)
    _board: Any = None

    def enter(self, stage: str) -> None:
        """Close the current stage's clock and start `stage`'s."""
        now = time.time()
        self.stages[self.stage] = self.stages.get(self.stage, 0.0) + now - self.stage_started
        self.stage, self.stage_started = stage, now
        self._write()

    def epoch(self, entry: dict[str, Any]) -> None:
        """One finished epoch: the plain log line, progress.json, metrics.csv and TensorBoard scalars."""
        self.rows.append(dict(entry))
        elapsed = time.time() - self.work_started
        print(epoch_line(self.slug, entry, self.cfg.epochs, elapsed), flush=True)
        self._write()
        self._write_csv()
        if "tensorboard" in self.cfg.log:
            self._tensorboard(entry)

    def timings(self) -> dict[str, float]:
        """Seconds spent importing and in each stage so far (the current stage counted up to now)."""
        spent = {
            **self.stages,
            self.stage: self.stages.get(self.stage, 0.0) + time.time() - self.stage_started,
        }
        return {"imports": self.imports_s, **spent}

    def close(self) -> None:
        if self._board is not None:
            self._board.close()

    def _write(self) -> None:
        state = {
            "pid": os.getpid(),  # the cell's process (a forked cell's command line is the fork server's)
            "stage": self.stage,
            "work_started": self.work_started,
            "stage_started": self.stage_started,
            "stage_seconds": {
                "imports": self.imports_s,
                **self.stages,
            },  # finished stages; the reader adds the current
            "epochs": self.cfg.epochs,
            "monitor": self.cfg.monitor,
            "history": self.rows,
        }
        atomic_write_bytes(self.folder / "progress.json", json.dumps(state, default=str).encode())

    def _write_csv(self) -> None:
        columns = list(dict.fromkeys(k for row in self.rows for k in row))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_bytes(self.folder / "metrics.csv", buffer.getvalue().encode())

    def _tensorboard(self, entry: dict[str, Any]) -> None:
        if self._board is None:
            from tensorboardX import SummaryWriter  # only when a cell asks for it

            self._board = SummaryWriter(str(self.folder / "tensorboard"))
        for key, value in entry.items():
            if key != "epoch" and isinstance(value, int | float) and not isinstance(value, bool):
                self._board.add_scalar(key, value, entry["epoch"])
        self._board.flush()


@dataclass(frozen=True)
class Progress:
    """The driver side: what the cell's progress.json says now (empty before the cell has finished importing)."""

    state: dict[str, Any]

    @classmethod
    def read(cls, path: Path) -> Progress:
        try:
            return cls(json.loads(path.read_text()))
        except (OSError, ValueError):
            return cls({})

    @property
    def history(self) -> list[dict[str, Any]]:
        """Every finished epoch's entry so far."""
        return self.state.get("history") or []

    @property
    def epoch(self) -> int | None:
        return self.history[-1]["epoch"] if self.history else None

    def work_seconds(self, now: float | None = None) -> float:
        """Seconds of work the timeout counts: the work stages so far, the current one up to `now`."""
        if not self.state:
            return 0.0
        seconds = self.state.get("stage_seconds", {})
        done = sum(v for k, v in seconds.items() if k in WORK_STAGES and k != self.state.get("stage"))
        if self.state.get("stage") in WORK_STAGES:
            done += (now or time.time()) - self.state["stage_started"]
        return done

    def describe(self, now: float | None = None) -> str:
        """`imports 9 s, setup 3 s, training 581 s (epoch 4/6)`: where a killed cell's time went."""
        if not self.state:
            return "the cell had not finished importing"
        seconds = dict(self.state.get("stage_seconds", {}))
        stage = self.state.get("stage")
        if stage:
            seconds[stage] = seconds.get(stage, 0.0) + (now or time.time()) - self.state["stage_started"]
        parts = [f"{name} {value:.0f} s" for name, value in seconds.items() if value >= 0.5 or name == stage]
        if self.epoch:
            parts.append(f"at epoch {self.epoch}/{self.state.get('epochs')}")
        return ", ".join(parts)
