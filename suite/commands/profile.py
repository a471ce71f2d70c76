"""`medtl-bench profile ARCH`: everything the suite measures about a model's cost, without data or training.

The model is built as a cell builds it (suite architecture name or `timm:<model>`, a new head of `num_classes`,
random weights unless `pretrained`), then the strategy prepares it exactly as in a cell (suite/assembly.py), so
truncated, channel-halved or LoRA models report their real sizes. Memory and throughput come from a few synthetic
training steps, since nothing is trained here.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Any

import torch
from tabulate import tabulate

from suite.assembly import prepare_strategy, strategy_of
from suite.catalog import SuiteCatalog
from suite.errors import UserError
from suite.matrix.cell import StrategyRef
from suite.matrix.schema import ArchitectureEntry, TrainConfig
from suite.models.build import build_model
from suite.models.catalog import TIMM, TORCHVISION, ArchSpec, resolve_architecture
from suite.profiling import (
    LatencySettings,
    count_macs,
    count_params,
    mac_warnings,
    measure_latency,
    measure_training,
    peak_memory,
    reset_peak_memory,
)
from suite.train import pick_device


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
) -> tuple[ArchSpec, StrategyRef, torch.nn.Module]:
    """(architecture spec, strategy config as a cell records it, prepared model) on the CPU; user errors are one line."""
    catalog = SuiteCatalog()
    resolved = catalog.architecture(ArchitectureEntry(name=architecture))  # did-you-mean for unknown names
    spec = resolve_architecture(architecture, input_size=image_size)
    ref = catalog.strategy(strategy, strategy_params or {}, resolved)
    model = build_model(spec, num_classes, "imagenet" if pretrained else "scratch")
    model, _ = prepare_strategy(model, strategy_of(ref), num_classes, epochs=1, image_size=spec.input_size)
    return spec, ref, model


def profile_architecture(req: ProfileRequest) -> dict[str, Any]:
    """The result fields (params, macs, latency, memory, throughput) for one model, plus what was profiled."""
    spec, _, model = build_prepared(
        req.architecture, req.strategy, req.image_size, req.num_classes, req.pretrained
    )
    device = pick_device(TrainConfig(device=req.device))
    if req.threads:
        torch.set_num_threads(req.threads)
    out: dict[str, Any] = {
        "architecture": spec.name,
        "timm": spec.timm_name if spec.family == TIMM else None,
        "torchvision": spec.timm_name if spec.family == TORCHVISION else None,
        "strategy": req.strategy,
        "image_size": spec.input_size,
        "num_classes": req.num_classes,
        "pretrained": req.pretrained,
        "params": count_params(model),
        "macs": count_macs(model, spec.input_size),
    }
    notes = mac_warnings(out["macs"])
    if req.latency:
        settings = LatencySettings(
            req.batch_sizes, req.warmup, req.iterations, amp=req.amp, channels_last=req.channels_last
        )
        out["latency"], timing_notes = measure_latency(model, spec.input_size, device, settings)
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


def profile_command(args: argparse.Namespace) -> str:
    """`medtl-bench profile ARCH`: one model's cost, as JSON or as a small table."""
    if args.iterations < 3 or args.warmup < 0 or min(args.train_batch_size, args.train_steps) < 1:
        raise UserError(
            "profile: --iterations must be ≥ 3, --warmup ≥ 0, --train-batch-size and --train-steps ≥ 1"
        )
    fields = {f: getattr(args, f) for f in ProfileRequest.__dataclass_fields__ if f != "architecture"}
    profile = profile_architecture(ProfileRequest(args.architecture, **fields))
    return json.dumps(profile, indent=1) if args.json else format_profile(profile)


def _family(p: dict) -> str:
    """`timm resnet50` or `torchvision mobilenet_v2`: which library built the model."""
    return f"torchvision {p['torchvision']}" if p.get("torchvision") else f"timm {p['timm']}"


def format_profile(p: dict) -> str:
    """The profile as a two-column table; MACs always name their counter."""
    rows = [
        [
            "model",
            f"{p['architecture']} ({_family(p)}), strategy {p['strategy']}, {p['num_classes']} classes",
        ],
        ["params", f"{p['params']['total']:,} total, {p['params']['trainable']:,} trainable"],
    ]
    macs = p["macs"]
    counted = ", ".join(f"{c} {macs[c]:.3f} G" for c in ("fvcore", "thop") if macs.get(c) is not None)
    rows.append([f"MACs (1×3×{macs['image_size']}²)", counted or "–"])
    if macs["unsupported_ops"]:
        rows.append(["fvcore skipped", ", ".join(f"{op} ×{n}" for op, n in macs["unsupported_ops"].items())])
    if "latency" in p:
        lat = p["latency"]
        for key, value in lat.items():
            if key.startswith("batch_"):
                rows.append(
                    [
                        f"latency {key.replace('_', ' ')}",
                        f"{value['median_ms']:.2f} ms median, IQR {value['iqr_ms']:.2f} ms, n={value['n']}",
                    ]
                )
        rows.append(
            [
                "measured on",
                f"{lat['device']}, {lat['dtype']}, {lat['threads']} threads, channels_last {lat['channels_last']}",
            ]
        )
    if "memory" in p:
        mem = p["memory"]
        rows.append(["peak memory", f"{mem['peak_bytes'] / 2**20:,.0f} MiB ({mem['kind']}, {mem['scope']})"])
        rows.append(["training", f"{p['throughput']['train_img_s']:.1f} img/s"])
    rows += [["warning", w] for w in p.get("warnings", [])]
    return tabulate(rows, tablefmt="plain")
