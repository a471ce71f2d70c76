"""The docker launcher's contract without an engine (a fake SDK client): what each container gets, GPU queueing,
and how exits become reasons. tests/test_docker.py runs the same code against a real engine (`make test-docker`)."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import docker
import pytest

from suite.catalog import SuiteCatalog
from suite.errors import UserError
from suite.matrix import load_matrix
from suite.matrix.executor import DockerSettings
from suite.runner import docker as docker_launcher
from suite.runner.docker import NONROOT, DockerLauncher, machine_share
from suite.runner.gpus import GpuPool

MATRIX = """
name: tiny
datasets: [synthetic-vessels]
architectures: ["timm:resnet10t"]
sources: [scratch]
strategies: [lp]
seeds: [0]
train: {epochs: 1, image_size: 32}
"""


class FakeContainer:
    def __init__(self, code: int = 0, oom: bool = False, logs: bytes = b"") -> None:
        self.code, self.oom, self.chunks = code, oom, [logs]
        self.attrs: dict = {}
        self.removed = self.started = False

    def start(self) -> None:
        self.started = True

    def logs(self, **kwargs):
        return iter(self.chunks)

    def wait(self) -> dict:
        return {"StatusCode": self.code}

    def reload(self) -> None:
        self.attrs = {"State": {"OOMKilled": self.oom}}

    def kill(self) -> None: ...

    def remove(self, force: bool = False) -> None:
        self.removed = True


class FakeClient:
    """Just enough of docker.DockerClient: one image, and containers made by `make`."""

    def __init__(self, make=None, has_image: bool = True) -> None:
        self.created: list[dict] = []
        self.has_image = has_image
        self.make = make or FakeContainer
        image = SimpleNamespace(
            short_id="sha256:0123456789", attrs={"Config": {"Env": ["MEDTL_GIT_SHA=abc123", "PATH=/x"]}}
        )
        self.images = SimpleNamespace(get=self._get_image)
        self._image = image
        self.containers = SimpleNamespace(list=lambda **kw: [], create=self._create)

    def _get_image(self, name: str):
        if not self.has_image:
            raise docker.errors.ImageNotFound(name)
        return self._image

    def _create(self, **kwargs):
        self.created.append(kwargs)
        return self.make()


@pytest.fixture(autouse=True)
def caller(monkeypatch):
    """Who runs the driver, as the launcher sees it: a plain user unless a test says root."""
    who = {"uid": (1234, 1234)}
    monkeypatch.setattr(docker_launcher, "_caller", lambda: who["uid"])
    return who


@pytest.fixture
def cell(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(MATRIX)
    return load_matrix(str(path), SuiteCatalog()).cells[0]


def launcher(tmp_path: Path, client: FakeClient, jobs: int = 1, **settings) -> DockerLauncher:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    s = DockerSettings(**{"gpus": "none", "data": str(data), **settings})
    return DockerLauncher(s, tmp_path / "results" / "tiny", "tiny", client=client, jobs=jobs)


def test_each_container_is_isolated_limited_and_sees_host_paths_unchanged(tmp_path, cell, monkeypatch):
    monkeypatch.setenv("MEDTL_GIT_SHA", "host-sha")  # the image's own version must win
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # then --cpus sets the container's thread count
    client = FakeClient()
    la = launcher(tmp_path, client, gpus="0,1", memory="2g", cpus=2)
    spec = tmp_path / "results" / "tiny" / "work" / cell.slug / "cell.json"
    args = la.create_args(cell, spec, "1")
    assert args["network_mode"] == "none" and args["read_only"] and args["command"] == [str(spec)]
    assert args["entrypoint"] == ["python", "-m", "suite.runner.worker"]
    assert args["user"] == "1234:1234"  # the caller's: files it writes belong to the caller
    assert args["mem_limit"] == args["memswap_limit"] == 2 * 1024**3 and args["nano_cpus"] == 2 * 10**9
    (request,) = args["device_requests"]
    assert request["DeviceIDs"] == ["1"] and request["Capabilities"] == [["gpu"]]
    root = str((tmp_path / "results" / "tiny").resolve())
    assert args["volumes"][root] == {"bind": root, "mode": "rw"}  # spec paths work unchanged inside
    assert args["volumes"][str((tmp_path / "data").resolve())] == {"bind": "/data", "mode": "ro"}
    lock = args["environment"]["MEDTL_LOCK"]
    assert args["volumes"][lock] == {"bind": lock, "mode": "ro"}
    sidecars = str(Path(lock).parent / "datasets.lock.d")  # conftest locked the tiny sets: their indexes
    assert args["volumes"][sidecars] == {"bind": sidecars, "mode": "ro"}
    env = args["environment"]
    assert env["MEDTL_DATA"] == "/data" and env["OMP_NUM_THREADS"] == "2" and "MEDTL_GIT_SHA" not in env
    assert args["labels"]["medtl-bench.cell"] == cell.id
    assert la.environment() == {
        "executor": "docker",
        "image": "medtl-bench:latest (sha256:0123456789)",
        "git_sha": "abc123",
        "git_dirty": False,
    }


def test_every_gpu_gets_one_cell_before_any_gets_two():
    pool = GpuPool(["0", "1", "2"])
    first = [pool.acquire() for _ in range(3)]
    assert sorted(first) == ["0", "1", "2"]
    pool.release("1")
    assert pool.acquire() == "1"
    assert GpuPool([]).acquire() is None


def test_logs_stream_into_the_cell_log_and_oom_is_named(tmp_path, cell):
    made: list[FakeContainer] = []
    client = FakeClient(make=lambda: made.append(FakeContainer(137, True, b"epoch 1\n")) or made[-1])
    la = launcher(tmp_path, client, memory="512m")
    log = tmp_path / "log.txt"
    handle = la.start(cell, tmp_path / "cell.json", log)
    handle.thread.join(5)
    assert handle.poll() == 137 and made[0].started and made[0].removed
    assert handle.describe_exit(137).startswith("out of memory") and "512m" in handle.describe_exit(137)
    assert "epoch 1" in log.read_text() and "on the CPU" in log.read_text()
    assert la.pool.busy == {}


def test_a_container_that_cannot_start_is_a_failure_with_the_engine_message(tmp_path, cell):
    def refuse():
        raise docker.errors.APIError("could not select device driver with capabilities: [[gpu]]")

    la = launcher(tmp_path, FakeClient(make=refuse), gpus="0")
    handle = la.start(cell, tmp_path / "cell.json", tmp_path / "log.txt")
    handle.thread.join(5)
    assert handle.poll() == 125
    assert "could not select device driver" in handle.describe_exit(125)
    assert la.pool.busy["0"] == 0


def test_signals_and_a_missing_image_read_as_sentences(tmp_path, cell):
    la = launcher(tmp_path, FakeClient(make=lambda: FakeContainer(139)))
    handle = la.start(cell, tmp_path / "cell.json", tmp_path / "log.txt")
    handle.thread.join(5)
    assert handle.describe_exit(handle.poll()) == "container killed by SIGSEGV"
    with pytest.raises(UserError, match=r"make docker-build IMAGE=medtl-bench:latest"):
        launcher(tmp_path, FakeClient(has_image=False))


def test_safe_defaults_without_any_flag(tmp_path, cell, monkeypatch):
    """Issue 19.6: no capability, no privilege gain, a process limit, and memory and CPU limits from the machine's
    share per cell (they were 0/0 unless given); the thread count follows the CPU share."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    args = launcher(tmp_path, FakeClient(), jobs=2).create_args(cell, tmp_path / "cell.json", None)
    memory, cpus = machine_share(2)
    assert args["cap_drop"] == ["ALL"] and args["security_opt"] == ["no-new-privileges"]
    assert 0 < args["pids_limit"] <= 4096 and args["network_mode"] == "none" and args["read_only"]
    assert args["mem_limit"] == args["memswap_limit"] == memory > 0
    assert args["nano_cpus"] == int(cpus * 1e9) > 0
    assert args["environment"]["OMP_NUM_THREADS"] == str(int(cpus))
    half = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2
    assert 0.8 * half < memory < half


