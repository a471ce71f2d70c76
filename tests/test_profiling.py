"""Profiling: REFERENCE.md's params and MACs per counter, the counting traps, the peak-memory window, the `profile`
command, and the profiling fields of a real cell (with metrics recomputed from its npz). Latency timing rules:
tests/test_profiling_timing.py."""

from __future__ import annotations

import json
import math
import mmap
import subprocess
import sys
from pathlib import Path

import pytest
import timm
import torch
from torch import nn

from suite.cli import main
from suite.models.build import build_model
from suite.models.catalog import resolve_architecture
from suite.profiling import (
    LatencySettings,
    count_macs,
    count_params,
    measure_latency,
    peak_memory,
    reset_peak_memory,
)

# REFERENCE.md, 1×3×224×224, 1000-class head: params, fvcore GMACs, thop GMACs. The suite builds timm models, so
# thop's figures are the "timm model" ones where REFERENCE gives two (DenseNet-121, EfficientNet-B0).
REFERENCE = {
    "resnet18": (11_689_512, 1.819, 1.824),
    "resnet50": (25_557_032, 4.112, 4.134),
    "densenet121": (7_978_856, 2.866, 2.834),
    "efficientnet_b0": (5_288_548, 0.402, 0.386),
    "vit_b_16": (86_567_656, 17.583, 16.849),
    "vgg19": (143_667_240, 19.632, 19.632),
}
SLOW = {"vgg19"}  # ~6 s on one CPU core (a 143 M-parameter build and two 19.6 GMAC forwards)


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in REFERENCE]
)
def test_reference_params_and_macs(name):
    params, fvcore, thop = REFERENCE[name]
    model = build_model(resolve_architecture(name), 1000, "scratch")
    macs = count_macs(model, 224)
    assert count_params(model) == {"total": params, "trainable": params}
    assert macs["fvcore"] == pytest.approx(fvcore, rel=0.01)
    assert macs["thop"] == pytest.approx(thop, rel=0.01)
    assert "aten::scaled_dot_product_attention" not in macs["unsupported_ops"]
    assert "errors" not in macs


def tiny_vit() -> nn.Module:
    return timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=32, num_classes=2)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # importing fvcore: torch.jit.script is deprecated
def test_fused_attention_would_hide_macs_from_fvcore():
    """The trap this module avoids: fvcore on timm's fused attention skips it (and says so)."""
    from fvcore.nn import FlopCountAnalysis

    model = tiny_vit().eval()
    assert any(getattr(m, "fused_attn", False) for m in model.modules())
    naive = FlopCountAnalysis(model, torch.zeros(1, 3, 32, 32)).unsupported_ops_warnings(False)
    naive_total = naive.total()
    assert "aten::scaled_dot_product_attention" in naive.unsupported_ops()
    tokens, width, depth = 2 * 2 + 1, 192, 12  # 32 px / 16 px patches + the class token
    attention = depth * 2 * tokens**2 * width  # q·kᵀ and attn·v per block
    assert count_macs(model, 32)["fvcore"] * 1e9 == pytest.approx(naive_total + attention, abs=1)


def test_counting_leaves_the_model_untouched():
    model = tiny_vit().train()
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith("head"))
    before = {n: p.requires_grad for n, p in model.named_parameters()}
    count_macs(model, 32)
    assert model.training and {n: p.requires_grad for n, p in model.named_parameters()} == before
    assert all(m.fused_attn for m in model.modules() if hasattr(m, "fused_attn"))
    assert not any(hasattr(m, "total_ops") for m in model.modules())  # thop ran on a copy
    assert not any(m._forward_hooks for m in model.modules())


# --- latency ------------------------------------------------------------------------------------------------


@pytest.mark.gpu
def test_gpu_latency_options_and_memory_are_recorded():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    cuda = torch.device("cuda")
    model = timm.create_model("resnet10t", num_classes=2)
    record, _ = measure_latency(
        model,
        32,
        cuda,
        LatencySettings(batch_sizes=(1, 4), warmup=2, iterations=3, amp=True, channels_last=True),
    )
    assert record["dtype"] == "bfloat16" and record["channels_last"] is True
    assert record["device"].startswith("cuda (") and record["batch_4"]["n"] == 3
    reset_peak_memory(cuda)
    block = torch.ones(2**26, device=cuda)  # 256 MiB
    memory = peak_memory(cuda, "test")
    assert memory["kind"] == "cuda_max_allocated" and memory["peak_bytes"] >= block.numel() * 4


class Broken(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3)

    def forward(self, x):
        raise RuntimeError("CUDA out of memory (simulated)")


def test_profiling_failures_are_recorded_never_fatal():
    """A trained cell must not be lost to a counter or a timing run that fails."""
    from suite.matrix.schema import TrainConfig
    from suite.profiling import profile_cell

    cfg = TrainConfig(image_size=8, profile={"warmup": 0, "iterations": 3, "batch_sizes": [1]})
    fields, notes = profile_cell(Broken(), cfg, torch.device("cpu"))
    assert fields["macs"]["fvcore"] is None and fields["macs"]["thop"] is None
    assert "out of memory (simulated)" in fields["macs"]["errors"]["thop"]
    assert "out of memory (simulated)" in fields["latency"]["error"]
    assert any(n.startswith("latency not measured") for n in notes)
    assert any(n.startswith("MACs: fvcore failed") for n in notes)


