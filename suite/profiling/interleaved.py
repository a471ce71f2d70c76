"""Latency of several networks timed together in one process, in rotating round-robin blocks.

    warm-up:   every step `warmup` times, round-robin
    round r:   for each step, in an order rotated by r: `block` timed calls
    per call:  wall seconds (perf_counter), this thread's CPU seconds (thread_time), the process's CPU (process_time)
               and, on CUDA, the device seconds between two CUDA events around the forward pass (the summary
               then reads those, with the wall median beside them)

A machine whose load drifts (other jobs on a shared VM) then slows every network alike instead of whichever
happened to run during the busy minute, so two networks' medians can be compared. The summary of each step is the
median and interquartile range of its wall times, with its CPU times beside them: a call whose process CPU time is
far below its wall time (times the threads at work) waited for a core, which is how steal or a neighbour's load shows.

Where the sequential timer (`time_calls`) serves one cell's record, this one serves a matrix's latency.json and
`make latency-cv`.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from suite.profiling.timing import device_name, forward_step, inference_copy, torch_threads

_PROC_STAT = Path("/proc/stat")


@dataclass
class CallTimes:
    """Seconds per timed call, in call order: wall clock, this thread's CPU, the whole process's CPU."""

    wall: list[float] = field(default_factory=list)
    thread_cpu: list[float] = field(default_factory=list)
    process_cpu: list[float] = field(default_factory=list)
    device: list[float] = field(default_factory=list)  # CUDA-event seconds, when the step reports them


def rotation(keys: list, r: int) -> list:
    """The order of round `r`: the keys rotated left by `r`, so no network always runs first (or after the same
    neighbour's caches)."""
    if not keys:
        return []
    r %= len(keys)
    return keys[r:] + keys[:r]


def time_interleaved(
    steps: Mapping[Hashable, Callable[[], float | None]], rounds: int, block: int, warmup: int
) -> dict[Hashable, CallTimes]:
    """`rounds` × `block` timed calls of every step, in rotating round-robin blocks, after `warmup` untimed calls of
    each (also round-robin), with the garbage collector off while timing."""
    if rounds < 1 or block < 1 or warmup < 0:
        raise ValueError(f"rounds and block must be ≥ 1 and warmup ≥ 0, got {rounds}, {block}, {warmup}")
    keys = list(steps)
    for _ in range(warmup):
        for key in keys:
            steps[key]()
    times = {key: CallTimes() for key in keys}
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for r in range(rounds):
            for key in rotation(keys, r):
                step, out = steps[key], times[key]
                for _ in range(block):
                    w0, t0, p0 = time.perf_counter(), time.thread_time(), time.process_time()
                    device_seconds = step()
                    w1, t1, p1 = time.perf_counter(), time.thread_time(), time.process_time()
                    if device_seconds is not None:
                        out.device.append(device_seconds)
                    out.wall.append(w1 - w0)
                    out.thread_cpu.append(t1 - t0)
                    out.process_cpu.append(p1 - p0)
    finally:
        if enabled:
            gc.enable()
    return times


def summarise_calls(times: CallTimes) -> dict[str, Any]:
    """Median, quartiles and IQR of the wall times in ms, the CPU-time medians beside them, and `cpu_per_wall`: the
    process's CPU seconds per wall second over all calls (about the number of busy threads; it falls when the
    process waited for a core)."""
    wall = np.asarray(times.wall) * 1e3
    timed = np.asarray(times.device) * 1e3 if times.device else wall  # CUDA events where the step gave them
    q1, median, q3 = np.percentile(timed, [25, 50, 75])
    total_wall = float(np.sum(times.wall))
    cuda = {"timer": "cuda_events", "wall_median_ms": float(np.median(wall))} if times.device else {}
    return {
        **cuda,
        "median_ms": float(median),
        "iqr_ms": float(q3 - q1),
        "q1_ms": float(q1),
        "q3_ms": float(q3),
        "min_ms": float(timed.min()),
        "max_ms": float(timed.max()),
        "n": len(times.wall),
        "thread_cpu_median_ms": float(np.median(times.thread_cpu) * 1e3),
        "process_cpu_median_ms": float(np.median(times.process_cpu) * 1e3),
        "cpu_per_wall": float(np.sum(times.process_cpu) / total_wall) if total_wall > 0 else float("nan"),
    }


def cpu_steal_seconds() -> float | None:
    """The machine's accumulated steal time in seconds, summed over CPUs (Linux /proc/stat); None elsewhere.

    The 8th value of the `cpu` line is steal in USER_HZ ticks (100 per second on Linux, proc(5)). The difference
    over a measurement is the time the hypervisor ran other guests while this one had work.
    """
    try:
        line = _PROC_STAT.read_text().splitlines()[0].split()
        return int(line[8]) / 100.0 if line[0] == "cpu" and len(line) > 8 else None
    except (OSError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class InterleavedSettings:
    """How the interleaved timer runs: batch sizes, warm-up calls per step, rounds × calls per block, and the numeric
    settings (bf16 autocast and channels_last apply on CUDA only; `threads` None keeps torch's count)."""

    batch_sizes: tuple[int, ...] = (1,)
    warmup: int = 5
    rounds: int = 10
    block: int = 5
    threads: int | None = None
    amp: bool = False
    channels_last: bool = False


def measure_interleaved(
    networks: Mapping[Hashable, tuple[torch.nn.Module, int]],
    device: torch.device,
    settings: InterleavedSettings,
) -> tuple[dict[tuple[Hashable, int], dict[str, Any]], dict[str, Any]]:
    """Latency of every (network, batch size), interleaved: `networks` maps a key to (model, image size).

    Returns the summary per (key, batch size) (`summarise_calls`) and the conditions for the file's header
    (device, dtype, threads, channels_last, warmup, rounds, block, the steal seconds over the run, the load average).
    """
    s = settings
    amp, channels_last = s.amp and device.type == "cuda", s.channels_last and device.type == "cuda"
    steps = {}
    for key, (model, image_size) in networks.items():
        net = inference_copy(model, device, channels_last)
        for b in s.batch_sizes:
            steps[(key, b)] = forward_step(net, b, image_size, device, amp, channels_last)
    load_before, steal_before = os.getloadavg(), cpu_steal_seconds()
    with torch_threads(s.threads) as threads_used:
        times = time_interleaved(steps, s.rounds, s.block, s.warmup)
    steal_after = cpu_steal_seconds()
    header = {
        "device": device_name(device),
        "dtype": "bfloat16" if amp else "float32",
        "threads": threads_used,
        "channels_last": channels_last,
        "warmup": s.warmup,
        "rounds": s.rounds,
        "block": s.block,
        "steal_s": None if steal_before is None or steal_after is None else steal_after - steal_before,
        "load_before": list(load_before),
        "load_after": list(os.getloadavg()),
    }
    return {key: summarise_calls(t) for key, t in times.items()}, header
