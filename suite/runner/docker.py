"""The docker executor: one container per cell, through the Docker SDK, for the generic `Scheduler`.

Each cell runs `python -m suite.runner.worker CELL.json` (the local executor's entry) in the image. Paths: the cell
spec holds host paths (result, checkpoint, progress, parents' checkpoints), so the results folder, the cache and
datasets.lock are bind-mounted at the SAME paths inside the container and nothing is rewritten; only the data
folder moves, read-only to /data ($MEDTL_DATA, which no spec records). The container has no network, a read-only
root with a tmpfs /tmp, the caller's uid:gid (files it writes belong to the caller), optional memory and CPU
limits, and one GPU from a pool that keeps every listed GPU busy. All Docker calls for a cell happen on that cell's
thread, so the driver's Ctrl-C always lands in the scheduler loop, which removes every container (kill()).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import sys
import threading
import uuid
from pathlib import Path
from typing import Any, BinaryIO

from suite.errors import UserError
from suite.matrix import Cell
from suite.matrix.executor import DockerSettings, parse_size
from suite.paths import cache_dir, data_root
from suite.processes import pid_alive
from suite.runner.gpus import GpuPool, visible_gpus

LABEL = "medtl-bench"  # every container: medtl-bench.driver=<host>:<pid>, .cell=<id>, .matrix=<name>
DATA_MOUNT = "/data"
# Host variables a cell may depend on; the path variables are set from the mounts instead.
_PASS_PREFIXES = ("OMP_", "MKL_", "CUBLAS_", "CUDA_LAUNCH_BLOCKING", "PYTHONHASHSEED", "TORCH_DETERMINISTIC")
_PASS_MEDTL_SKIP = {"MEDTL_CACHE", "MEDTL_LOCK", "MEDTL_DATA", "MEDTL_PARENT_PID"}
_PASS_MEDTL_SKIP |= {"MEDTL_GIT_SHA", "MEDTL_GIT_DIRTY", "MEDTL_IMAGE"}  # the image's own version wins


def connect(timeout: int = 600):
    """A Docker client, or a one-line error that says how to start the engine."""
    import docker

    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except docker.errors.DockerException as exc:
        raise UserError(
            f"cannot reach the Docker engine ({str(exc).splitlines()[0][:160]}); start it"
            " (`sudo systemctl start docker`) or set DOCKER_HOST"
        ) from None
    return client


def reap_orphans(client) -> int:
    """Remove containers left by a driver on this host that died without cleaning up (kill -9)."""
    host, removed = socket.gethostname(), 0
    for container in client.containers.list(all=True, filters={"label": f"{LABEL}.driver"}):
        owner = container.labels.get(f"{LABEL}.driver", "")
        owner_host, _, pid = owner.rpartition(":")
        if owner_host == host and pid.isdigit() and not pid_alive(int(pid)):
            with contextlib.suppress(Exception):
                container.remove(force=True)
                removed += 1
    return removed


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


class ContainerHandle:
    """One cell's container. Its thread creates, starts, streams logs, waits and removes; poll() reads the outcome."""

    def __init__(self, launcher: DockerLauncher, cell: Cell, spec_path: Path, log_path: Path) -> None:
        self.launcher, self.cell = launcher, cell
        self.spec_path, self.log_path = spec_path, log_path
        self.gpu = launcher.pool.acquire()
        self.container = None
        self.code: int | None = None
        self.oom = False
        self.error: str | None = None
        self.cancelled = threading.Event()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"cell-{cell.id[:8]}", daemon=True)
        self.thread.start()

    def poll(self) -> int | None:
        """The container's exit code once it has exited and been removed; None while it runs."""
        return self.code if self.done.is_set() else None

    def kill(self) -> None:
        """Stop and remove the container (timeout, Ctrl-C); waits until it is gone."""
        self.cancelled.set()
        if self.container is not None:
            with contextlib.suppress(Exception):
                self.container.kill()
        self.thread.join(timeout=300)

    def describe_exit(self, code: int) -> str:
        """The reason a cell left no result, as the Scheduler records it."""
        if self.error:
            return f"docker could not run the cell: {self.error}"
        if self.oom:
            limit = self.launcher.settings.memory
            return f"out of memory: the container exceeded its memory limit ({limit}; --memory)"
        if code > 128 and code - 128 in signal.Signals._value2member_map_:
            return f"container killed by {signal.Signals(code - 128).name}"
        return f"container exited with code {code} without writing a result"

    def _run(self) -> None:
        import docker

        client = self.launcher.client
        log: BinaryIO | None = None
        try:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            log = self.log_path.open("wb")
            gpu = f"GPU {self.gpu}" if self.gpu is not None else "the CPU"
            log.write(f"[medtl-bench] docker: {self.launcher.settings.image} on {gpu}\n".encode())
            log.flush()
            self.container = client.containers.create(
                **self.launcher.create_args(self.cell, self.spec_path, self.gpu)
            )
            if self.cancelled.is_set():
                return
            self.container.start()
            if self.cancelled.is_set():  # kill() came between create and start
                self.container.kill()
            for chunk in self.container.logs(stream=True, follow=True):
                log.write(chunk)
                log.flush()
            self.code = int(self.container.wait().get("StatusCode", -1))
            self.container.reload()
            self.oom = bool(self.container.attrs["State"].get("OOMKilled"))
        except docker.errors.DockerException as exc:
            if not self.cancelled.is_set():
                self.error = str(exc).splitlines()[0][:300]
                self.code = 125  # docker run's own code for "the daemon could not run it"
        finally:
            if self.container is not None:
                with contextlib.suppress(Exception):
                    self.container.remove(force=True)
            if log is not None:
                log.close()
            self.launcher.pool.release(self.gpu)
            if self.code is None:
                self.code = 125 if self.error else -int(signal.SIGKILL)
            self.done.set()


