"""The architecture registry: the papers' names onto real timm models and tags, Fang's sizes and LRs, overrides."""

from __future__ import annotations

import pytest
import timm

import suite.models.weights as weights
from suite.catalog import SuiteCatalog
from suite.errors import UserError
from suite.matrix import load_matrix
from suite.models.catalog import ARCHITECTURES, PIP_WEIGHTS_TAG, resolve_architecture

# METHODS.md §F (Fang et al. 2025): 384 for EfficientNetV2-S, 299 for Inception-v3, 256 for SwinV2-T, else 224;
# LR 1e-4 for EfficientNetV2-S, VGG19, SwinV2-T and MaxViT-T, 1e-3 for the others. Lite models keep timm's size.
SIZE = {"inception_v3": 299, "efficientnet_v2_s": 384, "swin_v2_t": 256}
SLOW = {"efficientnet_v2_s", "vgg19", "swin_v2_t", "maxvit_t"}
LITE_SIZE = {"tf_efficientnet_lite0": 224, "tf_efficientnet_lite1": 240, "tf_efficientnet_lite2": 260}
PAPERS = [
    "resnet18",
    "resnet50",
    "densenet121",
    "densenet169",
    "vgg19",
    "mobilenet_v2",
    "inception_v3",
    "efficientnet_b0",
    "efficientnet_v2_s",
    "vit_b_16",
    "swin_v2_t",
    "maxvit_t",
    "tf_efficientnet_lite0",
    "tf_efficientnet_lite1",
    "tf_efficientnet_lite2",
    "tv_mobilenet_v2",
    "tv_vit_b_16",
    "tv_efficientnet_v2_s",
    "tv_swin_v2_t",
    "tv_maxvit_t",
]
TIMM_NAMES = [name for name, spec in ARCHITECTURES.items() if spec.family == "timm"]


def test_every_paper_name_is_registered():
    assert sorted(ARCHITECTURES.names()) == sorted(PAPERS)


@pytest.mark.parametrize("name", TIMM_NAMES)
def test_each_name_maps_to_a_timm_model_and_tag_with_fangs_size_and_lr(name):
    spec = ARCHITECTURES.get(name)
    assert timm.is_model(spec.timm_name)
    assert weights.pretrained_cfg(spec) is not None, f"timm has no tag {spec.pretrained_id}"
    if spec.weights == PIP_WEIGHTS_TAG:
        assert weights.pip_weights_file(spec.timm_name).is_file()
        assert spec.input_size == LITE_SIZE[name]
    else:
        assert spec.input_size == SIZE.get(name, 224)
    assert spec.lr == (1e-4 if name in SLOW else 1e-3)


def test_timm_passthrough_and_overrides():
    spec = resolve_architecture("timm:convnext_tiny.fb_in1k", input_size=160, lr=3e-4)
    assert (spec.timm_name, spec.weights, spec.input_size, spec.lr) == ("convnext_tiny", "fb_in1k", 160, 3e-4)
    assert resolve_architecture("resnet50", weights="a1_in1k").pretrained_id == "resnet50.a1_in1k"
    with pytest.raises(UserError, match="did you mean 'resnet50'"):
        resolve_architecture("resnet5")


def test_matrix_overrides_size_weights_and_lr(matrix_file):
    text = """
datasets: [synthetic-vessels]
architectures:
  - {name: resnet50, weights: a1_in1k, image_size: 160, lr: 0.003}
  - "timm:convnext_atto"
strategies: [ft]
seeds: [0]
"""
    first, second = load_matrix(str(matrix_file(text)), SuiteCatalog()).cells
    assert first.config.architecture.weights == "a1_in1k"
    assert (first.config.train.image_size, first.config.train.lr) == (160, 0.003)
    assert second.config.architecture.timm == "convnext_atto"
    with pytest.raises(UserError, match="did you mean 'convnext_atto'"):
        load_matrix(
            str(matrix_file(text.replace('"timm:convnext_atto"', '"timm:convnext_ato"'))), SuiteCatalog()
        )


def test_fetch_runs_timms_own_download_then_finds_the_file(tmp_path, monkeypatch):
    """`weights fetch` calls timm.create_model(pretrained=True) (mocked: no network) and reports the cached file."""
    calls = []
    cached = tmp_path / "model.safetensors"

    def fake_create_model(model_id, pretrained=False, **kwargs):
        calls.append((model_id, pretrained))
        cached.write_bytes(b"weights")

    monkeypatch.setattr(weights.timm, "create_model", fake_create_model)
    monkeypatch.setattr(weights, "cached_hub_file", lambda spec: cached if cached.exists() else None)
    monkeypatch.setattr(weights, "_probe", lambda cfg: None)  # the hub answers
    assert weights.fetch(resolve_architecture("densenet121")) == str(cached)
    assert calls == [("densenet121.tv_in1k", True)]
    assert weights.fetch(resolve_architecture("densenet121")) == str(cached) and len(calls) == 1  # cached now


def test_list_architectures_documents_mapping_size_preprocessing_lr_and_blocks():
    from suite.commands.listing import list_command

    out = list_command("architectures")
    row = next(line for line in out.splitlines() if line.startswith("inception_v3 "))
    for cell in ("inception_v3.tv_in1k", "299", "0.001", "0.500/0.500/0.500", " 6 "):
        assert cell in row
    assert "timm:<model>" in out
