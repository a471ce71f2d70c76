"""Options and parametrisation of the latency benchmark: every network of a matrix × every batch size.

    python -m pytest benchmarks/latency --matrix smoke            (make bench-latency MATRIX=smoke)

writes results/<matrix>/latency.json (format: suite/results/latency.py) unless --benchmark-json says otherwise.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_addoption(parser):
    group = parser.getgroup("medtl-bench latency")
    group.addoption(
        "--matrix", default="smoke", help="matrix name in benchmarks/ or a YAML path (default: smoke)"
    )
    group.addoption("--results", default="results", help="results root (default: results)")
    group.addoption("--latency-batch-sizes", default="1,32", help="comma-separated (default: 1,32)")
    group.addoption("--latency-warmup", type=int, default=10, help="untimed calls (default: 10)")
    group.addoption("--latency-iterations", type=int, default=30, help="timed calls (default: 30)")
    group.addoption("--latency-device", default="auto", choices=["auto", "cpu", "cuda"])
    group.addoption("--latency-threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    group.addoption("--latency-amp", action="store_true", help="bf16 autocast (GPU only)")
    group.addoption("--latency-channels-last", action="store_true", help="channels_last (GPU only)")


def _matrix(config):
    if not hasattr(config, "_medtl_matrix"):
        from suite.commands import load_checked as _load

        config._medtl_matrix = _load(config.getoption("matrix"))
    return config._medtl_matrix


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """Default the JSON output to results/<matrix>/latency.json and time with the garbage collector off."""
    if not config.getoption("benchmark_json", None):
        out = Path(config.getoption("results")) / _matrix(config).name / "latency.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        config.option.benchmark_json = out
    config.option.benchmark_disable_gc = True


def pytest_generate_tests(metafunc):
    if "target" in metafunc.fixturenames:
        from suite.networks import latency_targets

        targets = latency_targets(_matrix(metafunc.config).cells)
        metafunc.parametrize("target", targets, ids=[t.id for t in targets])
    if "batch_size" in metafunc.fixturenames:
        sizes = [int(b) for b in metafunc.config.getoption("latency_batch_sizes").split(",")]
        metafunc.parametrize("batch_size", sizes, ids=[f"b{b}" for b in sizes])


def pytest_benchmark_update_json(config, benchmarks, output_json):
    from suite.environment import worker_environment
    from suite.matrix.schema import TrainConfig
    from suite.results.latency import FORMAT
    from suite.train import pick_device

    matrix = _matrix(config)
    device = pick_device(TrainConfig(device=config.getoption("latency_device")))
    output_json["medtl"] = {
        "format": FORMAT,
        "matrix": matrix.name,
        "matrix_path": str(matrix.path),
        "environment": worker_environment(device.type),
    }
