"""The slurm executor: sbatch options from the matrix and the CLI, and a real run on submitit's local executor."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from suite.catalog import SuiteCatalog
from suite.cli import main
from suite.errors import UserError
from suite.matrix import load_matrix
from suite.results import RunPaths, load_results
from suite.runner.executors import make_launcher
from suite.runner.slurm import SlurmLauncher
from suite.runner.spec import CellSpec

MATRIX = """
name: tiny
datasets: [synthetic-vessels]
architectures: ["timm:resnet10t"]
strategies: [lp]
seeds: {seeds}
train: {{epochs: 1, batch_size: 16, image_size: 32, threads: 1, timeout_min: 5}}
{body}
"""


def write(tmp_path: Path, body: str, seeds: str = "[0]") -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(MATRIX.format(body=body, seeds=seeds))
    return path


def test_executor_section_is_validated_with_file_and_line(tmp_path):
    path = write(tmp_path, "sources: [scratch]\nexecutor:\n  docker: {gpus: two}\n")
    with pytest.raises(UserError, match=r"tiny.yaml:\d+.*gpus"):
        load_matrix(str(path), SuiteCatalog())
    path = write(tmp_path, "sources: [scratch]\nexecutor:\n  slurm: {partion: gpu}\n")
    with pytest.raises(UserError, match=r"tiny.yaml:\d+.*partion"):
        load_matrix(str(path), SuiteCatalog())


def test_command_line_overrides_the_matrix_and_is_validated(tmp_path):
    path = write(
        tmp_path, "sources: [scratch]\nexecutor:\n  slurm: {partition: cpu, account: lab, cluster: local}\n"
    )
    matrix = load_matrix(str(path), SuiteCatalog())
    paths = RunPaths(tmp_path / "results" / "tiny")
    args = _args(executor="slurm", partition="gpu", time=7, memory="2g")
    launcher, jobs, env = make_launcher(args, matrix, paths, matrix.cells)
    s = launcher.settings
    assert (s.partition, s.account, s.time_min, s.memory) == ("gpu", "lab", 7, "2g")
    assert jobs == len(matrix.cells) and env["executor"] == "slurm (local)"
    with pytest.raises(UserError, match=r"--memory 'lots'"):
        make_launcher(_args(executor="slurm", memory="lots"), matrix, paths, matrix.cells)


def _args(**given):
    import argparse

    keys = ("executor", "jobs", "image", "gpus", "memory", "cpus", "partition", "account", "time")
    return argparse.Namespace(**{k: given.get(k) for k in keys})


def _fake_slurm(bin_dir: Path, capture: Path) -> None:
    """`srun` (so submitit sees a cluster) and an `sbatch` that saves the script and answers like Slurm."""
    bin_dir.mkdir()
    scripts = {
        "srun": "#!/bin/sh\nexit 0\n",
        "sbatch": f'#!/bin/sh\nfor last; do :; done\ncp "$last" {capture}\necho "Submitted batch job 4242"\n',
    }
    for name, text in scripts.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(stat.S_IRWXU)


def test_one_array_job_with_partition_account_time_and_one_gpu_per_task(tmp_path, monkeypatch):
    """The real submitit Slurm path up to sbatch: the ready cells go out as ONE array with the requested options."""
    capture = tmp_path / "sbatch.sh"
    _fake_slurm(tmp_path / "bin", capture)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    path = write(
        tmp_path,
        "sources: [scratch]\nexecutor:\n"
        "  slurm: {partition: gpu, account: lab, cpus: 4, memory: 16g, setup: [module load cuda]}\n",
        seeds="[0, 1, 2]",
    )
    matrix = load_matrix(str(path), SuiteCatalog())
    paths = RunPaths(tmp_path / "results" / "tiny")
    launcher, _, _ = make_launcher(_args(executor="slurm", jobs=2), matrix, paths, matrix.cells)
    assert isinstance(launcher, SlurmLauncher)
    handles = []
    for cell in matrix.cells:
        CellSpec.for_cell(cell, paths, "tiny", {}).write(paths.spec(cell))
        handles.append(launcher.start(cell, paths.spec(cell), paths.log(cell)))
    assert capture.exists() is False  # start() only queues
    launcher.flush()
    script = capture.read_text()
    for option in (
        "--partition=gpu",
        "--account=lab",
        "--time=5",
        "--gpus-per-node=1",
        "--ntasks-per-node=1",
        "--cpus-per-task=4",
        "--mem=16GB",
        "--array=0-2%2",
    ):
        assert f"#SBATCH {option}" in script, option
    assert "module load cuda" in script
    assert launcher.arrays == [["4242_0", "4242_1", "4242_2"]]
    assert [h.job.job_id for h in handles] == ["4242_0", "4242_1", "4242_2"]


@pytest.mark.slow
def test_two_step_chain_and_a_timeout_on_submitit_local_executor(tmp_path, capsys):
    """Roots go out together, the consumer only after its parent; a timeout is failed with the reason."""
    body = """
grids:
  - {sources: [scratch, "scratch>synthetic-vessels"]}
  - {sources: [scratch], seeds: [1], strategies: [{name: ft, train: {epochs: 500, timeout_min: 0.15}}]}
executor:
  slurm: {cluster: local, gpus_per_task: 0}
"""
    results = tmp_path / "results"
    code = main(["run", str(write(tmp_path, body)), "--results", str(results), "--executor", "slurm"])
    err = capsys.readouterr().err
    assert code == 1, err
    by_key = {
        (r.config.source.name, r.config.strategy.name, r.seed): r
        for r in load_results(results / "tiny" / "runs")
    }
    parent = by_key[("scratch", "ft", 0)]
    child = by_key[("scratch>synthetic-vessels", "lp", 0)]
    assert parent.status == child.status == "ok", (parent.error, child.error)
    assert parent.finished_at <= child.started_at and child.parents == [parent.cell_id]
    assert by_key[("scratch", "lp", 0)].status == "ok"
    timed_out = by_key[("scratch", "ft", 1)]
    assert timed_out.status == "failed" and "timed out after 0.15 min" in timed_out.error
    assert all(r.environment["executor"] == "slurm (local)" for r in by_key.values())
    assert "cell " in (results / "tiny" / "work" / child.slug / "log.txt").read_text()
    # 3 roots in the first pass: two time limits, so two arrays; then the consumer on its own
    assert err.count("medtl-bench: submitted") == 3
    assert "submitted 2 cells" in err
