"""Run one cell in this process: data → model → strategy → train → evaluate → profile → result.

    seed; threads; device                 (`setup`)
    data   = the dataset at the cell's image size, verified against datasets.lock
    built  = the cell's model, prepared by its strategy          (suite/assembly.py)
    fit    = train with early stopping; the best validation state is restored       (suite/train.py)
    scores = validation and test metrics at that state; test predictions beside the result
    cost   = params, MACs and latency of the trained network     (suite/profiling)
    write the result atomically

A cell is a pure function of its resolved config: the same config and seed give the same result on the same
machine. The executor runs this in a fresh process per cell (suite/runner/worker.py).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from suite.assembly import Assembled, assemble
from suite.data.dataset import TaskData, load_task_data
from suite.environment import worker_environment
from suite.matrix.schema import TrainConfig
from suite.models.build import save_checkpoint
from suite.profiling import count_params, peak_memory, profile_cell, reset_peak_memory
from suite.results import CellResult, SplitMetrics, sanitise, write_predictions, write_result
from suite.runner.spec import CellSpec, now
from suite.train import FitOutcome, evaluate, fit, pick_device, seed_everything


def _split_metrics(report) -> SplitMetrics:
    return SplitMetrics(
        scalars=report.scalars,
        per_class=report.per_class,
        confusion=report.confusion,
        warnings=report.warnings,
    )


def _progress_writer(path: Path):
    def write(epoch: int, epochs: int, info: dict[str, Any]) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"epoch": epoch, "epochs": epochs, **info}))
        tmp.replace(path)

    return write


def setup(cfg: TrainConfig, seed: int) -> torch.device:
    """Threads, seeds and deterministic algorithms, then the device."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    seed_everything(seed)
    return pick_device(cfg)


def load_data(spec: CellSpec) -> TaskData:
    cfg = spec.config.train
    allow = cfg.allow_unverified or spec.allow_unverified
    return load_task_data(spec.config.dataset.name, cfg.image_size, cfg.resize, allow)


@dataclass
class Scores:
    """Metrics per split at the restored (best) state, and what the result says about them."""

    metrics: dict[str, SplitMetrics] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    predictions: str | None = None


def score(spec: CellSpec, built: Assembled, data: TaskData, cfg: TrainConfig, device) -> Scores:
    """Validation and (where the dataset has one) test metrics; the test predictions go beside the result."""
    out = Scores()
    val, _ = evaluate(built.model, built.norm, data.splits["val"], data, cfg, device)
    out.metrics["val"] = _split_metrics(val)
    out.warnings += [*data.warnings, *(f"val: {w}" for w in val.warnings)]
    if "test" not in data.splits:
        out.warnings.append(f"{data.name} has no test split; only validation metrics are reported")
        return out
    test, (scores, targets) = evaluate(built.model, built.norm, data.splits["test"], data, cfg, device)
    out.metrics["test"] = _split_metrics(test)
    out.warnings += [f"test: {w}" for w in test.warnings]
    path = Path(spec.predictions_path)
    write_predictions(path, scores, targets, data.splits["test"].ids, data.entry.classes, data.entry.task)
    out.predictions = path.name
    return out


def run_cell(spec: CellSpec) -> CellResult:
    started, t0 = now(), time.perf_counter()
    config, cfg = spec.config, spec.config.train
    device = setup(cfg, config.seed)
    data = load_data(spec)
    built = assemble(config, data.num_outputs, spec.parents)
    built.model.to(device)
    built.norm.to(device)
    params = count_params(built.model)
    setup_s = time.perf_counter() - t0

    scoped = reset_peak_memory(device)
    progress = _progress_writer(Path(spec.progress_path))
    outcome = fit(built.model, built.norm, built.strategy, built.ctx, data, cfg, device, progress)
    memory = peak_memory(device, "training" if scoped else "process")

    t_eval = time.perf_counter()
    scores = score(spec, built, data, cfg, device)
    if outcome.best_state is None:
        scores.warnings.append(
            f"the monitor {cfg.monitor!r} never improved (NaN?); the last epoch's weights were used"
        )
    save_checkpoint(built.model.cpu(), Path(spec.checkpoint_path), data.num_outputs)

    t_profile = time.perf_counter()
    profile, profile_warnings = profile_cell(built.model, cfg, device)  # MACs on the CPU, latency on `device`
    timings = {
        "setup_s": setup_s,
        "train_s": outcome.train_seconds,
        "eval_s": t_profile - t_eval,
        "profile_s": time.perf_counter() - t_profile,
        "total_s": time.perf_counter() - t0,
    }
    result = CellResult(
        **spec.identity(),
        status="ok",
        metrics=scores.metrics,
        **_training(outcome),
        timings=timings,
        params=params,
        **profile,
        memory=memory,
        throughput={"train_img_s": outcome.throughput},
        data=data.record,
        strategy_log=built.ctx.records,
        warnings=[*scores.warnings, *profile_warnings],
        predictions=scores.predictions,
        environment={**spec.environment, **worker_environment(device.type)},
        started_at=started,
        finished_at=now(),
    )
    result = sanitise(result)
    write_result(result, Path(spec.result_path))
    return result


def _training(outcome: FitOutcome) -> dict[str, Any]:
    return {
        "history": outcome.history,
        "epochs_run": outcome.epochs_run,
        "best_epoch": outcome.best_epoch,
        "stop_reason": outcome.stop_reason,
    }