# --- memory -------------------------------------------------------------------------------------------------


def test_cpu_peak_memory_window():
    """64 MiB mapped and touched inside the window count; after a reset (and unmapping) they no longer do."""
    cpu = torch.device("cpu")
    if not reset_peak_memory(cpu):
        pytest.skip("this kernel cannot reset the peak RSS (/proc/self/clear_refs)")
    size = 64 * 2**20
    block = mmap.mmap(-1, size)  # fresh pages: the allocator cannot hand back memory that is already resident
    block.write(b"x" * size)
    during = peak_memory(cpu, "test")
    block.close()
    reset_peak_memory(cpu)
    after = peak_memory(cpu, "test")
    assert during["kind"] == "cpu_peak_rss" and during["scope"] == "test"
    assert during["peak_bytes"] - after["peak_bytes"] > 48 * 2**20


# --- the profile command ------------------------------------------------------------------------------------

QUICK = ["--image-size", "32", "--num-classes", "2", "--warmup", "1", "--iterations", "3", "--threads", "1"]


def profile_json(capsys, *args: str) -> dict:
    assert main(["profile", "timm:resnet10t", *QUICK, "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_profile_command_reports_every_field(capsys):
    p = profile_json(capsys, "--batch-sizes", "1,2", "--train-batch-size", "4", "--train-steps", "1")
    model = timm.create_model("resnet10t", num_classes=2)
    assert p["params"] == count_params(model)
    assert p["macs"]["image_size"] == 32 and p["macs"]["fvcore"] > 0 and p["macs"]["thop"] > 0
    assert p["latency"]["batch_1"]["n"] == 3 and p["latency"]["batch_2"]["median_ms"] > 0
    assert p["latency"]["threads"] == 1
    assert p["memory"]["kind"] == "cpu_peak_rss" and p["memory"]["peak_bytes"] > 0
    assert p["throughput"]["train_img_s"] > 0


def test_profile_reports_the_strategy_prepared_model(capsys, monkeypatch):
    """A strategy that reshapes the network (here: a stand-in truncation) is profiled after `prepare_model`."""
    from suite.strategies.basic import LinearProbe

    def truncate(self, model, ctx):
        model.layer4, model.fc = nn.Identity(), nn.Linear(256, ctx.num_classes)
        return model

    full = profile_json(capsys, "--no-latency", "--no-train")
    monkeypatch.setattr(LinearProbe, "prepare_model", truncate)
    cut = profile_json(capsys, "--strategy", "lp", "--no-latency", "--no-train")
    model = timm.create_model("resnet10t", num_classes=2)
    model.layer4, model.fc = nn.Identity(), nn.Linear(256, 2)
    assert cut["params"] == {"total": count_params(model)["total"], "trainable": 256 * 2 + 2}
    assert cut["params"]["total"] < full["params"]["total"]
    assert cut["macs"]["fvcore"] < full["macs"]["fvcore"] and cut["macs"]["thop"] < full["macs"]["thop"]
    assert "latency" not in cut and "memory" not in cut


def test_profile_table_names_counters_and_says_macs(capsys):
    assert main(["profile", "timm:resnet10t", *QUICK, "--batch-sizes", "1", "--no-train"]) == 0
    out = capsys.readouterr().out
    assert "MACs (1×3×32²)" in out and "fvcore" in out and "thop" in out and "FLOP" not in out
    assert "latency batch 1" in out and "cpu (" in out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["resnet5"], "did you mean 'resnet50'"),
        (["resnet18", "--strategy", "lpp"], "did you mean 'lp'"),
        (["resnet18", "--iterations", "1"], "--iterations must be ≥ 3"),
    ],
)
def test_profile_mistakes_are_one_line(capsys, args, needle):
    assert main(["profile", *args]) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1


# --- a real cell records everything, and its metrics can be recomputed from its npz ------------------------

CELL = """
name: prof
datasets: [synthetic-vessels]
architectures: ["timm:resnet10t"]
sources: [scratch]
strategies: [lp]
seeds: [0]
train:
  epochs: 2
  batch_size: 16
  image_size: 32
  threads: 1
  profile: {batch_sizes: [1, 8], warmup: 1, iterations: 3}
"""


@pytest.fixture(scope="module")
def cell_result(tmp_path_factory):
    from suite.commands import load_checked as _load
    from suite.results import RunPaths
    from suite.runner.cell import run_cell
    from suite.runner.spec import CellSpec

    tmp = tmp_path_factory.mktemp("cell")
    (tmp / "prof.yaml").write_text(CELL.replace("seeds: [0]", "seeds: [0, 1]"))
    cell = next(c for c in _load(str(tmp / "prof.yaml")).cells if c.config.seed == 0)
    paths = RunPaths(tmp / "results" / "prof")
    paths.cell_dir(cell).mkdir(parents=True)
    spec = CellSpec.for_cell(cell, paths, "prof", {})
    return run_cell(spec), paths.runs


