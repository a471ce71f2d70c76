"""Inference latency of every network of a matrix, timed by pytest-benchmark with the suite's own forward step
(suite.profiling.forward_step: eval mode, no grad, CUDA-synchronised, optional bf16 autocast and channels_last)."""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np
import pytest
import torch

from suite.commands.profile import build_prepared
from suite.profiling import count_params, device_name, forward_step, inference_copy
from suite.profiling.timing import summarise
from suite.results.latency import Target


@lru_cache(maxsize=2)
def _prepared(target: Target) -> tuple[str, torch.nn.Module]:
    """(timm name, prepared model) with random weights: latency does not depend on their values."""
    strategy = target.strategy or "ft"
    spec, _, model = build_prepared(
        target.architecture,
        strategy,
        target.image_size,
        target.num_classes,
        strategy_params=json.loads(target.strategy_params),
    )
    return spec.timm_name, model


@pytest.fixture(scope="session")
def options(pytestconfig):
    from suite.matrix.schema import TrainConfig
    from suite.train import pick_device

    device = pick_device(TrainConfig(device=pytestconfig.getoption("latency_device")))
    cuda = device.type == "cuda"
    threads = pytestconfig.getoption("latency_threads")
    if threads:
        torch.set_num_threads(threads)
    return {
        "device": device,
        "warmup": pytestconfig.getoption("latency_warmup"),
        "rounds": pytestconfig.getoption("latency_iterations"),
        "amp": pytestconfig.getoption("latency_amp") and cuda,
        "channels_last": pytestconfig.getoption("latency_channels_last") and cuda,
    }


def test_latency(benchmark, target: Target, batch_size: int, options):
    timm_name, model = _prepared(target)
    device = options["device"]
    net = inference_copy(model, device, options["channels_last"])
    step = forward_step(net, batch_size, target.image_size, device, options["amp"], options["channels_last"])
    benchmark.group = target.id
    benchmark.pedantic(step, rounds=options["rounds"], warmup_rounds=options["warmup"], iterations=1)
    times = np.asarray(benchmark.stats.stats.data)
    benchmark.extra_info.update(
        {
            "architecture": target.architecture,
            "timm": timm_name,
            "image_size": target.image_size,
            "num_classes": target.num_classes,
            "strategy": target.strategy,
            "strategy_params": json.loads(target.strategy_params),
            "batch_size": batch_size,
            "device": device_name(device),
            "dtype": "bfloat16" if options["amp"] else "float32",
            "threads": torch.get_num_threads(),
            "channels_last": options["channels_last"],
            "params_total": count_params(model)["total"],
            **summarise(times),
        }
    )
