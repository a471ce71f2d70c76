"""Run one cell in this process: data → model → strategy → train → evaluate → profile → result.

    seed; threads; device                 (`setup`)
    data   = the dataset at the cell's image size, verified against datasets.lock
    built  = the cell's model, prepared by its strategy          (suite/assembly.py)
    fit    = train with early stopping; the best validation state is restored       (suite/train/)
    scores = validation and test metrics at that state; test predictions beside the result
    cost   = params, MACs and latency of the trained network     (suite/profiling; MACs and latency once per
             distinct network of the matrix, shared through results/<matrix>/work/networks/)
    write the result atomically

Each stage and epoch is reported as it happens (suite/runner/progress.py): a plain line per epoch in the cell's
log, progress.json for the driver, metrics.csv, and TensorBoard events when asked.

A cell is a pure function of its resolved config: the same config and seed give the same result on the same
machine (its MACs and latency are its network's, measured by whichever cell of the matrix got there first). The
executor runs this in a fresh process per cell (suite/runner/worker.py).
"""

from __future__ import annotations

import math
import os
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from suite.assembly import Assembled, assemble
from suite.data.dataset import TaskData, load_task_data
from suite.environment import worker_environment
from suite.matrix.cell import CellConfig
from suite.matrix.schema import TrainConfig
from suite.models.build import save_checkpoint
from suite.profiling import count_params, peak_memory, reset_peak_memory
from suite.profiling.shared import shared_profile
from suite.results import CellResult, SplitMetrics, sanitise, write_predictions, write_result
from suite.runner.progress import CellProgress
from suite.runner.spec import MEMORY_ENV, THREADS_ENV, CellSpec, now
from suite.train import FitOutcome, evaluate, fit, pick_device, place_data, seed_everything
from suite.train.features import FrozenFeatures


def _split_metrics(report) -> SplitMetrics:
    return SplitMetrics(
        scalars=report.scalars,
        per_class=report.per_class,
        confusion=report.confusion,
        warnings=report.warnings,
    )


def limit_memory() -> int | None:
    """The local executor's `--memory`: cap the address space at what is mapped now (the imports: torch alone maps
    gigabytes it never touches) plus the limit, so an allocation past it fails in this cell, with a one-line error,
    instead of the kernel's OOM killer picking a process. Returns the limit, or None when there is none."""
    limit = int(os.environ.get(MEMORY_ENV, "0"))
    if not limit:
        return None
    mapped = int(Path("/proc/self/statm").read_text().split()[0]) * resource.getpagesize()
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    wanted = mapped + limit
    resource.setrlimit(
        resource.RLIMIT_AS, (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard)
    )
    return limit


def setup(cfg: TrainConfig, seed: int) -> torch.device:
    """Threads, seeds and deterministic algorithms, then the device."""
    threads = cfg.threads or int(os.environ.get(THREADS_ENV, "0"))
    if threads:
        torch.set_num_threads(threads)
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


def score(
    spec: CellSpec,
    built: Assembled,
    data: TaskData,
    cfg: TrainConfig,
    device,
    features: FrozenFeatures | None,
) -> Scores:
    """Validation and (where the dataset has one) test metrics; the test predictions go beside the result. When
    the backbone never trained, its cached features stand in for the images (suite/train/features.py)."""
    out = Scores()

    def vectors(split: str):
        return features.features[split]["plain"] if features is not None else None

    val, _ = evaluate(built.model, built.norm, data.splits["val"], data, cfg, device, vectors("val"))
    out.metrics["val"] = _split_metrics(val)
    out.warnings += [*data.warnings, *(f"val: {w}" for w in val.warnings)]
    if "test" not in data.splits:
        out.warnings.append(f"{data.name} has no test split; only validation metrics are reported")
        return out
    test, (scores, targets) = evaluate(
        built.model, built.norm, data.splits["test"], data, cfg, device, vectors("test")
    )
    out.metrics["test"] = _split_metrics(test)
    out.warnings += [f"test: {w}" for w in test.warnings]
    path = Path(spec.predictions_path)
    write_predictions(path, scores, targets, data.splits["test"].ids, data.entry.classes, data.entry.task)
    out.predictions = path.name
    return out


