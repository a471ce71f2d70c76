"""More than one cell per GPU (`--cells-per-gpu`), on the CPU: the pool's arithmetic, the default from free memory
and recorded peaks, the local launcher's pinning (CUDA_VISIBLE_DEVICES per cell, the GPU back when the cell ends),
the docker and local executors' cells at a time, and a bad flag."""

from __future__ import annotations

import argparse
import stat
from pathlib import Path

import pytest

from suite.catalog import SuiteCatalog
from suite.matrix import load_matrix
from suite.results import RunPaths
from suite.runner import executors
from suite.runner.gpus import CONTEXT_BYTES, GpuPool, choose_cells_per_gpu, free_bytes
from suite.runner.local import GpuLauncher

GiB = 2**30


def test_the_pool_fills_every_gpu_evenly_up_to_its_share():
    pool = GpuPool(["0", "1"], per_gpu=3)
    assert pool.capacity == 6
    got = [pool.acquire() for _ in range(6)]
    assert got.count("0") == got.count("1") == 3 and got[:2] == ["0", "1"]
    pool.release("1")
    assert pool.acquire() == "1"
    assert GpuPool([], per_gpu=4).capacity == 0 and GpuPool([]).acquire() is None


def test_the_default_share_comes_from_free_memory_and_the_recorded_peak():
    free = lambda ids: {"0": 40 * GiB, "1": 30 * GiB}  # noqa: E731
    sharing = choose_cells_per_gpu(None, ["0", "1"], [2 * GiB, 4 * GiB], free=free, cores=64)
    need = 4 * GiB * 1.25 + CONTEXT_BYTES
    assert sharing.per_gpu == int(30 * GiB // need) == 5 and "30.0 GiB free" in sharing.reason
    # capped by the CPU cores each GPU's cells share, and by the hard cap
    assert choose_cells_per_gpu(None, ["0", "1"], [4 * GiB], free=free, cores=4).per_gpu == 2
    assert choose_cells_per_gpu(None, ["0"], [1], free=lambda ids: {"0": 10**15}, cores=64).per_gpu == 8
    # a cell larger than the free memory still gets its GPU alone
    assert choose_cells_per_gpu(None, ["0"], [80 * GiB], free=free, cores=64).per_gpu == 1


def test_without_a_recorded_gpu_peak_or_a_gpu_it_is_one_and_the_flag_wins():
    never = lambda ids: pytest.fail("free memory must not be asked")  # noqa: E731
    assert choose_cells_per_gpu(None, ["0"], [], free=never).per_gpu == 1
    assert "recorded" in choose_cells_per_gpu(None, ["0"], [], free=never).reason
    assert choose_cells_per_gpu(None, [], [8 * GiB], free=never).per_gpu == 1
    assert choose_cells_per_gpu(3, ["0"], [], free=never).per_gpu == 3


def test_free_memory_is_read_from_nvidia_smi_in_cuda_numbering(tmp_path, monkeypatch):
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\nprintf '0, 1000\\n1, 2000\\n2, 3000\\n'\n")
    smi.chmod(smi.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,0")
    assert free_bytes(["0", "1"]) == {"0": 3000 * 2**20, "1": 1000 * 2**20}


class FakeHandle:
    def __init__(self) -> None:
        self.code: int | None = None

    def poll(self) -> int | None:
        return self.code

    def kill(self) -> None:
        self.code = -9


class FakeInner:
    def __init__(self) -> None:
        self.extra_env: dict[str, str] = {"MEDTL_THREADS": "2"}
        self.started: list[dict[str, str]] = []

    def start(self, cell, spec_path, log_path) -> FakeHandle:
        self.started.append(dict(self.extra_env))
        return FakeHandle()


def test_local_cells_are_pinned_to_a_gpu_each_and_give_it_back(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5")  # the driver sees physical GPUs 4 and 5 as 0 and 1
    pool, inner = GpuPool(["0", "1"], per_gpu=2), FakeInner()
    launcher = GpuLauncher(inner, pool)
    handles = [launcher.start(None, Path("s"), Path("l")) for _ in range(4)]
    assert [e["CUDA_VISIBLE_DEVICES"] for e in inner.started] == ["4", "5", "4", "5"]
    assert all(e["MEDTL_THREADS"] == "2" for e in inner.started)
    handles[1].handle.code = 0
    assert handles[1].poll() == 0 and pool.busy["1"] == 1
    handles[1].poll()  # polling again does not give the GPU back twice
    assert pool.busy["1"] == 1
    handles[0].kill()
    assert pool.busy["0"] == 1
    launcher.start(None, Path("s"), Path("l"))
    assert inner.started[-1]["CUDA_VISIBLE_DEVICES"] == "4"


MATRIX = """
name: tiny
datasets: [synthetic-vessels]
architectures: ["timm:resnet10t"]
sources: [scratch]
strategies: [lp, ft]
seeds: [0]
train: {epochs: 1, image_size: 32}
"""


def _args(**kw) -> argparse.Namespace:
    base = {"executor": "local", "jobs": None, "memory": None, "cells_per_gpu": None, "gpus": None}
    return argparse.Namespace(**{**base, **kw})


def test_the_local_executor_runs_gpus_times_share_cells_and_records_the_share(tmp_path, monkeypatch):
    path = tmp_path / "tiny.yaml"
    path.write_text(MATRIX)
    matrix = load_matrix(str(path), SuiteCatalog())
    paths = RunPaths(tmp_path / "results" / "tiny")
    monkeypatch.setattr(executors, "_local_gpus", lambda cells: ["0", "1"])
    launcher, jobs, env = executors.make_launcher(_args(cells_per_gpu=3), matrix, paths, matrix.cells)
    assert isinstance(launcher, GpuLauncher) and jobs == 6 and env["cells_per_gpu"] == 3
    monkeypatch.setattr(executors, "_local_gpus", lambda cells: [])
    launcher, jobs, env = executors.make_launcher(_args(cells_per_gpu=3), matrix, paths, matrix.cells)
    assert not isinstance(launcher, GpuLauncher) and jobs == 1 and "cells_per_gpu" not in env


def test_the_docker_executor_runs_gpus_times_share_cells(tmp_path, monkeypatch):
    from test_docker_launcher import FakeClient

    path = tmp_path / "tiny.yaml"
    path.write_text(MATRIX)
    matrix = load_matrix(str(path), SuiteCatalog())
    paths = RunPaths(tmp_path / "results" / "tiny")
    monkeypatch.setattr("suite.runner.docker.connect", lambda: FakeClient())
    launcher, jobs, env = executors.make_launcher(
        _args(executor="docker", gpus="0,1,2", cells_per_gpu=2, image=None, cpus=None), matrix, paths, []
    )
    assert jobs == 6 and launcher.pool.per_gpu == 2 and env["cells_per_gpu"] == 2
    assert launcher.pool.ids == ["0", "1", "2"]


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_a_bad_cells_per_gpu_is_one_line_and_exit_2(value, capsys):
    from suite.cli import main

    assert main(["run", "smoke", "--dry-run", "--cells-per-gpu", value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--cells-per-gpu" in err[0]
