"""The matrix file's `executor:` section: how the docker and slurm executors run its cells. No torch here.

Executor settings never change what a cell computes, so they are not part of any cell id; the command line
overrides them (`--image`, `--gpus`, `--memory`, `--cpus`, `--partition`, `--account`, `--time`).

    executor:
      docker: {image: medtl-bench:latest, gpus: all, memory: 24g, cpus: 8}
      slurm: {partition: gpu, account: my-lab, time_min: 120, cpus_per_task: 8, memory: 32g}
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(text: str | int) -> int:
    """`512m`, `16g`, `16GiB`, `1.5g` or a byte count → bytes (binary units, as Docker and Slurm read them)."""
    if isinstance(text, int):
        return text
    match = _SIZE.match(str(text))
    if not match:
        raise ValueError(f"{text!r} is not a size; write e.g. 512m or 16g")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def parse_gpus(text: str) -> str:
    """`all` (every visible GPU, or the CPU when there is none), `none` (CPU), or device ids such as `0,1`."""
    value = str(text).strip().lower()
    if value in ("all", "none"):
        return value
    ids = [part.strip() for part in value.split(",")]
    if not ids or not all(part.isdigit() for part in ids):
        raise ValueError(f"gpus {text!r}: write all, none, or device ids such as 0,1")
    return ",".join(ids)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Limits(_Strict):
    memory: str | None = Field(None, description="memory limit per cell, e.g. 16g; null: none")
    cpus: float | None = Field(None, gt=0, description="CPU cores per cell; null: no limit (docker)")

    @field_validator("memory")
    @classmethod
    def _size(cls, value: str | None) -> str | None:
        if value is not None:
            parse_size(value)
        return value


class DockerSettings(_Limits):
    """One container per cell: image, GPUs (one per cell, every listed GPU kept busy), limits."""

    image: str = Field("medtl-bench:latest", description="built by `make docker-build`")
    gpus: str = Field("all", description="all | none | device ids such as 0,1")
    shm_size: str = Field("2g", description="/dev/shm per container (DataLoader workers use it)")
    data: str | None = Field(None, description="host folder mounted read-only at /data; null: $MEDTL_DATA")

    @field_validator("gpus", mode="before")
    @classmethod
    def _gpus(cls, value: object) -> str:
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        return parse_gpus(str(value))

    @field_validator("shm_size")
    @classmethod
    def _shm(cls, value: str) -> str:
        parse_size(value)
        return value


class SlurmSettings(_Limits):
    """One array job per set of cells that are ready together, one GPU per task (via submitit)."""

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    time_min: int | None = Field(
        None, ge=1, description="--time per task; null: the cell's train.timeout_min"
    )
    gpus_per_task: int = Field(1, ge=0)
    array_parallelism: int | None = Field(None, ge=1, description="tasks of one array running at once")
    setup: list[str] = Field([], description="shell lines run before each task, e.g. `module load cuda`")
    additional: dict[str, str | int] = Field({}, description="other sbatch options, e.g. {constraint: a100}")
    cluster: Literal["slurm", "local"] = Field(
        "slurm", description="local: submitit's local executor (tests)"
    )


class ExecutorSettings(_Strict):
    docker: DockerSettings = DockerSettings()
    slurm: SlurmSettings = SlurmSettings()