class DockerLauncher:
    """The Scheduler's launcher for `--executor docker`."""

    name = "docker"

    def __init__(
        self,
        settings: DockerSettings,
        results_root: Path,
        matrix: str,
        client=None,
        pool: GpuPool | None = None,
    ) -> None:
        import docker

        self.settings, self.matrix = settings, matrix
        self.client = client or connect()
        try:
            self.image = self.client.images.get(settings.image)
        except docker.errors.ImageNotFound:
            raise UserError(
                f"docker image {settings.image!r} not found; build it with `make docker-build IMAGE={settings.image}`"
            ) from None
        self.pool = pool or GpuPool(visible_gpus(settings.gpus))
        self.driver = f"{socket.gethostname()}:{os.getpid()}"
        self.volumes, self.env = self._mounts(results_root.resolve())
        if reaped := reap_orphans(self.client):
            print(f"medtl-bench: removed {reaped} containers left by a killed driver", file=sys.stderr)
        atexit.register(self.remove_all)
        main = threading.current_thread() is threading.main_thread()
        if main and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _raise_interrupt)  # SIGTERM cleans up like Ctrl-C

    @property
    def gpus(self) -> list[str]:
        return self.pool.ids

    def start(self, cell: Cell, spec_path: Path, log_path: Path) -> ContainerHandle:
        return ContainerHandle(self, cell, spec_path, log_path)

    def environment(self) -> dict[str, Any]:
        """What the results record: the image (tag and id) and the commit it was built from, not the host's."""
        env = dict(item.split("=", 1) for item in self.image.attrs["Config"].get("Env") or [] if "=" in item)
        return {
            "executor": "docker",
            "image": f"{self.settings.image} ({self.image.short_id})",
            "git_sha": env.get("MEDTL_GIT_SHA", "unknown"),
            "git_dirty": env.get("MEDTL_GIT_DIRTY") == "1",
        }

    def remove_all(self) -> None:
        """Safety net at exit: remove any container this driver started that is still there."""
        with contextlib.suppress(Exception):
            for c in self.client.containers.list(
                all=True, filters={"label": f"{LABEL}.driver={self.driver}"}
            ):
                c.remove(force=True)

    def create_args(self, cell: Cell, spec_path: Path, gpu: str | None) -> dict[str, Any]:
        """Keyword arguments of `containers.create` for one cell."""
        import docker

        s = self.settings
        args: dict[str, Any] = {
            "image": s.image,
            "entrypoint": ["python", "-m", "suite.runner.worker"],
            "command": [str(spec_path)],
            "environment": self.env,
            "volumes": self.volumes,
            "labels": {
                f"{LABEL}.driver": self.driver,
                f"{LABEL}.cell": cell.id,
                f"{LABEL}.matrix": self.matrix,
                f"{LABEL}.launch": uuid.uuid4().hex,
            },
            "user": f"{os.getuid()}:{os.getgid()}",
            "working_dir": "/tmp",
            "network_mode": "none",
            "read_only": True,
            "tmpfs": {"/tmp": "exec"},
            "shm_size": s.shm_size,
            "init": True,
        }
        if s.memory:
            args["mem_limit"] = args["memswap_limit"] = parse_size(s.memory)  # no swap: the limit is real
        if s.cpus:
            args["nano_cpus"] = int(s.cpus * 1e9)
        if gpu is not None:
            args["device_requests"] = [docker.types.DeviceRequest(device_ids=[gpu], capabilities=[["gpu"]])]
        return args

    def _mounts(self, results_root: Path) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
        """Bind mounts (host path → same path, data → /data read-only) and the container's environment."""
        from suite.data.lock import lock_path

        volumes: dict[str, dict[str, str]] = {}
        env = {
            k: v
            for k, v in os.environ.items()
            if k.startswith(_PASS_PREFIXES) or (k.startswith("MEDTL_") and k not in _PASS_MEDTL_SKIP)
        }
        env.update(HOME="/tmp", PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1", MEDTL_DATA=DATA_MOUNT)
        env.setdefault("PYTHONHASHSEED", "0")
        if self.settings.cpus and "OMP_NUM_THREADS" not in env:
            env["OMP_NUM_THREADS"] = str(max(1, int(self.settings.cpus)))

        def same_path(path: Path, mode: str, var: str | None = None) -> None:
            volumes[str(path)] = {"bind": str(path), "mode": mode}
            if var:
                env[var] = str(path)

        results_root.mkdir(parents=True, exist_ok=True)
        same_path(results_root, "rw")
        cache = cache_dir().resolve()
        cache.mkdir(parents=True, exist_ok=True)
        same_path(cache, "rw", "MEDTL_CACHE")
        same_path(lock_path().resolve(), "ro", "MEDTL_LOCK")
        data = Path(self.settings.data).expanduser() if self.settings.data else data_root()
        if data.resolve().is_dir():
            volumes[str(data.resolve())] = {"bind": DATA_MOUNT, "mode": "ro"}
        for var, path in _weight_caches().items():
            if path.is_dir():
                same_path(path, "ro", var)
        return volumes, env


def _weight_caches() -> dict[str, Path]:
    """The host's pretrained-weight caches (HF hub, torch hub), mounted read-only so cells find offline weights."""
    from huggingface_hub import constants

    torch_home = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")).expanduser()
    return {
        "HF_HUB_CACHE": Path(constants.HF_HUB_CACHE).expanduser().resolve(),
        "TORCH_HOME": torch_home.resolve(),
    }
