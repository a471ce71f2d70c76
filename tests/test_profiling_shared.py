"""MACs and latency once per distinct network of a matrix (suite/profiling/shared.py): the first cell measures, the
others with the same network read the store; a different head, image size or thread count measures again."""

from __future__ import annotations

import json

import torch
from torch import nn

import suite.profiling.shared as shared
from suite.matrix.schema import TrainConfig
from suite.results.schema import LatencyRecord, MacsRecord

ARCH = {"name": "tiny", "timm": None}
CPU = torch.device("cpu")


def net(classes: int = 2) -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, classes))


def counting(monkeypatch, latency: dict | None = None) -> list[int]:
    """Replace the measurement by a counter; returns the list of calls."""
    calls: list[int] = []

    def fake(model, cfg, device):
        calls.append(1)
        lat = latency or {"device": "cpu", "batch_1": {"median_ms": 1.5, "iqr_ms": 0.1, "n": 3}}
        return {"macs": {"image_size": cfg.image_size, "fvcore": 0.01, "thop": 0.01}, "latency": lat}, [
            "a note"
        ]

    monkeypatch.setattr(shared, "profile_cell", fake)
    return calls


def test_cells_with_the_same_network_profile_once(monkeypatch, tmp_path):
    calls = counting(monkeypatch)
    cfg = TrainConfig(image_size=32, threads=1)
    first, notes1 = shared.shared_profile(net(), cfg, CPU, tmp_path, ARCH, "cell-a")
    second, notes2 = shared.shared_profile(
        net(), cfg, CPU, tmp_path, ARCH, "cell-b"
    )  # another seed: new weights
    assert len(calls) == 1
    assert second == first and notes2 == notes1 == ["a note"]
    assert first["macs"]["measured_by"] == first["latency"]["measured_by"] == "cell-a"
    assert (tmp_path / f"{first['macs']['network']}.json").is_file()

    shared.shared_profile(net(classes=3), cfg, CPU, tmp_path, ARCH, "cell-c")  # another head size
    assert len(calls) == 2
    shared.shared_profile(net(), TrainConfig(image_size=64, threads=1), CPU, tmp_path, ARCH, "cell-d")
    shared.shared_profile(net(), TrainConfig(image_size=32, threads=2), CPU, tmp_path, ARCH, "cell-e")
    shared.shared_profile(net(), cfg, CPU, tmp_path, {"name": "other", "timm": None}, "cell-f")
    assert len(calls) == 5
    shared.shared_profile(net(), cfg, CPU, tmp_path, ARCH, "cell-g")
    assert len(calls) == 5


def test_a_stored_entry_for_another_key_or_damaged_is_measured_again(monkeypatch, tmp_path):
    calls = counting(monkeypatch)
    cfg = TrainConfig(image_size=32, threads=1)
    fields, _ = shared.shared_profile(net(), cfg, CPU, tmp_path, ARCH, "cell-a")
    path = tmp_path / f"{fields['macs']['network']}.json"
    entry = json.loads(path.read_text())
    entry["key"]["image_size"] = 99
    path.write_text(json.dumps(entry))
    again, _ = shared.shared_profile(net(), cfg, CPU, tmp_path, ARCH, "cell-b")
    assert len(calls) == 2 and again["macs"]["measured_by"] == "cell-b"
    path.write_text("{not json")
    shared.shared_profile(net(), cfg, CPU, tmp_path, ARCH, "cell-c")
    assert len(calls) == 3 and json.loads(path.read_text())["measured_by"] == "cell-c"


def test_a_failed_latency_is_not_shared(monkeypatch, tmp_path):
    calls = counting(monkeypatch, latency={"device": "cpu", "error": "RuntimeError: out of memory"})
    cfg = TrainConfig(image_size=32, threads=1)
    shared.shared_profile(net(), cfg, CPU, tmp_path, ARCH, "cell-a")
    shared.shared_profile(net(), cfg, CPU, tmp_path, ARCH, "cell-b")
    assert len(calls) == 2 and not list(tmp_path.iterdir())


def test_the_markers_are_result_fields_and_absent_when_unset(monkeypatch, tmp_path):
    counting(monkeypatch)
    fields, _ = shared.shared_profile(net(), TrainConfig(image_size=32), CPU, tmp_path, ARCH, "cell-a")
    macs, lat = MacsRecord.model_validate(fields["macs"]), LatencyRecord.model_validate(fields["latency"])
    assert macs.model_dump()["measured_by"] == lat.model_dump()["measured_by"] == "cell-a"
    assert macs.model_dump()["network"] == lat.model_dump()["network"] == fields["macs"]["network"]
    assert "network" not in MacsRecord(fvcore=1.0).model_dump()  # older results keep their exact shape
    assert "measured_by" not in LatencyRecord(device="cpu").model_dump()