def test_a_root_driver_never_runs_a_root_container(tmp_path, cell, caller, monkeypatch):
    """Issue 19.6: the caller's uid overrode the image's user, so a root driver ran cells as 0:0. Now the cell
    runs as the results folder's owner (or the image's user), and the folders it writes are handed to it."""
    caller["uid"] = (0, 0)
    owned: list[tuple[str, int, int]] = []
    real = docker_launcher.hand_over

    def record(folder, uid, gid):  # as if root had made every entry; the chown is only recorded
        return real(folder, uid, gid, chown=lambda path, u, g: owned.append((path, u, g)), owner=lambda p: 0)

    monkeypatch.setattr(docker_launcher, "hand_over", record)
    la = launcher(tmp_path, FakeClient())
    results = (tmp_path / "results" / "tiny").resolve()
    expect = docker_launcher.run_as(results)
    spec = results / "work" / cell.slug / "cell.json"
    spec.parent.mkdir(parents=True)
    args = la.create_args(cell, spec, None)
    assert args["user"] == f"{expect[0]}:{expect[1]}" and expect[0] != 0
    handed = {path for path, *_ in owned}
    assert str(results) in handed and args["environment"]["MEDTL_CACHE"] in handed  # the writable mounts
    assert {(u, g) for _, u, g in owned} == {expect}
    assert not any(path.startswith(str((tmp_path / "data").resolve())) for path in handed)  # never the data
    owned.clear()  # the next cell: the mounts were walked once; only its own work folder is handed over
    la.create_args(cell, spec, None)
    assert {path for path, *_ in owned} == {str(spec.parent)}


