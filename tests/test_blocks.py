"""Parameter blocks for every registered architecture (weightless, on the meta device) and the rule behind them."""

from __future__ import annotations

import pytest
import timm
import torch
from timm.models._manipulate import group_parameters

from suite.models.blocks import _cuts, head_params, param_blocks
from suite.models.catalog import ARCHITECTURES

TIMM_EXTRAS = ["resnet10t", "test_vit", "test_efficientnet", "convnext_atto"]


def meta_model(timm_name: str) -> torch.nn.Module:
    with torch.device("meta"):
        return timm.create_model(timm_name, pretrained=False, num_classes=3)


@pytest.mark.parametrize(
    "timm_name", [spec.timm_name for _, spec in ARCHITECTURES.items() if spec.family == "timm"] + TIMM_EXTRAS
)
def test_blocks_cover_every_parameter_once_in_order_with_the_head_last(timm_name):
    model = meta_model(timm_name)
    blocks = param_blocks(model)
    names = [n for n, _ in model.named_parameters()]
    flat = [p for b in blocks for p in b.params]
    assert len(blocks) >= 2 and all(b.params for b in blocks)
    assert sorted(flat) == sorted(names) and len(flat) == len(set(flat))
    assert blocks[-1].name == "head" and set(blocks[-1].params) == set(head_params(model))
    assert [b.name for b in blocks[:-1]] == ["stem"] + [f"block{i}" for i in range(1, len(blocks) - 1)]
    # stem → head: timm's own coarse-group ordinals never go backwards along the body's blocks
    group_of = group_parameters(model, model.group_matcher(coarse=True), reverse=True)
    ordinals = [group_of[p] for b in blocks[:-1] for p in b.params]
    assert ordinals == sorted(ordinals)


@pytest.mark.parametrize(
    ("name", "count", "labels"),
    [
        ("resnet50", 6, ["conv1+bn1", "layer1", "layer2", "layer3", "layer4", "fc"]),
        (
            "densenet121",
            9,
            ["features.conv0+features.norm0", "features.denseblock1", "features.transition1"],
        ),
        ("vgg19", 6, ["features.0+features.2", "features.5+features.7"]),
    ],
)
def test_davila_block_counts(name, count, labels):
    blocks = param_blocks(meta_model(ARCHITECTURES.get(name).timm_name))
    assert len(blocks) == count
    assert [b.label for b in blocks[: len(labels)]] == labels


def test_vgg_fc6_fc7_stay_with_the_last_conv_stage_and_the_head_is_only_the_new_classifier():
    blocks = param_blocks(meta_model("vgg19"))
    assert blocks[-1].params == ("head.fc.weight", "head.fc.bias")
    assert {"pre_logits.fc1.weight", "pre_logits.fc2.weight", "features.34.weight"} <= set(blocks[-2].params)


@pytest.mark.parametrize(
    ("stages", "groups", "cuts"),
    [
        ([0, 0, 1, 1], [0, 0, 1, 1], [2]),  # agree: one cut (ResNet)
        ([0, 0, 1, 1], [0, 1, 2, 3], [2]),  # groups finer than stages are merged (VGG)
        ([0, 1, 2, 2, 3, 3], [0, 1, 1, 2, 2, 3], [1, 2, 3, 4, 5]),  # groups straddle stage ends (DenseNet)
        ([0, 0, 0], None, []),  # no group_matcher: the stages
        (None, [0, 1, 1], [1]),  # no feature_info: the groups
        (None, None, []),  # neither: one body block
    ],
)
def test_cut_rule(stages, groups, cuts):
    n = len(stages or groups or [0, 0, 0])
    assert _cuts(n, stages, groups) == cuts
