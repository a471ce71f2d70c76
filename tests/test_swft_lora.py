"""SWFT steps, LoRA (peft) and SWFT+LoRA: trainable sets, the adapter count formula, init, reloading a checkpoint."""

from __future__ import annotations

import math

import pytest
import timm
import torch
from strategy_cases import NUM_CLASSES, SIZE, one_step, prepared, tiny_densenet, tiny_resnet, tiny_vit
from torch import nn

from suite.errors import UserError
from suite.models.blocks import param_blocks
from suite.strategies import STRATEGIES

CASES = [
    ("swft", "1", tiny_resnet),
    ("swft", "3", tiny_resnet),
    ("swft", "6", tiny_resnet),
    ("swft", "2", tiny_densenet),
    ("lora", None, tiny_resnet),
    ("lora", None, tiny_vit),
    ("swft-lora", "3", tiny_resnet),
    ("swft-lora", "2", tiny_densenet),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{n}@{v}-{m.__name__}" for n, v, m in CASES])
def test_output_trainable_set_and_frozen_weights(case):
    name, variant, make = case
    model, strategy, ctx = prepared(name, variant, make)
    assert model(torch.zeros(2, 3, SIZE, SIZE)).shape == (2, NUM_CLASSES)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainable = one_step(model, strategy, ctx)
    assert {n for n, p in model.named_parameters() if p.requires_grad} == trainable
    for n, p in model.named_parameters():
        if n not in trainable:
            assert p.grad is None and torch.equal(before[n], model.state_dict()[n]), n
    assert not any(torch.equal(before[n], model.state_dict()[n]) for n in ctx.head)


def test_swft_steps_on_resnet_are_fangs_six():
    """Step 1 = fc, step 2 = layer4 + fc, ..., step 6 = everything (METHODS.md §F)."""
    with torch.device("meta"):
        model = timm.create_model("resnet50", pretrained=False, num_classes=2)
    blocks = param_blocks(model)
    assert STRATEGIES.get("swft").variants(len(blocks)) == ["1", "2", "3", "4", "5", "6"]
    prefixes = ["fc", "layer4", "layer3", "layer2", "layer1", ""]
    names = {n for n, _ in model.named_parameters()}
    for k in range(1, 7):
        model_k, strategy, ctx = prepared("swft", str(k), lambda: model)
        expected = {n for n in names if n.startswith(tuple(prefixes[:k]))}
        assert strategy.trainable(model_k, 1, ctx) == expected
        assert ctx.records["step"] == k
    with pytest.raises(UserError, match=r"valid steps are swft@1 \.\. swft@6"):
        prepared("swft", "7", lambda: model)


def _expected_adapter_params(model: nn.Module, rank: int, blocks) -> int:
    """rank·(in·k·k + out) per ungrouped Conv2d, rank·(in + out) per Linear, in the adapted blocks."""
    params = {n for b in blocks for n in b.params}
    total = 0
    for name, m in model.named_modules():
        if f"{name}.weight" not in params:
            continue
        if isinstance(m, nn.Conv2d) and m.groups == 1:
            total += rank * (m.in_channels * math.prod(m.kernel_size) + m.out_channels)
        elif isinstance(m, nn.Linear):
            total += rank * (m.in_features + m.out_features)
    return total


@pytest.mark.parametrize(
    "name,variant,make,rank",
    [("lora", None, tiny_resnet, 8), ("lora", None, tiny_vit, 4), ("swft-lora", "3", tiny_resnet, 8)],
)
def test_lora_parameter_count_formula(name, variant, make, rank):
    plain = make()
    blocks = param_blocks(plain)
    adapted = blocks[:-1] if name == "lora" else blocks[-3:-1]
    expected = _expected_adapter_params(plain, rank, adapted)
    model, strategy, ctx = prepared(name, variant, make, rank=rank)
    head = sum(p.numel() for p in model.get_classifier().parameters())
    named = dict(model.named_parameters())
    assert ctx.records["lora"]["adapter_params"] == expected
    assert sum(named[n].numel() for n in strategy.trainable(model, 1, ctx)) == expected + head


def test_lora_init_starts_from_the_source_model():
    """B = 0, so the adapted model computes what the source did; A is kaiming-uniform with a = sqrt(5)."""
    from peft.tuners.lora import LoraLayer

    plain = tiny_resnet().eval()
    model, _, _ = prepared("lora", None, tiny_resnet)
    x = torch.randn(2, 3, SIZE, SIZE)
    assert torch.allclose(model.eval()(x), plain(x), atol=1e-6)
    layers = [m for m in model.modules() if isinstance(m, LoraLayer)]
    for layer in layers:
        a, b = layer.lora_A["default"].weight, layer.lora_B["default"].weight
        fan_in = a[0].numel()
        assert torch.count_nonzero(b) == 0 and 0 < a.abs().max() <= 1 / math.sqrt(fan_in)
        assert layer.scaling["default"] == 16 / 8


def test_head_still_trains_after_loading_a_checkpoint(tmp_path):
    """The peft pitfall: a reloaded adapter model must not come back with a frozen head."""
    from suite.models.build import build_model, save_checkpoint
    from suite.models.catalog import resolve_architecture

    spec = resolve_architecture("timm:resnet10t")
    parent = build_model(spec, 5, "scratch")
    save_checkpoint(parent, tmp_path / "parent.pt", 5)
    # a two-step consumer: the parent's weights, a new 3-class head, LoRA on top
    model = build_model(spec, NUM_CLASSES, "checkpoint", tmp_path / "parent.pt")
    model, strategy, ctx = prepared("lora", None, lambda: model)
    one_step(model, strategy, ctx)
    save_checkpoint(model, tmp_path / "lora.pt", NUM_CLASSES)
    # reload the LoRA cell's own checkpoint into a freshly prepared model
    again, strategy, ctx = prepared("lora", None, lambda: build_model(spec, NUM_CLASSES, "scratch"))
    again.load_state_dict(torch.load(tmp_path / "lora.pt", weights_only=True)["state_dict"])
    head_before = {n: again.state_dict()[n].clone() for n in ctx.head}
    trainable = one_step(again, strategy, ctx)
    assert set(ctx.head) <= trainable
    assert all(dict(again.named_parameters())[n].requires_grad for n in ctx.head)
    assert not any(torch.equal(head_before[n], again.state_dict()[n]) for n in ctx.head)


def test_swft_lora_adds_adapters_to_the_top_blocks_only():
    from peft.tuners.lora import LoraLayer

    model, _, ctx = prepared("swft-lora", "3", tiny_resnet)
    adapted = {n for n, m in model.named_modules() if isinstance(m, LoraLayer)}
    assert adapted and all(n.startswith(("layer3", "layer4")) for n in adapted)
    assert ctx.records["lora"]["blocks"] == ["block3", "block4"]
    assert STRATEGIES.get("swft-lora").variants(6) == ["2", "3", "4", "5", "6"]
