"""Latency timing rules: warm-up then timed calls, median and IQR, eval mode and no grad on a copy, the requested
threads, and a time budget that cuts a slow measurement short and says so (suite/profiling/timing.py)."""

from __future__ import annotations

import time

import pytest
import torch
from torch import nn

from suite.profiling import LatencySettings, measure_latency
from suite.profiling.timing import device_name, summarise, time_calls


class Probe(nn.Module):
    """Records the conditions of every forward call; optionally slow."""

    def __init__(self, sleep: float = 0.0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3)
        self.sleep, self.seen = sleep, []

    def forward(self, x):
        self.seen.append((self.training, torch.is_grad_enabled(), torch.get_num_threads()))
        time.sleep(self.sleep)
        return self.conv(x)


def test_time_calls_runs_warmup_then_timed_calls():
    calls = []
    times, warmed = time_calls(lambda: calls.append(1), warmup=10, iterations=30)
    assert len(calls) == 40 and len(times) == 30 and warmed == 10


def test_a_time_budget_cuts_warmup_and_timing_to_their_floor():
    def slow():
        time.sleep(0.01)

    times, warmed = time_calls(slow, warmup=10, iterations=30, max_seconds=0.02)
    assert warmed == 1 and len(times) == 3  # the floor: one warm-up call and 3 timed ones


def test_summary_is_median_and_iqr_in_ms():
    assert summarise([0.001, 0.002, 0.003, 0.004, 0.005]) == pytest.approx(
        {"median_ms": 3.0, "iqr_ms": 2.0, "n": 5}
    )


def test_latency_is_eval_no_grad_on_a_copy_with_threads_recorded():
    model = Probe().train()
    threads = torch.get_num_threads()
    record, notes = measure_latency(  # AMP and channels_last are GPU options: recorded as not applied on CPU
        model,
        8,
        torch.device("cpu"),
        LatencySettings(batch_sizes=(1, 4), warmup=2, iterations=5, threads=1, amp=True, channels_last=True),
    )
    assert model.training and model.seen == []  # the caller's model is neither switched nor called
    assert set(record) >= {"device", "dtype", "threads", "channels_last", "batch_1", "batch_4"}
    assert record["batch_4"]["n"] == 5 and record["batch_1"]["median_ms"] > 0 and not notes
    assert record["dtype"] == "float32" and record["threads"] == 1 and record["channels_last"] is False
    assert record["device"] == device_name(torch.device("cpu")) and record["device"].startswith("cpu (")
    assert torch.get_num_threads() == threads


def test_latency_calls_are_eval_mode_no_grad_with_the_requested_threads(monkeypatch):
    copy_seen = []
    original = Probe.forward

    def spy(self, x):
        out = original(self, x)
        copy_seen.append(self.seen[-1])
        return out

    monkeypatch.setattr(Probe, "forward", spy)
    measure_latency(
        Probe(), 8, torch.device("cpu"), LatencySettings(batch_sizes=(1,), warmup=1, iterations=3, threads=1)
    )
    assert copy_seen == [(False, False, 1)] * 4  # eval mode, no grad, the requested threads


def test_latency_budget_stops_slow_timing_early_and_says_so():
    record, notes = measure_latency(  # AMP and channels_last are GPU options: recorded as not applied on CPU
        Probe(sleep=0.02),
        8,
        torch.device("cpu"),
        LatencySettings(batch_sizes=(1,), warmup=10, iterations=30, max_seconds=0.1),
    )
    assert 3 <= record["batch_1"]["n"] < 30 and record["batch_1"]["warmup"] < 10  # both counts as they ran
    assert notes and "of 30 timed calls (max_seconds 0.1 reached)" in notes[0] and "of 10 warm-up" in notes[0]


def test_interleaved_timing_rotates_blocks_and_records_cpu_time():
    """Issue 16.5: every network timed in one process in rotating round-robin blocks, CPU time beside wall time."""
    from suite.profiling.interleaved import summarise_calls, time_interleaved

    calls: list[str] = []
    steps = {k: (lambda k=k: calls.append(k)) for k in "abc"}
    times = time_interleaved(steps, rounds=3, block=2, warmup=1)
    assert "".join(calls) == "abc" + "aabbcc" + "bbccaa" + "ccaabb"  # warm-up, then each round rotated by one
    assert all(len(t.wall) == len(t.thread_cpu) == len(t.process_cpu) == 6 for t in times.values())
    summary = summarise_calls(times["a"])
    assert summary["n"] == 6 and summary["q1_ms"] <= summary["median_ms"] <= summary["q3_ms"]
    assert {"thread_cpu_median_ms", "process_cpu_median_ms", "cpu_per_wall", "min_ms", "max_ms"} <= set(
        summary
    )


def test_interleaved_latency_of_two_networks_on_the_cpu():
    from suite.profiling.interleaved import InterleavedSettings, measure_interleaved

    small = nn.Sequential(nn.Conv2d(3, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    big = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 8, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    settings = InterleavedSettings(batch_sizes=(1, 2), warmup=1, rounds=2, block=2, threads=1)
    summary, header = measure_interleaved({"s": (small, 16), "b": (big, 16)}, torch.device("cpu"), settings)
    assert set(summary) == {("s", 1), ("s", 2), ("b", 1), ("b", 2)}
    assert all(s["n"] == 4 and s["median_ms"] > 0 for s in summary.values())
    assert header["threads"] == 1 and header["rounds"] == 2 and header["dtype"] == "float32"
    assert small.training  # timed on copies: the caller's modules are untouched


class FakeEvent:
    """torch.cuda.Event on a machine without CUDA: each pair of records is 4 ms apart on the 'device'."""

    def __init__(self, enable_timing: bool = False) -> None:
        self.recorded = 0

    def record(self) -> None:
        self.recorded += 1

    def synchronize(self) -> None: ...

    def elapsed_time(self, end: FakeEvent) -> float:
        return 4.0


def test_on_cuda_latency_is_the_cuda_events_time_not_the_host_wall_clock(monkeypatch):
    """Issue 15.4: CUDA-event timing. The forward step records an event pair around the pass and returns the device
    time, which time_calls, the interleaved timer and the cell's record use instead of the (here slow) wall clock."""
    from suite.profiling import timing
    from suite.profiling.interleaved import summarise_calls, time_interleaved

    monkeypatch.setattr(torch.cuda, "Event", FakeEvent)
    monkeypatch.setattr(timing, "_batch", lambda b, size, device, cl: torch.zeros(b, 3, size, size))

    class Slow(nn.Module):
        def forward(self, x):
            time.sleep(0.02)  # 20 ms of host time per call
            return x.mean()

    step = timing.forward_step(Slow().eval(), 1, 8, torch.device("cuda"))
    times, _ = time_calls(step, warmup=1, iterations=3)
    assert times == [0.004] * 3
    summary = summarise_calls(time_interleaved({"a": step}, rounds=2, block=2, warmup=0)["a"])
    assert summary["timer"] == "cuda_events" and summary["median_ms"] == pytest.approx(4.0)
    assert summary["wall_median_ms"] >= 20
    cpu_step = timing.forward_step(Slow().eval(), 1, 8, torch.device("cpu"))
    assert cpu_step() is None and time_calls(cpu_step, 0, 2)[0][0] >= 0.02
