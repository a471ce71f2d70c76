"""Run one cell in this process: data → model → strategy → train → evaluate → profile → result.

A cell is a pure function of its resolved config: the same config and seed give the same result on the same
machine. The executor runs this in a fresh process per cell (suite/runner/worker.py).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from suite.data.dataset import load_task_data
from suite.environment import worker_environment
from suite.matrix.schema import TrainConfig
from suite.models.blocks import param_blocks
from suite.models.build import build_model, save_checkpoint
from suite.models.catalog import resolve_architecture
from suite.models.weights import preprocessing
from suite.profiling import count_params, peak_memory, profile_cell, reset_peak_memory
from suite.results import CellResult, SplitMetrics, sanitise, write_predictions, write_result
from suite.runner.spec import CellSpec, now
from suite.strategies import STRATEGIES, StrategyContext
from suite.train import Normalise, apply_trainable, evaluate, fit, pick_device, seed_everything


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


def build_for_cell(config: dict[str, Any], num_classes: int, parents: dict[str, str]):
    """The architecture spec, the model with its new head, and the source kind."""
    a = config["architecture"]
    train = config["train"]
    spec = resolve_architecture(
        a["name"], weights=a.get("weights"), input_size=train["image_size"], lr=train["lr"]
    )
    source = config["source"]
    if "parent" in source:
        model = build_model(spec, num_classes, "checkpoint", Path(parents[source["parent"]]))
    else:
        model = build_model(spec, num_classes, source["name"])
    return spec, model


def prepare_strategy(model, strategy, num_classes: int, epochs: int, image_size: int | None = None):
    """`prepare_model`, then the epoch-1 trainable set: the model as the strategy trains (and is profiled)."""
    ctx = StrategyContext(param_blocks(model), num_classes, epochs, image_size=image_size)
    model = strategy.prepare_model(model, ctx)
    ctx.blocks = param_blocks(model)
    apply_trainable(model, strategy.trainable(model, 1, ctx))
    return model, ctx


def run_cell(spec: CellSpec) -> CellResult:
    started, t0 = now(), time.perf_counter()
    config = spec.config
    cfg = TrainConfig.model_validate(config["train"])
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    seed_everything(config["seed"])
    device = pick_device(cfg)
    data = load_task_data(
        config["dataset"]["name"], cfg.image_size, cfg.resize, cfg.allow_unverified or spec.allow_unverified
    )
    arch, model = build_for_cell(config, data.num_outputs, spec.parents)
    s = config["strategy"]
    strategy = STRATEGIES.get(s["name"])(variant=s["variant"], **s["params"])
    model, ctx = prepare_strategy(model, strategy, data.num_outputs, cfg.epochs, cfg.image_size)
    model.to(device)
    norm = Normalise(*preprocessing(arch)).to(device)
    params = count_params(model)
    setup_s = time.perf_counter() - t0

    scoped = reset_peak_memory(device)
    outcome = fit(model, norm, strategy, ctx, data, cfg, device, _progress_writer(Path(spec.progress_path)))
    memory = peak_memory(device, "training" if scoped else "process")
    t_eval = time.perf_counter()
    val, _ = evaluate(model, norm, data.splits["val"], data, cfg, device)
    metrics = {"val": _split_metrics(val)}
    warnings = [*data.warnings, *(f"val: {w}" for w in val.warnings)]
    predictions = None
    if "test" in data.splits:
        test, (scores, targets) = evaluate(model, norm, data.splits["test"], data, cfg, device)
        metrics["test"] = _split_metrics(test)
        warnings += [f"test: {w}" for w in test.warnings]
        write_predictions(
            Path(spec.predictions_path),
            scores,
            targets,
            data.splits["test"].ids,
            data.entry.classes,
            data.entry.task,
        )
        predictions = Path(spec.predictions_path).name
    else:
        warnings.append(f"{data.name} has no test split; only validation metrics are reported")
    if outcome.best_state is None:
        warnings.append(
            f"the monitor {cfg.monitor!r} never improved (NaN?); the last epoch's weights were used"
        )
    save_checkpoint(model.cpu(), Path(spec.checkpoint_path), data.num_outputs)
    t_profile = time.perf_counter()
    profile, profile_warnings = profile_cell(
        model, cfg, device
    )  # MACs counted on the CPU, latency on `device`
    warnings += profile_warnings
    profile_s = time.perf_counter() - t_profile

    result = CellResult(
        cell_id=spec.cell_id,
        matrix=spec.matrix,
        slug=spec.slug,
        status="ok",
        config=config,
        parents=list(spec.parents),
        seed=config["seed"],
        metrics=metrics,
        history=outcome.history,
        epochs_run=outcome.epochs_run,
        best_epoch=outcome.best_epoch,
        stop_reason=outcome.stop_reason,
        timings={
            "setup_s": setup_s,
            "train_s": outcome.train_seconds,
            "eval_s": t_profile - t_eval,
            "profile_s": profile_s,
            "total_s": time.perf_counter() - t0,
        },
        params=params,
        **profile,
        memory=memory,
        throughput={"train_img_s": outcome.throughput},
        data=data.record,
        strategy_log=ctx.records,
        warnings=warnings,
        predictions=predictions,
        environment={**spec.environment, **worker_environment(device.type)},
        started_at=started,
        finished_at=now(),
    )
    result = sanitise(result)
    write_result(result, Path(spec.result_path))
    return result
