"""Every test runs against a private cache and a tiny datasets.lock (32 px, a few dozen images per dataset)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
TINY = {
    "synthetic-vessels": (
        {"size": 32, "count": 64, "images_per_patient": 4},
        {"benign": 32, "malignant": 32},
    ),
    "synthetic-fundus": ({"size": 32, "count": 40}, None),
}


def write_tiny_lock(path: Path) -> None:
    raw = yaml.safe_load((REPO / "datasets.lock").read_text())
    datasets = {}
    for name, (params, per_class) in TINY.items():
        entry = raw["datasets"][name]
        entry["source"]["params"] = {**entry["source"]["params"], **params}
        entry["counts"] = {"total": params["count"], **({"per_class": per_class} if per_class else {})}
        entry.pop("digest", None)
        datasets[name] = entry
    path.write_text(yaml.safe_dump({"version": 1, "datasets": datasets}, sort_keys=False))


def pytest_terminal_summary(terminalreporter) -> None:
    """The fault suite's counts (tests/test_faults.py), when it ran."""
    faults = sys.modules.get("test_faults")
    if faults is None or not faults.COUNTS:
        return
    from dataclasses import asdict

    from tabulate import tabulate

    rows = [asdict(c) for c in faults.COUNTS]
    terminalreporter.write_sep("=", "fault suite: what was injected and what the suite did")
    terminalreporter.write_line(tabulate(rows, headers="keys", tablefmt="github"))


@pytest.fixture(scope="session", autouse=True)
def tiny_world(tmp_path_factory) -> Path:
    """MEDTL_CACHE and MEDTL_LOCK point into a temp folder; the tiny datasets are generated and locked."""
    root = tmp_path_factory.mktemp("medtl")
    os.environ["MEDTL_CACHE"] = str(root / "cache")
    os.environ["MEDTL_LOCK"] = str(root / "datasets.lock")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    write_tiny_lock(root / "datasets.lock")
    from suite.commands import data as commands

    for name in TINY:
        commands.lock(name)
    return root


@pytest.fixture
def matrix_file(tmp_path):
    """Write a matrix YAML into a temp folder and return its path."""

    def write(text: str, name: str = "m.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
