"""What produced a result: code version, library versions, hardware, and the datasets.lock digest."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import suite

_REPO = Path(__file__).resolve().parents[1]


def git_state() -> dict[str, Any]:
    """The commit and whether the tree had uncommitted changes; a container image bakes `MEDTL_GIT_SHA` in."""
    if os.environ.get("MEDTL_GIT_SHA"):
        return {"git_sha": os.environ["MEDTL_GIT_SHA"], "git_dirty": os.environ.get("MEDTL_GIT_DIRTY") == "1"}
    if not (_REPO / ".git").exists():  # an installed wheel: a git repository around site-packages is not ours
        return {"git_sha": "unknown", "git_dirty": None}
    try:
        sha = subprocess.run(
            ["git", "-C", str(_REPO), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            [
                "git",
                "-C",
                str(_REPO),
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                "suite",
                "datasets.lock",
                "pyproject.toml",
                "requirements",
            ],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
        return {"git_sha": sha, "git_dirty": bool(status.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"git_sha": "unknown", "git_dirty": None}


def driver_environment(lock_digest: str) -> dict[str, Any]:
    return {
        **git_state(),
        "suite_version": suite.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": platform.node(),
        "datasets_lock": lock_digest,
        "image": os.environ.get("MEDTL_IMAGE"),
    }


def worker_environment(device: str) -> dict[str, Any]:
    """What the process that trains has: in a container, the image's Python and libraries, not the driver's (a
    result merges these over `driver_environment`'s)."""
    import numpy
    import timm
    import torch
    import torchvision

    cuda = torch.cuda.is_available()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "timm": timm.__version__,
        "numpy": numpy.__version__,
        "cuda": torch.version.cuda if cuda else None,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if cuda and device.startswith("cuda") else None,
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
    }
