"""TTL, TransFusion and LWFT: cut points, Peng's parameter and MAC counts, TF support, trainable sets, one step."""

from __future__ import annotations

import pytest
import timm
import torch
from strategy_cases import (
    NUM_CLASSES,
    SIZE,
    efficientnet,
    one_step,
    prepared,
    tiny_densenet,
    tiny_resnet,
    tiny_vit,
)
from torch import nn

from suite.errors import UserError
from suite.models.catalog import ARCHITECTURES
from suite.models.surgery import (
    Cut,
    cut_points,
    default_cut,
    halving_plan,
    kept_params,
    skeleton,
    truncate,
)
from suite.strategies import STRATEGIES

# (strategy, variant, params, model): every structural strategy on tiny models, block and layer cuts.
CASES = [
    ("ttl", "block2", {}, tiny_resnet),
    ("ttl", "layer3.0", {}, tiny_resnet),
    ("ttl", "block3", {"pool": False}, tiny_resnet),
    ("ttl", "layer2.1", {}, tiny_densenet),
    ("ttl", "block1", {}, tiny_vit),
    ("ttl", "block2", {"pool": False}, tiny_vit),
    ("tf", "block2", {}, tiny_resnet),
    ("tf", None, {}, tiny_resnet),
    ("tf", "layer3.1", {}, tiny_densenet),
    ("lwft", "block2", {}, tiny_resnet),
    ("lwft", "layer3.0", {"bottom_lr_ratio": 0.1}, tiny_resnet),
    ("lwft", "block4", {}, tiny_densenet),
    ("ttl", "layer4.0", {}, tiny_densenet),  # stage 4: transition3 + denseblock4 + norm5
    ("tf", "layer4.0", {}, tiny_densenet),
    ("lwft", "layer4.0", {}, tiny_densenet),
    ("ttl", "layer3.1", {}, efficientnet),  # stage 3 = blocks.3 + blocks.4 (taps blocks.2, blocks.4)
    ("tf", "layer3.2", {}, efficientnet),  # blocks.4.0 changes width: no identity shortcut crosses this cut
    ("lwft", "layer4.0", {}, efficientnet),
]


def _ids(case):
    name, variant, params, make = case
    return f"{name}@{variant}-{make.__name__}" + "".join(f"-{k}={v}" for k, v in params.items())


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_output_trainable_set_and_frozen_weights(case):
    name, variant, params, make = case
    model, strategy, ctx = prepared(name, variant, make, **params)
    assert model(torch.zeros(2, 3, SIZE, SIZE)).shape == (2, NUM_CLASSES)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainable = one_step(model, strategy, ctx)
    assert {n for n, p in model.named_parameters() if p.requires_grad} == trainable
    after = model.state_dict()
    for n, p in model.named_parameters():
        if n in trainable:
            assert p.grad is not None, n  # (some get a zero gradient: timm zero-initialises residual BNs)
        else:
            assert p.grad is None and torch.equal(before[n], after[n]), n
    assert not any(torch.equal(before[n], after[n]) for n in ctx.head)
    frozen_bn = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d) and not m.weight.requires_grad]
    for bn in frozen_bn:  # frozen means the statistics stay too
        assert not bn.training


def _original_and(name, variant, make=tiny_resnet, **params):
    original = make()
    model, strategy, ctx = prepared(name, variant, make, **params)
    return original, model, strategy, ctx


def test_ttl_keeps_the_pretrained_bottom_and_drops_the_top():
    original, model, _, ctx = _original_and("ttl", "layer3.0")
    names = {n for n, _ in model.named_parameters()}
    assert not any(n.startswith(("layer4", "layer3.1")) for n in names)
    head = set(ctx.head)
    reference = original.state_dict()
    for n, p in model.named_parameters():
        if n not in head:
            assert torch.equal(p, reference[n]), n
    assert model.get_classifier().in_features == 32  # layer3.0's output, pooled
    assert ctx.records["cut"] == "layer3.0"


