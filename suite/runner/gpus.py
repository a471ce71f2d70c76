"""Which GPU each cell gets, and how many cells share one (`--cells-per-gpu N`, local and docker executors).

A cell that trains a small network at 64-224 px uses a fraction of a modern GPU; running several at once on one
device turns idle SMs into finished cells. The pool hands each new cell the least-busy GPU, at most N cells each.
Without `--cells-per-gpu`, N comes from the GPUs' free memory divided by what a cell of this matrix needs: the
largest peak that finished cells recorded on a GPU (`memory.peak_bytes`, torch's max allocated), plus a margin for
the allocator's cache, plus one CUDA context per process. With no GPU peak recorded yet, N is 1: a guess could
run every cell out of memory at once, and the next run chooses from what this one recorded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

# What one more process costs on a GPU beyond its tensors: the CUDA context, cuDNN/cuBLAS handles and workspace
# (measured ~0.5 GiB on recent drivers for torch; rounded up).
CONTEXT_BYTES = 768 * 2**20
# torch's caching allocator holds more than the peak it reports as allocated; leave a quarter on top.
ALLOCATOR_MARGIN = 1.25
MAX_CELLS_PER_GPU = 8


def visible_gpus(spec: str = "all") -> list[str]:
    """Device ids for `--gpus all|none|0,1`. `all` lists this host's GPUs as CUDA numbers them here: within
    CUDA_VISIBLE_DEVICES when it is set, so a local cell pinned to id `k` sees the GPU the driver saw as `k`."""
    if spec == "none":
        return []
    if spec != "all":
        return [g.strip() for g in spec.split(",") if g.strip()]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def physical_id(gpu: str) -> str:
    """The driver's CUDA id `gpu` as the physical GPU it names (the driver may itself see a subset through
    CUDA_VISIBLE_DEVICES): what a child's CUDA_VISIBLE_DEVICES and nvidia-smi's index use."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    return visible.split(",")[int(gpu)].strip() if visible else gpu


def free_bytes(ids: list[str]) -> dict[str, int]:
    """Free memory per GPU, from nvidia-smi when it is there (it creates no CUDA context in the driver, which
    `torch.cuda.mem_get_info` would, holding ~0.5 GiB of each GPU for the whole run), else from torch."""
    smi = shutil.which("nvidia-smi")
    if smi:
        done = subprocess.run(
            [smi, "--query-gpu=index,memory.free", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if done.returncode == 0:
            by_index = {}
            for line in done.stdout.strip().splitlines():
                index, free = (part.strip() for part in line.split(","))
                by_index[index] = int(free) * 2**20
            # nvidia-smi numbers GPUs physically; CUDA numbers the visible ones from 0
            return {i: by_index.get(physical_id(i), 0) for i in ids}
    import torch

    return {i: torch.cuda.mem_get_info(int(i))[0] for i in ids}


@dataclass(frozen=True)
class Sharing:
    """How many cells share each GPU, and why (printed when the run starts, recorded in every result)."""

    per_gpu: int
    reason: str


def choose_cells_per_gpu(
    requested: int | None,
    ids: list[str],
    recorded_peaks: Iterable[int],
    free: Callable[[list[str]], dict[str, int]] = free_bytes,
    cores: int | None = None,
) -> Sharing:
    """`--cells-per-gpu` as given, else from free memory and the largest GPU peak finished cells recorded."""
    if requested is not None:
        return Sharing(requested, "--cells-per-gpu")
    if not ids:
        return Sharing(1, "no GPU")
    peak = max(recorded_peaks, default=0)
    if peak <= 0:
        return Sharing(
            1, "no cell of this matrix has recorded its GPU memory yet; set --cells-per-gpu to share"
        )
    need = int(peak * ALLOCATOR_MARGIN) + CONTEXT_BYTES
    least_free = min(free(ids).values())
    fits = least_free // need
    cores = cores or len(os.sched_getaffinity(0))
    per_gpu = max(1, min(fits, MAX_CELLS_PER_GPU, max(1, cores // len(ids))))
    return Sharing(
        per_gpu,
        f"{least_free / 2**30:.1f} GiB free on the fullest GPU / {need / 2**30:.2f} GiB a cell"
        f" (recorded peak {peak / 2**30:.2f} GiB × {ALLOCATOR_MARGIN} + CUDA context), capped by"
        f" {MAX_CELLS_PER_GPU} and the CPU cores per GPU",
    )


class GpuPool:
    """Hands each new cell the least-busy GPU, at most `per_gpu` cells on one; `capacity` cells in all."""

    def __init__(self, ids: list[str], per_gpu: int = 1) -> None:
        self.ids, self.per_gpu = ids, max(1, per_gpu)
        self.busy: Counter[str] = Counter()
        self._lock = threading.Lock()

    @property
    def capacity(self) -> int:
        return len(self.ids) * self.per_gpu

    def acquire(self) -> str | None:
        """A GPU id, or None when there are no GPUs (the cell runs on the CPU). The Scheduler never starts more
        than `capacity` cells; should a caller ask beyond it, the least-busy GPU is shared further."""
        if not self.ids:
            return None
        with self._lock:
            gpu = min(self.ids, key=lambda i: (self.busy[i], self.ids.index(i)))
            self.busy[gpu] += 1
            return gpu

    def release(self, gpu: str | None) -> None:
        if gpu is not None:
            with self._lock:
                self.busy[gpu] -= 1
