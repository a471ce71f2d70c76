"""Model cost, recorded in every result: params, MACs (fvcore and thop), latency, peak memory, throughput.

Result fields (the contract the report reads):
  params     = {"total": int, "trainable": int}                 after the strategy prepared the model
  macs       = {"image_size": int, "fvcore": GMACs, "thop": GMACs, "unsupported_ops": {op: count}}
  latency    = {"device", "dtype", "threads", "channels_last", "image_size", "warmup",
                "batch_1": {"median_ms", "iqr_ms", "n"}, "batch_32": {...}}
  memory     = {"peak_bytes": int, "kind": "cuda_max_allocated" | "cpu_peak_rss", "scope": str}
  throughput = {"train_img_s": float}                            steady-state epochs of the real loop
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from suite.matrix.schema import TrainConfig
from suite.profiling.counts import count_macs, count_params, mac_warnings
from suite.profiling.memory import peak_memory, reset_peak_memory
from suite.profiling.timing import (
    LatencySettings,
    device_name,
    forward_step,
    inference_copy,
    measure_latency,
    measure_training,
)

__all__ = [
    "LatencySettings",
    "count_macs",
    "count_params",
    "device_name",
    "forward_step",
    "inference_copy",
    "mac_warnings",
    "measure_latency",
    "measure_training",
    "peak_memory",
    "profile_cell",
    "reset_peak_memory",
]


def profile_cell(
    model: nn.Module, cfg: TrainConfig, device: torch.device
) -> tuple[dict[str, Any], list[str]]:
    """MACs and latency of a trained cell's model, as `cfg.profile` asks; returns result fields and warnings."""
    p = cfg.profile
    fields: dict[str, Any] = {}
    notes: list[str] = []
    if p.macs:
        fields["macs"] = count_macs(model, cfg.image_size)
        notes += mac_warnings(fields["macs"])
    if p.latency:
        try:
            settings = LatencySettings.for_cell(cfg)
            fields["latency"], timing_notes = measure_latency(model, cfg.image_size, device, settings)
            notes += timing_notes
        except RuntimeError as exc:  # e.g. out of memory at the large batch: keep the trained cell's result
            error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            fields["latency"] = {"device": device_name(device), "error": error}
            notes.append(f"latency not measured: {error}")
    return fields, notes
