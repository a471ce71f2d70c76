"""The docker executor against a real engine (`make test-docker`): same metrics as the local executor, faults
recorded like the local executor records them, and no container left behind (timeout, Ctrl-C, kill -9).

Each container costs ~30 s on the vfs storage driver (it copies the 6 GB image), so the tests start few of them;
`make test-docker` checks there is room for them first (README: "Docker: disk space").
The image comes from $MEDTL_TEST_IMAGE (default medtl-bench:test, built by `make test-docker`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from suite.catalog import SuiteCatalog
from suite.cli import main
from suite.matrix import load_matrix
from suite.results import load_results
from suite.runner.docker import NONROOT

pytestmark = pytest.mark.docker
IMAGE = os.environ.get("MEDTL_TEST_IMAGE", "medtl-bench:test")

MATRIX = """
name: {name}
datasets: [synthetic-vessels]
architectures: ["timm:resnet10t"]
sources: [scratch]
train: {{epochs: 2, batch_size: 16, image_size: 32, threads: 1, timeout_min: 10}}
{body}
"""


@pytest.fixture(scope="module")
def client():
    docker = pytest.importorskip("docker")
    try:
        engine = docker.from_env(timeout=600)
        engine.ping()
        engine.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        pytest.skip(f"image {IMAGE} is not built (make test-docker)")
    except docker.errors.DockerException as exc:
        pytest.skip(f"no Docker engine ({exc}); run make test-docker")
    return engine


def write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(MATRIX.format(name=name, body=body))
    return path


def containers(client, matrix: str) -> list:
    return client.containers.list(all=True, filters={"label": f"medtl-bench.matrix={matrix}"})


def docker_run(path: Path, results: Path, *extra: str) -> int:
    return main(
        ["run", str(path), "--results", str(results), "--executor", "docker", "--image", IMAGE, *extra]
    )


def test_same_seed_same_metrics_inside_and_outside_the_container(client, tmp_path, capsys):
    path = write(tmp_path, "dk-same", "strategies: [ft]\nseeds: [0]")
    assert main(["run", str(path), "--results", str(tmp_path / "local"), "--no-report"]) == 0
    assert docker_run(path, tmp_path / "docker") == 0
    err = capsys.readouterr().err
    assert "on the CPU (no GPU visible" in err
    (local,) = load_results(tmp_path / "local" / "dk-same" / "runs")
    (inside,) = load_results(tmp_path / "docker" / "dk-same" / "runs")
    assert local.cell_id == inside.cell_id and inside.status == "ok"
    assert inside.metrics == local.metrics  # every scalar, per-class value and confusion matrix, bit for bit
    assert [h["train_loss"] for h in inside.history] == [h["train_loss"] for h in local.history]
    image = client.images.get(IMAGE)
    env = dict(e.split("=", 1) for e in image.attrs["Config"]["Env"])
    assert inside.environment["executor"] == "docker" and inside.environment["image"].startswith(IMAGE)
    assert inside.environment["git_sha"] == env["MEDTL_GIT_SHA"] and inside.environment["device"] == "cpu"
    image_python = client.containers.run(
        IMAGE,
        ["-c", "import platform; print(platform.python_version())"],
        entrypoint="python",
        network_mode="none",
        remove=True,
    )
    assert inside.environment["python"] == image_python.decode().strip()  # the container's, not the host's
    log = (tmp_path / "docker" / "dk-same" / "work" / inside.slug / "log.txt").read_text()
    assert "[medtl-bench] docker:" in log and "ok, best epoch" in log
    # the cell's own user wrote it: the caller, or for a root caller (whose results folder root owns) the image's
    writer = os.getuid() or NONROOT[0]
    assert (tmp_path / "docker" / "dk-same" / "runs" / f"{inside.slug}.json").stat().st_uid == writer
    assert containers(client, "dk-same") == []


def _crash_when_running(client, cell_id: str, progress: Path, done: threading.Event) -> None:
    """SIGKILL the cell's container once it trains: a crash that leaves no result. (SIGSEGV would not do: the
    container's init, tini, does not forward synchronous signals.)"""
    while not done.is_set():
        if progress.exists():
            for c in client.containers.list(filters={"label": f"medtl-bench.cell={cell_id}"}):
                c.kill(signal="SIGKILL")
            return
        time.sleep(0.5)


def test_crash_and_timeout_are_recorded_and_the_other_cell_finishes(client, tmp_path):
    body = """
grids:
  - {strategies: [{name: lp, train: {epochs: 1}}], seeds: [0]}
  - {strategies: [{name: ft, train: {epochs: 500, early_stopping: {patience: null}, timeout_min: 1.0}}], seeds: [1]}
  - {strategies: [{name: ft, train: {epochs: 500, early_stopping: {patience: null}}}], seeds: [2]}
"""
    path = write(tmp_path, "dk-faults", body)
    crash = next(c for c in load_matrix(str(path), SuiteCatalog()).cells if c.config.seed == 2)
    results = tmp_path / "results"
    done = threading.Event()
    progress = results / "dk-faults" / "work" / crash.slug / "progress.json"
    watcher = threading.Thread(target=_crash_when_running, args=(client, crash.id, progress, done))
    watcher.start()
    try:
        code = docker_run(path, results, "--jobs", "3", "--no-report")
    finally:
        done.set()
        watcher.join()
    assert code == 1
    by_seed = {r.seed: r for r in load_results(results / "dk-faults" / "runs")}
    assert by_seed[0].status == "ok"
    assert by_seed[1].status == "failed" and "timed out after 1 min" in by_seed[1].error
    assert by_seed[2].status == "failed" and by_seed[2].error.startswith("container killed by SIGKILL")
    assert containers(client, "dk-faults") == []


