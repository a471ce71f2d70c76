"""Peak memory over a window (training, or a synthetic training step): CUDA max allocated, or peak RSS on CPU.

On CUDA the window starts at `torch.cuda.reset_peak_memory_stats`. On Linux CPUs it starts by writing 5 to
/proc/self/clear_refs, which resets the process's peak resident set size (VmHWM) to its current size (proc(5),
Linux ≥ 4.0); the peak is then the whole process's RSS high-water mark inside the window, model, data and
optimiser included. Where that reset is not possible the peak covers the process's whole life, and `scope` says so.
"""

from __future__ import annotations

import re
import resource
import sys
from pathlib import Path
from typing import Any

import torch

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


def reset_peak_memory(device: torch.device) -> bool:
    """Start a measurement window; False when only the process-lifetime peak is available."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return True
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def _peak_rss_bytes() -> int:
    try:
        match = re.search(r"^VmHWM:\s+(\d+) kB", _STATUS.read_text(), re.MULTILINE)
    except OSError:
        match = None
    if match:
        return int(match.group(1)) * 1024
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss if sys.platform == "darwin" else maxrss * 1024  # bytes on macOS, KiB elsewhere


def peak_memory(device: torch.device, scope: str) -> dict[str, Any]:
    """`{"peak_bytes", "kind", "scope"}`; `scope` names the window (e.g. "training")."""
    if device.type == "cuda":
        return {
            "peak_bytes": int(torch.cuda.max_memory_allocated(device)),
            "kind": "cuda_max_allocated",
            "scope": scope,
        }
    return {"peak_bytes": _peak_rss_bytes(), "kind": "cpu_peak_rss", "scope": scope}