def test_cell_records_profiling_fields(cell_result):
    result, _ = cell_result
    head = 512 * 2 + 2  # resnet10t's classifier on 2 classes: lp trains only that
    assert result.params["trainable"] == head < result.params["total"]
    assert result.macs.image_size == 32 and result.macs.fvcore > 0 and result.macs.thop > 0
    lat = result.latency
    assert lat.device and lat.dtype and lat.channels_last is False and lat.threads == 1
    assert lat.batch(1).n == 3 and lat.batch(8).n == 3
    assert result.memory.kind == "cpu_peak_rss" and result.memory.peak_bytes > 2**20
    assert result.throughput["train_img_s"] > 0 and result.timings["profile_s"] > 0


def test_a_second_cell_of_the_same_network_reuses_its_macs_and_latency(cell_result):
    """Issue 15.3: MACs and latency once per distinct network of a matrix; another seed reads the first's."""
    from suite.commands import load_checked as _load
    from suite.results import RunPaths
    from suite.runner.cell import run_cell
    from suite.runner.spec import CellSpec

    first, runs = cell_result
    assert first.macs.measured_by == first.latency.measured_by == first.slug
    stored = runs.parent / "work" / "networks" / f"{first.macs.network}.json"
    assert stored.is_file()
    yaml = runs.parent.parent.parent / "prof.yaml"
    cell = next(c for c in _load(str(yaml)).cells if c.config.seed == 1)
    paths = RunPaths(runs.parent)
    paths.cell_dir(cell).mkdir(parents=True)
    second = run_cell(CellSpec.for_cell(cell, paths, "prof", {}))
    assert second.macs.measured_by == second.latency.measured_by == first.slug
    assert second.macs.network == first.macs.network
    assert second.macs.fvcore == first.macs.fvcore and second.latency.batch(1) == first.latency.batch(1)


def test_cell_metrics_recompute_from_its_predictions(cell_result):
    from suite.metrics import metrics_from_predictions

    result, runs = cell_result
    again = metrics_from_predictions(runs / result.predictions)
    stored = result.metrics["test"]
    for name, value in again.scalars.items():
        assert (math.isnan(value) and stored.get(name) != stored.get(name)) or value == pytest.approx(
            stored.get(name)
        ), name
    assert again.confusion == stored.confusion


def test_bench_targets_collapse_strategies_that_do_not_reshape(tmp_path):
    from suite.commands import load_checked as _load
    from suite.networks import latency_targets

    path = Path(tmp_path / "m.yaml")
    path.write_text(
        CELL.replace("strategies: [lp]", "strategies: [ft, lp]").replace("seeds: [0]", "seeds: [0, 1]")
    )
    targets = latency_targets(_load(str(path)).cells)
    assert [t.id for t in targets] == ["timm:resnet10t-32px-2cls"]


@pytest.mark.slow
def test_bench_latency_suite_writes_the_latency_file(tmp_path):
    """`make bench-latency` end to end on a two-network matrix (the interleaved script in a subprocess)."""
    from suite.results.latency import BatchOneLatency, latency_rows

    repo = Path(__file__).resolve().parents[1]
    text = CELL.replace("name: prof", "name: lat").replace(
        "strategies: [lp]", 'strategies: [lp, "ttl@block3"]'
    )
    (tmp_path / "lat.yaml").write_text(text)
    options = ["--warmup", "1", "--rounds", "2", "--block", "2", "--batch-sizes", "1,2", "--quiet"]
    cmd = [sys.executable, "benchmarks/latency/interleaved.py", "--matrix", str(tmp_path / "lat.yaml")]
    cmd += ["--results", str(tmp_path / "results"), *options]
    subprocess.run(cmd, check=True, cwd=repo, capture_output=True)
    path = tmp_path / "results" / "lat" / "latency.json"
    rows = latency_rows(path)
    assert [(r["strategy"], r["batch_size"], r["n"]) for r in rows] == [
        (None, 1, 4),
        (None, 2, 4),
        ("ttl@block3", 1, 4),
        ("ttl@block3", 2, 4),
    ]
    assert all(r["q1_ms"] <= r["median_ms"] <= r["q3_ms"] and r["process_cpu_median_ms"] >= 0 for r in rows)
    assert all(r["device"].startswith("cpu (") for r in rows)
    conditions = json.loads(path.read_text())["medtl"]["conditions"]
    assert conditions["rounds"] == 2 and conditions["block"] == 2 and len(conditions["load_before"]) == 3
    assert BatchOneLatency.read(path).lookup("timm:resnet10t", 32, 2, "ttl@block3") > 0


def test_latency_rows_refuse_an_unknown_format(tmp_path):
    from suite.results.latency import latency_rows

    path = tmp_path / "latency.json"
    path.write_text(json.dumps({"benchmarks": [{"extra_info": {"median_ms": 1.0}}], "medtl": {"format": 1}}))
    assert latency_rows(path) == [{"median_ms": 1.0}]
    path.write_text(json.dumps({"benchmarks": []}))
    with pytest.raises(ValueError, match="latency file format None, expected 1 or 2"):
        latency_rows(path)