def run_cell(spec: CellSpec, imports_s: float = 0.0) -> CellResult:
    started, t0 = now(), time.perf_counter()
    config, cfg = spec.config, spec.config.train
    progress = CellProgress(Path(spec.progress_path).parent, spec.slug, cfg, imports_s=imports_s)
    progress.enter("setup")
    device = setup(cfg, config.seed)
    data = load_data(spec)
    built = assemble(config, data.num_outputs, spec.parents)
    to_device(built, cfg, device)
    data.record["placement"] = place_data(data, device)
    params = count_params(built.model)
    setup_s = time.perf_counter() - t0

    progress.enter("training")
    scoped = reset_peak_memory(device)
    outcome = fit(built.model, built.norm, built.strategy, built.ctx, data, cfg, device, progress.epoch)
    memory = peak_memory(device, "training" if scoped else "process")

    progress.enter("evaluating")
    t_eval = time.perf_counter()
    scores = score(spec, built, data, cfg, device, outcome.features)
    scores.warnings += training_warnings(outcome, cfg)
    diverged = diverged_warning(scores, data)
    scores.warnings += [diverged] if diverged else []
    save_checkpoint(built.model.cpu(), Path(spec.checkpoint_path), data.num_outputs)

    progress.enter("profiling")
    t_profile = time.perf_counter()
    profile, profile_warnings = shared_profile(  # MACs on the CPU, latency on `device`; once per network
        built.model, cfg, device, networks_store(spec), built_architecture(config), spec.slug
    )
    progress.enter("done")
    progress.close()
    timings = {
        "imports_s": imports_s,
        "setup_s": setup_s,
        "train_s": outcome.train_seconds,
        "validate_s": outcome.validate_seconds,
        "eval_s": t_profile - t_eval,
        "profile_s": time.perf_counter() - t_profile,
        "total_s": time.perf_counter() - t0,
    }
    result = CellResult(
        **spec.identity(),
        status="ok",
        diverged=diverged is not None,
        metrics=scores.metrics,
        **_training(outcome),
        timings=timings,
        params={**params, "trainable": outcome.trained_params, "trainable_epoch1": params["trainable"]},
        **profile,
        memory=memory,
        throughput={"train_img_s": outcome.throughput},
        feature_cache=outcome.feature_cache,
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


def built_architecture(config: CellConfig) -> dict[str, Any]:
    """The architecture as built, without its weights (which change neither MACs nor latency)."""
    return config.architecture.model_dump(mode="json", exclude={"weights"})


def networks_store(spec: CellSpec) -> Path:
    """results/<matrix>/work/networks: the matrix's MACs and latency per distinct network."""
    return Path(spec.result_path).parent.parent / "work" / "networks"


def to_device(built: Assembled, cfg: TrainConfig, device: torch.device) -> None:
    """The model and its normalisation on the device (channels_last on CUDA unless the config says no)."""
    built.model.to(device)
    built.norm.to(device)
    if cfg.uses_channels_last(device.type):
        built.model.to(memory_format=torch.channels_last)


def training_warnings(outcome: FitOutcome, cfg: TrainConfig) -> list[str]:
    if outcome.best_state is not None:
        return []
    return [f"the monitor {cfg.monitor!r} never improved (NaN?); the last epoch's weights were used"]


DIVERGED_FACTOR = 10.0
"""A run whose validation loss at its kept state exceeds this many times the chance-level loss has diverged."""


def chance_loss(data: TaskData) -> float:
    """The loss of predicting uniformly: ln K for softmax over K classes, ln 2 per label for multilabel."""
    return math.log(2) if data.entry.task == "multilabel" else math.log(data.num_outputs)


def diverged_warning(scores: Scores, data: TaskData) -> str | None:
    """A finite but absurd loss (LR far too high) is flagged, in the result and on the board, never ranked silently."""
    loss = scores.metrics["val"].get("loss")
    limit = DIVERGED_FACTOR * chance_loss(data)
    if math.isnan(loss) or loss <= limit:
        return None
    return (
        f"diverged: the validation loss {loss:.3g} is more than {DIVERGED_FACTOR:g}× the chance-level loss "
        f"{chance_loss(data):.3g}; the metrics are not a trained model's"
    )


def _training(outcome: FitOutcome) -> dict[str, Any]:
    return {
        "history": outcome.history,
        "epochs_run": outcome.epochs_run,
        "best_epoch": outcome.best_epoch,
        "best_phase": outcome.best_phase,
        "phases": outcome.phases,
        "stop_reason": outcome.stop_reason,
    }