def test_run_as_is_never_root(caller):
    def folder(uid: int):
        return SimpleNamespace(stat=lambda: SimpleNamespace(st_uid=uid, st_gid=uid + 1))

    assert docker_launcher.run_as(folder(0)) == (1234, 1234)  # a plain caller: always the caller
    caller["uid"] = (0, 0)
    assert docker_launcher.run_as(folder(4321)) == (4321, 4322)  # root in a user's folder: that user
    assert (
        docker_launcher.run_as(folder(0)) == NONROOT == (1000, 1000)
    )  # root in root's folder: the image's user


def test_every_dataset_root_a_cell_needs_is_mounted_read_only(tmp_path, cell, monkeypatch):
    """Issue 19.6: a generated set sat in the writable cache mount, and a root `data add` recorded as an absolute
    path was not mounted at all. Both are mounted read-only at their own path; the cache stays writable."""
    from suite.data import lock as lock_module
    from suite.data.materialise import generated_root

    args = launcher(tmp_path, FakeClient()).create_args(cell, tmp_path / "cell.json", None)
    generated = str(generated_root("synthetic-vessels").resolve())
    assert args["volumes"][generated] == {"bind": generated, "mode": "ro"}
    assert (Path(generated) / ".generated.json").is_file()  # made on the host: the container only reads it
    cache = args["environment"]["MEDTL_CACHE"]
    assert args["volumes"][cache] == {"bind": cache, "mode": "rw"} and generated.startswith(cache + "/")

    added = tmp_path / "elsewhere" / "my-scans"
    added.mkdir(parents=True)
    entry = lock_module.lock_entry("synthetic-vessels")
    manual = entry.model_copy(
        update={"source": entry.source.model_copy(update={"kind": "manual"}), "root": str(added)}
    )
    monkeypatch.setattr(lock_module, "lock_entry", lambda name: manual)
    args = launcher(tmp_path, FakeClient()).create_args(cell, tmp_path / "cell.json", None)
    assert args["volumes"][str(added.resolve())] == {"bind": str(added.resolve()), "mode": "ro"}
    assert generated not in args["volumes"]
    rw = [path for path, mount in args["volumes"].items() if mount["mode"] == "rw"]
    assert sorted(rw) == sorted([cache, str((tmp_path / "results" / "tiny").resolve())])


def test_a_dataset_the_host_cannot_make_fails_the_cell_in_one_line(tmp_path, cell, monkeypatch):
    from suite.data import lock as lock_module

    def broken(name):
        raise UserError("datasets.lock asks for synthetic-vessels generator v9, the code has v1")

    monkeypatch.setattr(lock_module, "lock_entry", broken)
    client = FakeClient()
    handle = launcher(tmp_path, client).start(cell, tmp_path / "cell.json", tmp_path / "log.txt")
    handle.thread.join(5)
    assert handle.poll() == 125 and "generator v9" in handle.describe_exit(125) and client.created == []


def test_a_result_records_the_workers_python_not_the_drivers(monkeypatch):
    """Issue 19.6: `python` came from the driver (the host), merged under the worker's entries; the worker (the
    container) now records its own Python and platform, and the worker's entries win in a result."""
    import platform

    from suite import environment

    driver = environment.driver_environment("digest")
    monkeypatch.setattr(platform, "python_version", lambda: "3.99.0-container")
    worker = environment.worker_environment("cpu")
    assert worker["python"] == "3.99.0-container" and "platform" in worker
    assert {**driver, **worker}["python"] == "3.99.0-container"  # the merge suite/runner/cell.py does


def test_default_limits_come_from_the_engines_machine(tmp_path, cell):
    """With DOCKER_HOST elsewhere, the containers' machine is the engine's: `docker info` gives memory and cores."""
    client = FakeClient()
    client.info = lambda: {"MemTotal": 64 * 2**30, "NCPU": 16}
    args = launcher(tmp_path, client, jobs=4).create_args(cell, tmp_path / "cell.json", None)
    assert args["mem_limit"] == int(64 * 2**30 * 0.9 / 4) // 2**20 * 2**20 and args["nano_cpus"] == 4 * 10**9
