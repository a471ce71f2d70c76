"""Choose and configure the launcher for `medtl-bench run --executor local|docker|slurm`.

Settings come from the matrix's `executor:` section, and the command line overrides them. Returns the launcher,
how many cells the Scheduler keeps running at once, and what the results should record about the executor.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from typing import Any

from pydantic import BaseModel, ValidationError

from suite.errors import UserError
from suite.matrix import Cell, LoadedMatrix
from suite.results import RunPaths
from suite.runner.gpus import GpuPool, choose_cells_per_gpu, visible_gpus
from suite.runner.spec import MEMORY_ENV, THREADS_ENV

EXECUTORS = ("local", "docker", "slurm")
# command-line flag → settings field, per executor
_DOCKER_FLAGS = {"image": "image", "gpus": "gpus", "memory": "memory", "cpus": "cpus"}
_SLURM_FLAGS = {
    "partition": "partition",
    "account": "account",
    "time": "time_min",
    "memory": "memory",
    "cpus": "cpus",
}


def _override(settings: BaseModel, args: argparse.Namespace, flags: dict[str, str]) -> Any:
    """The matrix's settings with the command line's flags on top, validated like the matrix file."""
    given = {
        field: getattr(args, flag) for flag, field in flags.items() if getattr(args, flag, None) is not None
    }
    try:
        return type(settings).model_validate({**settings.model_dump(), **given})
    except ValidationError as exc:
        err = exc.errors()[0]
        flag = next((f for f, field in flags.items() if field == err["loc"][0]), err["loc"][0])
        raise UserError(f"--{flag} {given.get(err['loc'][0])!r}: {err['msg']}") from None


def _memory_limit(memory: str | None) -> dict[str, str]:
    """`--memory 8g` on the local executor: each cell's address-space limit beyond what its imports mapped."""
    if memory is None:
        return {}
    from docker.utils import parse_bytes  # docker-py's parser, so `--memory` reads the same on every executor

    try:
        limit = parse_bytes(memory)
    except Exception:  # docker-py raises its own DockerException for a malformed size
        raise UserError(f"--memory {memory!r}: give a size such as 512m or 8g") from None
    if limit <= 0:
        raise UserError(f"--memory {memory!r}: give a size such as 512m or 8g")
    return {MEMORY_ENV: str(limit)}


def _local_gpus(cells: list[Cell]) -> list[str]:
    """The GPUs local cells may use: none when every cell asks for the CPU or the host has no NVIDIA driver (so a
    CPU machine's driver never imports torch to find out)."""
    if all(c.config.train.device == "cpu" for c in cells) or not shutil.which("nvidia-smi"):
        return []
    return visible_gpus("all")


def _recorded_gpu_peaks(paths: RunPaths) -> list[int]:
    """The GPU memory peaks that this matrix's finished cells recorded (torch's max allocated)."""
    from suite.results import load_results

    found = load_results(paths.runs) if paths.runs.is_dir() else []
    return [
        r.memory.peak_bytes
        for r in found
        if r.status == "ok" and r.memory.kind == "cuda_max_allocated" and r.memory.peak_bytes
    ]


def _gpu_pool(args: argparse.Namespace, paths: RunPaths, ids: list[str]) -> GpuPool:
    requested = getattr(args, "cells_per_gpu", None)
    sharing = choose_cells_per_gpu(requested, ids, _recorded_gpu_peaks(paths) if ids else [])
    if ids:
        print(f"medtl-bench: {sharing.per_gpu} cell(s) per GPU ({sharing.reason})", file=sys.stderr)
    return GpuPool(ids, sharing.per_gpu)


def _where(pool: GpuPool) -> str:
    if not pool.ids:
        return "the CPU (no GPU visible; --gpus none)"
    return f"GPUs {','.join(pool.ids)}, {pool.per_gpu} cell(s) each"


def _sharing_record(pool: GpuPool) -> dict[str, Any]:
    """What every result of the run records: how many cells shared a GPU (it changes measured latency)."""
    return {"cells_per_gpu": pool.per_gpu} if pool.ids else {}


def make_launcher(
    args: argparse.Namespace, matrix: LoadedMatrix, paths: RunPaths, cells: list[Cell]
) -> tuple[Any, int, dict[str, Any]]:
    """(launcher, cells at a time, environment entries that every result of this run records)."""
    name = getattr(args, "executor", "local")
    jobs = getattr(args, "jobs", None)
    if name == "local":
        from suite.runner.local import local_launcher

        pool = _gpu_pool(args, paths, _local_gpus(cells))
        jobs = jobs or max(1, pool.capacity)
        # cells running at once share the cores; a cell whose train.threads is unset takes its share, so two cells
        # on two cores do not each start two threads and crawl
        threads = max(1, len(os.sched_getaffinity(0)) // jobs)
        env = {THREADS_ENV: str(threads), **_memory_limit(getattr(args, "memory", None))}
        return local_launcher(env, pool), jobs, {"executor": "local", **_sharing_record(pool)}
    if name == "docker":
        from suite.runner.docker import DockerLauncher

        settings = _override(matrix.spec.executor.docker, args, _DOCKER_FLAGS)
        pool = _gpu_pool(args, paths, visible_gpus(settings.gpus))
        jobs = jobs or max(1, pool.capacity)
        launcher = DockerLauncher(settings, paths.root, matrix.name, pool=pool, jobs=jobs)
        print(f"medtl-bench: docker executor: {settings.image} on {_where(pool)}", file=sys.stderr)
        return launcher, jobs, {**launcher.environment(), **_sharing_record(pool)}
    if name == "slurm":
        from suite.runner.slurm import SlurmLauncher

        settings = _override(matrix.spec.executor.slurm, args, _SLURM_FLAGS)
        if jobs:  # on Slurm, --jobs caps how many tasks of an array run at once
            settings = settings.model_copy(update={"array_parallelism": jobs})
        launcher = SlurmLauncher(settings, paths.work / "slurm", matrix.name)
        return launcher, max(1, len(cells)), launcher.environment()
    raise UserError(f"--executor {name!r}: valid: {', '.join(EXECUTORS)}")
