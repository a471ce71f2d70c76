"""Inference latency (eval mode, no grad) and training-step throughput, timed the same way everywhere.

`forward_step` builds the one callable that is timed, by `measure_latency` here (one cell's record) and by the
interleaved timer of a matrix's networks (suite/profiling/interleaved.py, benchmarks/latency/): a fixed random batch, eval mode, no grad, optional bf16 autocast and channels_last (GPU),
and a CUDA synchronisation inside the call so each call's wall time is the device's time. The loop is written out
rather than taken from `torch.utils.benchmark.Timer`, whose `timeit` warms up before every call and whose
`blocked_autorange` chooses its own iteration counts; the suite fixes both counts and records them.
"""

from __future__ import annotations

import copy
import gc
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from suite.matrix.schema import TrainConfig
from suite.models.trainable import freeze_frozen_modules

MIN_TIMED = 3


@dataclass(frozen=True)
class LatencySettings:
    """How latency is measured: batch sizes, warm-up and timed calls, a time budget, and the numeric settings
    (bf16 autocast and channels_last apply on CUDA only; `threads` None keeps torch's count)."""

    batch_sizes: tuple[int, ...] = (1, 32)
    warmup: int = 10
    iterations: int = 30
    max_seconds: float | None = None
    amp: bool = False
    channels_last: bool = False
    threads: int | None = None

    @classmethod
    def for_cell(cls, cfg: TrainConfig) -> LatencySettings:
        """As a cell's `train.profile` section asks, under the cell's own numeric settings."""
        p = cfg.profile
        amp, channels_last = cfg.amp is not False, cfg.channels_last is not False  # unset: on (CUDA only)
        return cls(
            tuple(p.batch_sizes), p.warmup, p.iterations, p.max_seconds, amp, channels_last, cfg.threads
        )


@contextmanager
def torch_threads(n: int | None) -> Iterator[int]:
    """Run with `n` torch CPU threads (None: unchanged), restoring the previous count; yields the count in use.

    Written out because `torch.utils.benchmark`'s equivalent pulls in the C++ extension builder on import.
    """
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def device_name(device: torch.device) -> str:
    """`cuda (NVIDIA H100 80GB HBM3)` or `cpu (AMD EPYC 7B13)`: the kind and the model of the device."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    name = ""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        name = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), "")
    except OSError:
        pass
    return f"cpu ({name or platform.processor() or platform.machine()})"


def inference_copy(model: nn.Module, device: torch.device, channels_last: bool = False) -> nn.Module:
    """A deep copy on `device` in eval mode (so timing never changes the caller's model or its memory format)."""
    net = copy.deepcopy(model).to(device).eval()
    return net.to(memory_format=torch.channels_last) if channels_last else net


def _batch(batch_size: int, image_size: int, device: torch.device, channels_last: bool) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)  # a private RNG: timing never moves the global one
    x = torch.randn(batch_size, 3, image_size, image_size, generator=generator).to(device)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def forward_step(
    net: nn.Module,
    batch_size: int,
    image_size: int,
    device: torch.device,
    amp: bool = False,
    channels_last: bool = False,
) -> Callable[[], None]:
    """One inference call on a fixed batch. `net` should come from `inference_copy`.

    On CUDA the call returns the device's seconds between two CUDA events recorded on the stream around the
    forward pass (the kernels' time, free of the host's launch jitter and of Python), after synchronising on the
    end event; elsewhere it returns None and the caller's wall clock is the measurement."""
    x = _batch(batch_size, image_size, device, channels_last)
    if device.type != "cuda":

        def step() -> float | None:
            with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                net(x)
            return None

        return step
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

    def cuda_step() -> float | None:
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            start.record()
            net(x)
            end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3  # elapsed_time is in ms

    return cuda_step


