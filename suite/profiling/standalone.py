"""`medtl-bench profile ARCH`: everything the suite measures about a model's cost, without data or training.

The model is built as a cell builds it (suite architecture name or `timm:<model>`, a new head of `num_classes`,
random weights unless `pretrained`), then the strategy prepares it exactly as in a cell (`prepare_model`, then the
epoch-1 trainable set), so truncated, channel-halved or LoRA models report their real sizes. Memory and throughput
come from a few synthetic training steps, since nothing is trained here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from suite.profiling.counts import count_macs, count_params, mac_warnings
from suite.profiling.memory import peak_memory, reset_peak_memory
from suite.profiling.timing import measure_latency, measure_training


@dataclass(frozen=True)
class ProfileRequest:
    architecture: str
    strategy: str = "ft"
    image_size: int | None = None
    num_classes: int = 1000
    pretrained: bool = False
    device: str = "auto"
    batch_sizes: tuple[int, ...] = (1, 32)
    warmup: int = 10
    iterations: int = 30
    threads: int | None = None
    amp: bool = False
    channels_last: bool = False
    latency: bool = True
    train: bool = True
    train_batch_size: int = 32
    train_steps: int = 3


def build_prepared(
    architecture: str,
    strategy: str,
    image_size: int | None,
    num_classes: int,
    pretrained: bool = False,
    strategy_params: dict[str, Any] | None = None,
) -> tuple[Any, Any, torch.nn.Module]:
    """(architecture spec, strategy config as a cell records it, prepared model) on the CPU; user errors are one line."""
    from suite.catalog import SuiteCatalog
    from suite.matrix.schema import ArchitectureEntry
    from suite.models.build import build_model
    from suite.models.catalog import resolve_architecture
    from suite.runner.cell import prepare_strategy
    from suite.strategies import STRATEGIES

    catalog = SuiteCatalog()
    catalog.architecture(ArchitectureEntry(name=architecture))  # did-you-mean for unknown names
    spec = resolve_architecture(architecture, input_size=image_size)
    resolved = catalog.strategy(strategy, strategy_params or {})
    model = build_model(spec, num_classes, "imagenet" if pretrained else "scratch")
    chosen = STRATEGIES.get(resolved["name"])(variant=resolved["variant"], **resolved["params"])
    model, _ = prepare_strategy(model, chosen, num_classes, epochs=1, image_size=spec.input_size)
    return spec, resolved, model


def profile_architecture(req: ProfileRequest) -> dict[str, Any]:
    """The result fields (params, macs, latency, memory, throughput) for one model, plus what was profiled."""
    from suite.matrix.schema import TrainConfig
    from suite.train import pick_device

    spec, _, model = build_prepared(
        req.architecture, req.strategy, req.image_size, req.num_classes, req.pretrained
    )
    device = pick_device(TrainConfig(device=req.device))
    if req.threads:
        torch.set_num_threads(req.threads)
    out: dict[str, Any] = {
        "architecture": spec.name,
        "timm": spec.timm_name,
        "strategy": req.strategy,
        "image_size": spec.input_size,
        "num_classes": req.num_classes,
        "pretrained": req.pretrained,
        "params": count_params(model),
        "macs": count_macs(model, spec.input_size),
    }
    notes = mac_warnings(out["macs"])
    if req.latency:
        out["latency"], timing_notes = measure_latency(
            model,
            spec.input_size,
            device,
            batch_sizes=req.batch_sizes,
            warmup=req.warmup,
            iterations=req.iterations,
            amp=req.amp,
            channels_last=req.channels_last,
        )
        notes += timing_notes
    if req.train:
        scoped = reset_peak_memory(device)
        img_s = measure_training(
            model,
            spec.input_size,
            req.num_classes,
            device,
            batch_size=req.train_batch_size,
            steps=req.train_steps,
            amp=req.amp,
            channels_last=req.channels_last,
        )
        window = f"synthetic training steps at batch {req.train_batch_size}"
        out["memory"] = peak_memory(device, window if scoped else "process")
        out["throughput"] = {"train_img_s": img_s}
    out["warnings"] = notes
    return out
