"""Choose and configure the launcher for `medtl-bench run --executor local|docker|slurm`.

Settings come from the matrix's `executor:` section, and the command line overrides them. Returns the launcher,
how many cells the Scheduler keeps running at once, and what the results should record about the executor.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from pydantic import BaseModel, ValidationError

from suite.errors import UserError
from suite.matrix import Cell, LoadedMatrix
from suite.results import RunPaths
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


def make_launcher(
    args: argparse.Namespace, matrix: LoadedMatrix, paths: RunPaths, cells: list[Cell]
) -> tuple[Any, int, dict[str, Any]]:
    """(launcher, cells at a time, environment entries that every result of this run records)."""
    name = getattr(args, "executor", "local")
    jobs = getattr(args, "jobs", None)
    if name == "local":
        from suite.runner.local import local_launcher

        jobs = jobs or 1
        # cells running at once share the cores; a cell whose train.threads is unset takes its share, so two cells
        # on two cores do not each start two threads and crawl
        threads = max(1, len(os.sched_getaffinity(0)) // jobs)
        env = {THREADS_ENV: str(threads), **_memory_limit(getattr(args, "memory", None))}
        return local_launcher(env), jobs, {"executor": "local"}
    if name == "docker":
        from suite.runner.docker import DockerLauncher

        settings = _override(matrix.spec.executor.docker, args, _DOCKER_FLAGS)
        launcher = DockerLauncher(settings, paths.root, matrix.name)
        gpus = launcher.gpus
        where = f"GPUs {','.join(gpus)}, one per cell" if gpus else "the CPU (no GPU visible; --gpus none)"
        print(f"medtl-bench: docker executor: {settings.image} on {where}", file=sys.stderr)
        return launcher, jobs or max(1, len(gpus)), launcher.environment()
    if name == "slurm":
        from suite.runner.slurm import SlurmLauncher

        settings = _override(matrix.spec.executor.slurm, args, _SLURM_FLAGS)
        if jobs:  # on Slurm, --jobs caps how many tasks of an array run at once
            settings = settings.model_copy(update={"array_parallelism": jobs})
        launcher = SlurmLauncher(settings, paths.work / "slurm", matrix.name)
        return launcher, max(1, len(cells)), launcher.environment()
    raise UserError(f"--executor {name!r}: valid: {', '.join(EXECUTORS)}")