def test_ttl_without_pooling_flattens_the_feature_map():
    model, _, _ = prepared("ttl", "block3", pool=False)
    linear = model.get_classifier()[1]
    assert linear.in_features == 32 * (SIZE // 16) ** 2  # layer3: 32 channels at stride 16


def test_tf_halves_the_top_and_reinitialises_it():
    original, model, _, _ = _original_and("tf", "block2")
    kept = kept_params(original, Cut.parse("block2"))
    reference = original.state_dict()
    for n, p in model.named_parameters():
        if n in kept:
            assert torch.equal(p, reference[n]), n  # the bottom stays pretrained
        elif p.shape == reference[n].shape:
            assert not torch.equal(p, reference[n]), n  # the top is re-initialised
    assert model.layer3[0].conv1.out_channels == 16 and model.layer4[1].conv2.out_channels == 32
    assert model.layer3[0].conv1.in_channels == 16  # layer2's pretrained output reaches it unchanged
    assert model.get_classifier().in_features == 32


def test_tf_refuses_a_cut_through_an_identity_shortcut():
    with pytest.raises(UserError, match="identity shortcut"):
        prepared("tf", "layer3.0", tiny_resnet)


def test_lwft_groups_and_learning_rates():
    original = tiny_resnet()
    model, strategy, ctx = prepared("lwft", "block2", lr_ratio=0.2)
    groups = {g["lr_scale"]: set(g["params"]) for g in strategy.param_groups(model, ctx)}
    assert groups[1.0] == set(ctx.head)
    assert all(n.startswith(("layer3", "layer4")) for n in groups[0.2])
    assert groups[0.0] == kept_params(original, Cut.parse("block2"))
    assert strategy.trainable(model, 1, ctx) == groups[1.0] | groups[0.2]
    _, unfrozen, ctx2 = prepared("lwft", "block2", bottom_lr_ratio=0.01)
    assert unfrozen.trainable(model, 1, ctx2) is None
    assert {g["lr_scale"] for g in unfrozen.param_groups(model, ctx2)} == {1.0, 0.1, 0.01}


def test_cut_names_and_search_variants():
    from suite.strategies import STRATEGIES

    model = tiny_resnet()
    assert [str(c) for c in cut_points(model)] == [
        "block0", "layer1.0", "block1", "layer2.0", "block2", "layer3.0", "block3", "layer4.0", "block4"
    ]  # fmt: skip
    assert STRATEGIES.get("ttl").variants_for(model) == ["block1", "block2", "block3"]
    assert STRATEGIES.get("lwft").variants_for(model) == ["block1", "block2", "block3", "block4"]
    assert STRATEGIES.get("ttl").variants_for(model, "layer3.*") == ["layer3.0"]
    with pytest.raises(UserError, match="identity shortcut"):  # every layer cut of a ResNet crosses one
        STRATEGIES.get("tf").variants_for(model, "layer*")
    assert STRATEGIES.get("tf").variants_for(tiny_densenet(), "layer3.*") == ["layer3.0", "layer3.1"]
    assert default_cut(model) == Cut(3)
    with pytest.raises(ValueError, match="blockK"):
        STRATEGIES.get("ttl")(variant="layer3")
    with pytest.raises(UserError, match=r"unknown 'layer3\.1'.*valid: block0, block1"):
        prepared("ttl", "layer3.1")


# Peng et al. Table 1 (REFERENCE.md): ResNet-50, 2-class head, 224 x 224. TTL-2's cut is this suite's finding.
PENG = {
    "FTL": (None, None, 23.5, 4.12),
    "TF-1": ("tf", "block3", 12.9, 3.56),
    "TTL-1": ("ttl", "block3", 8.55, 3.31),
    "TTL-2": ("ttl", "layer3.3", 6.31, 2.87),
}


def fvcore_gmacs(model: nn.Module, size: int = 224) -> float:
    """fvcore's MAC count, in eval mode with grad enabled (REFERENCE.md's traps).

    A local helper until issue 5's suite.profiling lands; switch to the shared function then.
    """
    from fvcore.nn import FlopCountAnalysis

    model.eval()
    analysis = FlopCountAnalysis(model, torch.zeros(1, 3, size, size))
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    return analysis.total() / 1e9


@pytest.mark.parametrize("method", list(PENG))
def test_peng_table1_params_and_macs(method):
    from suite.models.blocks import param_blocks
    from suite.strategies import STRATEGIES, StrategyContext

    name, variant, params_m, gmacs = PENG[method]
    torch.manual_seed(0)
    model = timm.create_model("resnet50", pretrained=False, num_classes=2)
    if name:
        ctx = StrategyContext(param_blocks(model), 2, 1, image_size=224)
        model = STRATEGIES.get(name)(variant=variant).prepare_model(model, ctx)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    assert params == pytest.approx(params_m, rel=0.01)
    assert fvcore_gmacs(model) == pytest.approx(gmacs, rel=0.01)


TF_UNSUPPORTED = {"vit_b_16", "swin_v2_t", "maxvit_t"}  # as documented in TransFusion's card
FAST = {
    "resnet50",
    "densenet121",
    "efficientnet_b0",
    "vit_b_16",
}  # Peng's three + one transformer; the rest: slow
EVERY_ARCHITECTURE = [
    pytest.param(name, marks=() if name in FAST else pytest.mark.slow)
    for name, spec in ARCHITECTURES.items()
    if spec.family == "timm"  # the torchvision family has no feature taps: tests/test_torchvision.py
]


def _meta(name: str) -> nn.Module:
    with torch.device("meta"):
        return timm.create_model(ARCHITECTURES.get(name).timm_name, pretrained=False, num_classes=2)


@pytest.mark.parametrize("arch", EVERY_ARCHITECTURE)
def test_tf_support_for_every_registered_architecture(arch):
    """Supported architectures get a plan for the default cut; the others a one-line UserError."""
    model = _meta(arch)
    if arch in TF_UNSUPPORTED:
        with pytest.raises(UserError, match="TF supports convolutional networks only"):
            halving_plan(model, default_cut(model), 2)
    else:
        plan = halving_plan(model, default_cut(model), 2)
        assert plan and max(s.get("out_features", 0) for s in plan.values()) >= 2


@pytest.mark.parametrize("arch", EVERY_ARCHITECTURE)
def test_ttl_cuts_every_registered_architecture(arch):
    """Every registered architecture offers a block search, and its default truncation runs (on the meta device)."""
    from suite.models.surgery import block_cuts, skeleton, truncate

    model = _meta(arch)
    assert len(block_cuts(model)) >= 2
    body = truncate(skeleton(model), default_cut(model), 2)
    size = ARCHITECTURES.get(arch).input_size
    assert body(torch.zeros(1, 3, size, size, device="meta")).shape == (1, 2)


# Peng's stage 2 (-2) searches the layer cuts on both sides of the stage-1 winner block3: stage 3 and stage 4.
BOTH_SIDES = {
    "resnet50": (5, 2),  # layer3.0-3.4 in layer3; layer4.0-4.1 in layer4
    "densenet121": (23, 15),  # dense layers of denseblock3; transition3 + denseblock4 (16 layers) + norm5
    "efficientnet_b0": (5, 4),  # blocks.3 (3) + blocks.4 (3); blocks.5 (4) + blocks.6 (1)
}


@pytest.mark.parametrize("arch", list(BOTH_SIDES))
def test_layer_cuts_exist_on_both_sides_of_block3_and_truncate(arch):
    model = _meta(arch)
    before, after = ([f"layer{k}.{j}" for j in range(n)] for k, n in zip((3, 4), BOTH_SIDES[arch]))
    names = [str(c) for c in cut_points(model)]
    i = names.index("block3")
    assert names[i - len(before) : i] == before and names[i + 1 : i + 1 + len(after)] == after
    assert STRATEGIES.get("ttl").variants_for(model, "layer[34].*") == before + after
    for variant in (before[0], before[-1], after[0], after[-1]):
        body = truncate(skeleton(model), Cut.parse(variant), 2, image_size=224)
        assert body(torch.zeros(1, 3, 224, 224, device="meta")).shape == (1, 2), variant


# (architecture, cut, the last unit kept, the first module dropped, channels reaching the new head)
LAYER_CUTS = [
    ("resnet50", "layer3.3", "layer3.3", "layer3.4", 1024),
    ("densenet121", "layer4.3", "features.denseblock4.denselayer4", "features.norm5", 512 + 4 * 32),
    ("densenet121", "layer4.0", "features.transition3", "features.denseblock4.denselayer2", 512 + 32),
    ("efficientnet_b0", "layer3.0", "blocks.3.0", "blocks.3.1", 80),
    ("efficientnet_b0", "layer3.3", "blocks.4.0", "blocks.4.1", 112),
    ("efficientnet_b0", "layer4.3", "blocks.5.3", "blocks.6.0", 192),
]


@pytest.mark.parametrize(("arch", "cut", "last", "dropped", "channels"), LAYER_CUTS)
def test_a_layer_cut_keeps_its_stage_up_to_the_unit(arch, cut, last, dropped, channels):
    """Units before the cut stay (with what precedes them, e.g. a transition); later ones and the tap go."""
    model = _meta(arch)
    kept = kept_params(model, Cut.parse(cut))
    assert any(n.startswith(f"{last}.") for n in kept)
    assert not any(n.startswith(f"{dropped}.") for n in kept)
    body = truncate(skeleton(model), Cut.parse(cut), 2, image_size=224)
    assert body.get_classifier().in_features == body.num_features == channels


def test_tf_makes_the_new_layer_cuts_where_no_identity_shortcut_crosses_them():
    """EfficientNet-B0: where one stack ends inside a stage (blocks.3 → blocks.4, blocks.5 → blocks.6), the first
    block above changes width and has no shortcut; inside a stack it has one and the cut says why not."""
    tf = STRATEGIES.get("tf")
    assert tf.variants_for(_meta("efficientnet_b0"), "layer[34].*") == ["layer3.2", "layer4.3"]
    with pytest.raises(UserError, match="identity shortcut"):
        tf.variants_for(_meta("efficientnet_b0"), "layer3.0")
    assert tf.variants_for(tiny_densenet(), "layer4.*") == ["layer4.0"]
