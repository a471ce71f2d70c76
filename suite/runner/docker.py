"""The docker executor: one container per cell, through the Docker SDK, for the generic `Scheduler`.

Each cell runs `python -m suite.runner.worker CELL.json` (the local executor's entry) in the image. Paths: the cell
spec holds host paths (result, checkpoint, progress, parents' checkpoints), so the results folder, the cache and
datasets.lock are bind-mounted at the SAME paths inside the container and nothing is rewritten; only the data
folder moves, read-only to /data ($MEDTL_DATA, which no spec records). Every dataset root a cell needs is mounted
read-only: a generated set is made on the host first (once) and mounted read-only over its place in the writable
cache, and a root that `data add` recorded as an absolute path is mounted at that path. Safe defaults, each
asserted by `docker inspect` in tests/test_docker.py: never root (the caller's uid:gid, so files belong to the
caller; a root driver runs cells as the results folder's owner, else as the image's user, and hands them the
folders they write), all capabilities dropped, no-new-privileges, a process limit, no network, a read-only root
with a tmpfs /tmp, and memory and CPU limits that default to the machine's share per cell (`--memory`/`--cpus`
override); one GPU from a pool that keeps every listed GPU busy. All Docker calls for a cell happen on that cell's
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
# Who cells run as when the driver is root: the image's `medtl` user (Dockerfile ARG UID).
NONROOT = (1000, 1000)
# Processes and threads per container: torch's pools and DataLoader workers fit many times over; a fork bomb does not.
PIDS_LIMIT = 4096
MEMORY_SHARE = 0.9  # of the machine's memory, split between the cells that run at once (the rest: driver, OS)
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


def _caller() -> tuple[int, int]:
    return os.getuid(), os.getgid()


def run_as(results_root: Path) -> tuple[int, int]:
    """Never root: the caller's uid:gid; for a root driver the owner of the results folder if that is not root
    (a user's folder), else the image's user."""
    uid, gid = _caller()
    if uid != 0:
        return uid, gid
    st = results_root.stat()
    return (st.st_uid, st.st_gid) if st.st_uid != 0 else NONROOT


def hand_over(folder: Path, uid: int, gid: int, chown=os.lchown, owner=lambda p: os.lstat(p).st_uid) -> int:
    """Give `uid:gid` what root made under `folder` (a root driver's results and cache), so the non-root cell can
    write there; what others own is left alone. Returns how many entries changed owner."""
    changed = 0
    for dirpath, _, filenames in os.walk(folder):
        for path in [dirpath, *(os.path.join(dirpath, f) for f in filenames)]:
            with contextlib.suppress(FileNotFoundError):
                if owner(path) == 0:
                    chown(path, uid, gid)
                    changed += 1
    return changed


def machine_share(jobs: int, engine: dict[str, Any] | None = None) -> tuple[int, float]:
    """(memory bytes, CPU cores) of one cell when `jobs` cells share the machine the containers run on (the
    engine's `docker info`; this machine's when the engine does not say): the default limits."""
    engine = engine or {}
    memory = engine.get("MemTotal") or os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    cores = engine.get("NCPU") or len(os.sched_getaffinity(0))
    return int(memory * MEMORY_SHARE / jobs) // 2**20 * 2**20, float(max(1, cores // jobs))


def _engine_info(client) -> dict[str, Any]:
    try:
        return dict(client.info())
    except Exception:  # an engine (or a test's fake) that does not answer `info`: this machine's figures
        return {}


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
            limit = self.launcher.memory_label
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
            try:
                args = self.launcher.create_args(self.cell, self.spec_path, self.gpu)
            except (UserError, OSError) as exc:  # the dataset cannot be made or located on the host
                self.error = str(exc).splitlines()[0][:300]
                return
            self.container = client.containers.create(**args)
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
        jobs: int = 1,
    ) -> None:
        import docker

        self.settings, self.matrix = settings, matrix
        self.client = client or connect()
        memory, cpus = machine_share(max(1, jobs), _engine_info(self.client))
        self.memory = parse_size(settings.memory) if settings.memory else memory
        self.memory_label = settings.memory or f"{memory / 2**30:.1f}g, this machine's share"
        self.cpus = settings.cpus or cpus
        self.results_root = results_root.resolve()
        self._data_lock = threading.Lock()
        self._handed: set[str] = set()
        try:
            self.image = self.client.images.get(settings.image)
        except docker.errors.ImageNotFound:
            raise UserError(
                f"docker image {settings.image!r} not found; build it with `make docker-build IMAGE={settings.image}`"
            ) from None
        self.pool = pool or GpuPool(visible_gpus(settings.gpus))
        self.driver = f"{socket.gethostname()}:{os.getpid()}"
        self.volumes, self.env = self._mounts(self.results_root)
        self.uid, self.gid = run_as(self.results_root)
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
        volumes = {**self.volumes, **self._dataset_mounts(cell)}
        if _caller()[0] == 0:  # the cell runs as self.uid: it must be able to write what the root driver made
            # each writable mount is walked once per run (a large cache is not walked before every cell); later,
            # the root driver writes only into the cell's own work folder (its spec), handed over each time
            for path, mount in volumes.items():
                if mount["mode"] == "rw" and path not in self._handed:
                    hand_over(Path(path), self.uid, self.gid)
                    self._handed.add(path)
            hand_over(spec_path.parent, self.uid, self.gid)
        args: dict[str, Any] = {
            "image": s.image,
            "entrypoint": ["python", "-m", "suite.runner.worker"],
            "command": [str(spec_path)],
            "environment": self.env,
            "volumes": volumes,
            "labels": {
                f"{LABEL}.driver": self.driver,
                f"{LABEL}.cell": cell.id,
                f"{LABEL}.matrix": self.matrix,
                f"{LABEL}.launch": uuid.uuid4().hex,
            },
            "user": f"{self.uid}:{self.gid}",
            "working_dir": "/tmp",
            "network_mode": "none",
            "read_only": True,
            "tmpfs": {"/tmp": "exec"},
            "shm_size": s.shm_size,
            "init": True,
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "pids_limit": PIDS_LIMIT,
            "mem_limit": self.memory,
            "memswap_limit": self.memory,  # no swap: the limit is real
            "nano_cpus": int(self.cpus * 1e9),
        }
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
        if "OMP_NUM_THREADS" not in env:  # torch would otherwise start a thread per host core
            env["OMP_NUM_THREADS"] = str(max(1, int(self.cpus)))

        def same_path(path: Path, mode: str, var: str | None = None) -> None:
            volumes[str(path)] = {"bind": str(path), "mode": mode}
            if var:
                env[var] = str(path)

        results_root.mkdir(parents=True, exist_ok=True)
        same_path(results_root, "rw")
        cache = cache_dir().resolve()
        cache.mkdir(parents=True, exist_ok=True)
        same_path(cache, "rw", "MEDTL_CACHE")
        lock = lock_path().resolve()
        same_path(lock, "ro", "MEDTL_LOCK")
        if (lock.parent / "datasets.lock.d").is_dir():  # the locked indexes and manifests verification reads
            same_path(lock.parent / "datasets.lock.d", "ro")
        data = Path(self.settings.data).expanduser() if self.settings.data else data_root()
        if data.resolve().is_dir():
            volumes[str(data.resolve())] = {"bind": DATA_MOUNT, "mode": "ro"}
        for var, path in _weight_caches().items():
            if path.is_dir():
                same_path(path, "ro", var)
        return volumes, env

    def _dataset_mounts(self, cell: Cell) -> dict[str, dict[str, str]]:
        """The cell's dataset root, read-only, where it is not under the data folder (already at /data): a
        generated set (made here first, once, so the container only reads it) or an absolute `data add` root."""
        from suite.data.lock import lock_entry
        from suite.data.prepare import dataset_root

        name = cell.config.dataset.name
        entry = lock_entry(name)
        absolute = entry.source.kind != "generator" and Path(entry.root or name).expanduser().is_absolute()
        if entry.source.kind != "generator" and not absolute:
            return {}
        with self._data_lock:  # two cells of one generated set: make it once
            root = dataset_root(name, entry).resolve()
        if not root.is_dir():  # the cell says what is missing; docker would create an empty root-owned folder
            return {}
        return {str(root): {"bind": str(root), "mode": "ro"}}


def _weight_caches() -> dict[str, Path]:
    """The host's pretrained-weight caches (HF hub, torch hub), mounted read-only so cells find offline weights."""
    from huggingface_hub import constants

    torch_home = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")).expanduser()
    return {
        "HF_HUB_CACHE": Path(constants.HF_HUB_CACHE).expanduser().resolve(),
        "TORCH_HOME": torch_home.resolve(),
    }