def test_memory_limit_is_an_out_of_memory_failure(client, tmp_path):
    path = write(tmp_path, "dk-oom", "strategies: [lp]\nseeds: [0]")
    assert docker_run(path, tmp_path / "results", "--memory", "100m", "--no-report") == 1
    (result,) = load_results(tmp_path / "results" / "dk-oom" / "runs")
    assert result.status == "failed" and result.error.startswith("out of memory"), result.error
    assert "100m" in result.error
    assert containers(client, "dk-oom") == []


def _driver(path: Path, results: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "suite", "run", str(path), "--results", str(results), "--no-report"]
    cmd += ["--executor", "docker", "--image", IMAGE]
    return subprocess.Popen(  # SIGINT as a terminal gives it, even when CI started us with SIGINT ignored
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _wait_for_container(client, matrix: str, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and not containers(client, matrix):
        time.sleep(0.5)
    assert containers(client, matrix), "no container started"


def _inspect_safe_defaults(client, matrix: str, results: Path) -> None:
    """Issue 19.6, by `docker inspect` of a running cell: never root, no capability, no privilege gain, a process
    limit, memory and CPU limits without any flag, no network, a read-only root, data read-only, cache writable."""
    (container,) = containers(client, matrix)
    container.reload()
    host, config = container.attrs["HostConfig"], container.attrs["Config"]
    user = config["User"]
    assert user and user.split(":")[0] not in ("0", "root"), user
    assert host["CapDrop"] == ["ALL"] and "no-new-privileges" in (host["SecurityOpt"] or [])
    assert host["PidsLimit"] and host["PidsLimit"] > 0
    assert host["Memory"] > 0 and host["MemorySwap"] == host["Memory"] and host["NanoCpus"] > 0
    assert host["NetworkMode"] == "none" and host["ReadonlyRootfs"] is True
    mounts = {m["Destination"]: m for m in container.attrs["Mounts"]}
    cache = os.environ["MEDTL_CACHE"]
    generated = str((Path(cache) / "data" / "synthetic-vessels").resolve())
    assert mounts[generated]["RW"] is False  # the synthetic set: read-only over the writable cache
    assert mounts[str(Path(cache).resolve())]["RW"] is True
    assert mounts[str(results.resolve() / matrix)]["RW"] is True
    assert all(not m["RW"] for d, m in mounts.items() if d == "/data" or d.endswith("datasets.lock"))


def _wait_for_epoch_line(log: Path, timeout: float = 300) -> str:
    """Logs stream: a plain `epoch N/M` line reaches log.txt while the cell trains (not only its header)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        text = log.read_text() if log.exists() else ""
        if "\nepoch 1/" in text or text.startswith("epoch 1/"):
            return text
        time.sleep(1)
    raise AssertionError(f"no epoch line in {log} after {timeout:.0f} s: {text[-500:]!r}")


def test_kill_9_leaves_an_orphan_the_next_run_removes_and_ctrl_c_removes_its_own(client, tmp_path):
    path = write(
        tmp_path,
        "dk-int",
        "strategies: [{name: ft, train: {epochs: 500, early_stopping: {patience: null}}}]\nseeds: [0]",
    )
    (cell,) = load_matrix(str(path), SuiteCatalog()).cells
    results = tmp_path / "results"
    drivers: list[subprocess.Popen] = []
    try:
        first = _driver(path, results)
        drivers.append(first)
        _wait_for_container(client, "dk-int")
        _inspect_safe_defaults(client, "dk-int", results)
        text = _wait_for_epoch_line(results / "dk-int" / "work" / cell.slug / "log.txt")
        assert "\r" not in text  # plain lines, no progress-bar frames
        first.kill()  # SIGKILL: the driver cannot clean up
        first.wait()
        assert containers(client, "dk-int"), "the orphan should still be there"
        second = _driver(path, results)
        drivers.append(second)
        deadline = time.time() + 300
        while time.time() < deadline and [
            c
            for c in containers(client, "dk-int")
            if c.labels["medtl-bench.driver"].endswith(f":{first.pid}")
        ]:
            time.sleep(0.5)
        _wait_for_container(client, "dk-int")  # the second driver's own container
        second.send_signal(signal.SIGINT)
        assert second.wait(timeout=300) == 130
        assert "removed 1 containers left by a killed driver" in second.stderr.read()
        assert containers(client, "dk-int") == []
        assert not list((results / "dk-int" / "runs").glob("*.json"))  # an interrupted cell has no result
    finally:  # a failed assertion must not leave a driver or a container running
        for driver in drivers:
            if driver.poll() is None:
                driver.kill()
                driver.wait()
        for container in containers(client, "dk-int"):
            container.remove(force=True)