def time_calls(
    step: Callable[[], float | None], warmup: int, iterations: int, max_seconds: float | None = None
) -> tuple[list[float], int]:
    """Seconds of each of `iterations` calls after `warmup` untimed ones, with the garbage collector off; and how
    many warm-up calls ran. A call that returns its own seconds (CUDA events, `forward_step`) is recorded as that;
    otherwise its wall time.

    With a `max_seconds` budget (for slow CPU cells), warm-up stops once it has used a quarter of the budget
    (after at least one call) and timing once it has used the whole budget (after at least 3 calls). Callers
    record both counts, so a cut-short measurement is never mistaken for a full one.
    """
    start = time.perf_counter()
    warmed = 0
    for _ in range(warmup):
        step()
        warmed += 1
        if max_seconds and time.perf_counter() - start > max_seconds / 4:
            break
    times: list[float] = []
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        while len(times) < iterations:
            t0 = time.perf_counter()
            device_seconds = step()
            times.append(time.perf_counter() - t0 if device_seconds is None else device_seconds)
            if max_seconds and len(times) >= MIN_TIMED and time.perf_counter() - start > max_seconds:
                break
    finally:
        if enabled:
            gc.enable()
    return times, warmed


def summarise(seconds: Sequence[float]) -> dict[str, Any]:
    """Median and interquartile range in milliseconds, and how many calls were timed."""
    q1, median, q3 = np.percentile(np.asarray(seconds) * 1e3, [25, 50, 75])
    return {"median_ms": float(median), "iqr_ms": float(q3 - q1), "n": len(seconds)}


def measure_latency(
    model: nn.Module, image_size: int, device: torch.device, settings: LatencySettings = LatencySettings()
) -> tuple[dict[str, Any], list[str]]:
    """Latency per batch size (`batch_<b>`: median and IQR in ms, n timed, warm-up calls run) with the conditions it
    was measured under (`warmup` is the number asked for).

    `amp` (bf16 autocast) and `channels_last` apply on CUDA only and are recorded as applied. Returns the record and
    warnings (a batch size whose timing stopped early at `max_seconds`).
    """
    s = settings
    amp, channels_last = s.amp and device.type == "cuda", s.channels_last and device.type == "cuda"
    net = inference_copy(model, device, channels_last)
    record: dict[str, Any] = {}
    notes: list[str] = []
    with torch_threads(s.threads) as threads_used:
        for b in s.batch_sizes:
            step = forward_step(net, b, image_size, device, amp, channels_last)
            times, warmed = time_calls(step, s.warmup, s.iterations, s.max_seconds)
            record[f"batch_{b}"] = {**summarise(times), "warmup": warmed}
            if len(times) < s.iterations or warmed < s.warmup:
                notes.append(
                    f"latency batch {b}: {warmed} of {s.warmup} warm-up and {len(times)} of {s.iterations} timed "
                    f"calls (max_seconds {s.max_seconds:g} reached)"
                )
    header = {
        "device": device_name(device),
        "dtype": "bfloat16" if amp else "float32",
        "threads": threads_used,
        "channels_last": channels_last,
        "image_size": image_size,
        "warmup": s.warmup,
        **({"timer": "cuda_events"} if device.type == "cuda" else {}),
    }
    return {**header, **record}, notes


def measure_training(
    model: nn.Module,
    image_size: int,
    num_classes: int,
    device: torch.device,
    *,
    batch_size: int = 32,
    steps: int = 3,
    warmup: int = 1,
    amp: bool = False,
    channels_last: bool = False,
) -> float:
    """Training images per second over `steps` synthetic steps (forward, cross-entropy, backward, Adam step).

    Used by `medtl-bench profile`, which does not train; cells measure throughput in the real loop instead
    (suite/train/loop.py, steady-state epochs). It runs on a deep copy, so the caller's weights never change.
    """
    amp, channels_last = amp and device.type == "cuda", channels_last and device.type == "cuda"
    net = copy.deepcopy(model).to(device).train()
    freeze_frozen_modules(net)  # as the loop does: fully frozen parts stay in eval mode
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    trainable = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=1e-6) if trainable else None
    x = _batch(batch_size, image_size, device, channels_last)
    y = torch.arange(batch_size, device=device) % num_classes
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda *_: None)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = F.cross_entropy(net(x).float(), y)
        if trainable:
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        sync(device)

    times, _ = time_calls(step, warmup, steps)
    return batch_size / float(np.median(times))
