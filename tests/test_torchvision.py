"""The torchvision family: Fang's five models as torchvision builds them, with torchvision's checkpoints (offline,
hash-checked), ImageNet normalisation, block lists that mirror timm's, and the strategies Fang runs on them."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
import torch
import torchvision
from strategy_cases import NUM_CLASSES, SIZE, one_step, prepared
from torchvision.models import VisionTransformer
from torchvision.models.swin_transformer import PatchMergingV2, SwinTransformer, SwinTransformerBlockV2

from suite.catalog import SuiteCatalog
from suite.catalog.facts import facts, preprocessing
from suite.cli import main
from suite.errors import MissingWeightsError, UserError
from suite.matrix import load_matrix
from suite.models import torchvision_nets, weights
from suite.models.blocks import head_params, param_blocks
from suite.models.build import random_model
from suite.models.catalog import ARCHITECTURES, TORCHVISION, resolve_architecture
from suite.models.torchvision_nets import TorchvisionNet

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
# torchvision's published parameter counts (weights.meta["num_params"], 1000 classes)
PUBLISHED = {
    "tv_mobilenet_v2": 3_504_872,
    "tv_vit_b_16": 86_567_656,
    "tv_efficientnet_v2_s": 21_458_488,
    "tv_swin_v2_t": 28_351_570,
    "tv_maxvit_t": 30_919_624,
}
FANG = [
    "resnet18", "resnet50", "tv_mobilenet_v2", "inception_v3", "densenet121", "densenet169", "vgg19",
    "tv_vit_b_16", "tv_efficientnet_v2_s", "tv_swin_v2_t", "tv_maxvit_t",
]  # fmt: skip


def _meta(name: str, num_classes: int = 2) -> TorchvisionNet:
    with torch.device("meta"):
        return random_model(ARCHITECTURES.get(name), num_classes)


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_parameters_match_torchvisions_published_counts(name):
    spec = ARCHITECTURES.get(name)
    assert spec.family == TORCHVISION and spec.name == f"tv_{spec.timm_name}"
    model = _meta(name, 1000)
    assert sum(p.numel() for p in model.parameters()) == PUBLISHED[name]
    assert torchvision_nets.weights_of(spec).meta["num_params"] == PUBLISHED[name]


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_blocks_cover_every_parameter_once_and_mirror_timms(name):
    """Same number of blocks as timm's version of the network, so `swft@k` is the same step in both families."""
    model = _meta(name)
    blocks = param_blocks(model)
    names = [n for b in blocks for n in b.params]
    assert names == [n for n, _ in model.named_parameters()]  # every parameter once, in order
    assert blocks[-1].name == "head" and blocks[-1].params == head_params(model)
    assert model.get_classifier().out_features == 2
    timm_twin = ARCHITECTURES.get(name.removeprefix("tv_"))
    assert [b.name for b in blocks] == list(facts(timm_twin.model_id).blocks)
    assert list(facts(ARCHITECTURES.get(name).model_id).blocks) == [b.name for b in blocks]


def test_fangs_matrix_uses_torchvisions_weights_and_imagenet_normalisation(monkeypatch):
    from test_strategy_matrices import REPO_LOCK

    monkeypatch.setenv("MEDTL_LOCK", str(REPO_LOCK))
    cells = load_matrix("fang2025-thtl", SuiteCatalog()).cells
    archs = {
        c.config.architecture.name: c.config.architecture for c in cells if c.config.source.name == "imagenet"
    }
    assert sorted(archs) == sorted(FANG)
    for name, ref in archs.items():
        spec = ARCHITECTURES.get(name)
        # torchvision's Inception-v3 takes ImageNet-normalised input and turns it into (x - 0.5) / 0.5 inside
        # (`transform_input`); timm's tv_in1k port normalises with 0.5/0.5 outside: the network sees the same.
        assert preprocessing(spec) == (((0.5,) * 3,) * 2 if name == "inception_v3" else IMAGENET), name
        if spec.family == TORCHVISION:
            assert (ref.timm, ref.torchvision, ref.weights) == (None, spec.timm_name, "IMAGENET1K_V1")
        else:
            assert (
                ref.weights == "tv_in1k" and "torchvision" not in ref.model_dump()
            )  # timm cells' ids unchanged
    scratch = next(
        c for c in cells if c.config.source.name == "scratch" and c.key["architecture"] == "tv_vit_b_16"
    )
    assert scratch.config.architecture.model_dump() == {
        "name": "tv_vit_b_16", "timm": None, "weights": None, "torchvision": "vit_b_16"
    }  # fmt: skip


@pytest.mark.parametrize("strategy", ["ttl", "tf@*", "lwft@block2"])
def test_cut_point_strategies_refuse_torchvision_models_in_one_line(matrix_file, strategy):
    path = matrix_file(
        f"datasets: [synthetic-vessels]\narchitectures: [tv_mobilenet_v2]\nstrategies: ['{strategy}']\nseeds: 1\n"
    )
    with pytest.raises(
        UserError, match=r"m.yaml:3:\d+: \w+: torchvision:mobilenet_v2 has no timm feature taps"
    ):
        load_matrix(str(path), SuiteCatalog())


def test_swft_steps_expand_over_the_written_blocks(matrix_file):
    path = matrix_file(
        "datasets: [synthetic-vessels]\narchitectures: [tv_swin_v2_t]\nstrategies: ['swft@*']\nseeds: 1\n"
    )
    assert [c.key["strategy"] for c in load_matrix(str(path), SuiteCatalog()).cells] == [
        f"swft@{k}" for k in range(1, 6)
    ]


def test_a_fixed_size_model_refuses_another_size_in_one_line():
    with pytest.raises(UserError, match="tv_vit_b_16 takes 224 px inputs only"):
        random_model(resolve_architecture("tv_vit_b_16", input_size=384), 2)


def mobilenet() -> TorchvisionNet:
    torch.manual_seed(0)
    return random_model(ARCHITECTURES.get("tv_mobilenet_v2"), NUM_CLASSES)


def tiny_vit() -> TorchvisionNet:
    """torchvision's ViT-B/16 layout (12 encoder layers, torch's MultiheadAttention) at 16 channels."""
    torch.manual_seed(0)
    net = VisionTransformer(
        image_size=SIZE, patch_size=16, num_layers=12, num_heads=2, hidden_dim=16, mlp_dim=32
    )
    model = TorchvisionNet("vit_b_16", net, SIZE, *IMAGENET)
    model.reset_classifier(NUM_CLASSES)
    return model


def tiny_swin() -> TorchvisionNet:
    """torchvision's Swin-V2-T layout at 8 channels: its attention reads qkv.weight and proj.weight directly."""
    torch.manual_seed(0)
    net = SwinTransformer(
        [4, 4],
        8,
        [2, 2, 2, 2],
        [1, 1, 1, 1],
        [8, 8],
        block=SwinTransformerBlockV2,
        downsample_layer=PatchMergingV2,
    )
    model = TorchvisionNet("swin_v2_t", net, SIZE, *IMAGENET)
    model.reset_classifier(NUM_CLASSES)
    return model


@pytest.mark.parametrize(
    ("name", "variant", "make"),
    [
        ("ft", None, mobilenet),
        ("lp", None, mobilenet),
        ("swft", "3", mobilenet),
        ("lora", None, mobilenet),
        ("swft-lora", "3", mobilenet),
        ("lora", None, tiny_vit),
        ("swft", "2", tiny_vit),
        ("lora", None, tiny_swin),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_fangs_strategies_train_torchvision_models(name, variant, make):
    """One step: what trains has gradients (LoRA's B matrices included), what is frozen does not move."""
    model, strategy, ctx = prepared(name, variant, make)
    assert model(torch.zeros(2, 3, SIZE, SIZE)).shape == (2, NUM_CLASSES)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainable = one_step(model, strategy, ctx)
    for n, p in model.named_parameters():
        if n not in trainable:
            assert p.grad is None and torch.equal(before[n], p), n
        elif n.endswith("lora_B.default.weight") or n in ctx.head:
            assert p.grad is not None and p.grad.abs().sum() > 0, n
    if name == "swft":
        assert set(ctx.records["blocks"]) == {b.name for b in ctx.blocks[-int(variant) :]}


def test_lora_adapts_multihead_attention_and_names_the_layers_it_cannot():
    """ViT: peft's MultiheadAttention adapter (in_proj and out_proj); Swin-V2: qkv and proj are read, not called."""
    _, _, vit = prepared("lora", None, tiny_vit)
    assert vit.records["lora"]["layers"] == 1 + 12 * 3 and "not_adapted" not in vit.records["lora"]
    _, _, swin = prepared("lora", None, tiny_swin)
    skipped = swin.records["lora"]["not_adapted"]
    assert len(skipped) == 2 * 8 and all(s.endswith((".attn.qkv", ".attn.proj")) for s in skipped)


@dataclass
class FakeWeights:
    """Stands in for a torchvision weights entry whose file is made here (no download in tests)."""

    url: str
    meta: dict = field(default_factory=lambda: {"categories": [str(i) for i in range(1000)]})

    def transforms(self):
        return SimpleNamespace(mean=list(IMAGENET[0]), std=list(IMAGENET[1]))

    def get_state_dict(self, progress: bool, check_hash: bool):
        return torch.hub.load_state_dict_from_url(self.url, progress=progress, check_hash=check_hash)


def test_missing_checkpoint_names_the_fetch_command(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(MissingWeightsError) as info:
        weights.create_pretrained(ARCHITECTURES.get("tv_mobilenet_v2"))
    message = str(info.value)
    assert "\n" not in message and "mobilenet_v2-b0353104.pth" not in message
    assert str(tmp_path / "hub" / "checkpoints") in message
    assert message.endswith("run `medtl-bench weights fetch --arch tv_mobilenet_v2`")


def test_a_checkpoint_in_torch_hubs_folder_loads_after_its_hash_is_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    source = torchvision.models.mobilenet_v2(weights=None)  # random weights stand in for torchvision's file
    raw = tmp_path / "raw.pth"
    torch.save(source.state_dict(), raw)
    good = folder / f"mobilenet_v2-{hashlib.sha256(raw.read_bytes()).hexdigest()[:8]}.pth"
    bad = folder / "mobilenet_v2-00000000.pth"
    raw.rename(good)
    shutil.copy(good, bad)
    spec = ARCHITECTURES.get("tv_mobilenet_v2")
    monkeypatch.setattr(
        torchvision_nets, "weights_of", lambda s: FakeWeights(f"https://x.test/models/{good.name}")
    )
    model = weights.create_pretrained(spec)
    assert torch.equal(model.get_classifier().weight, source.classifier[1].weight)
    assert weights.fetch(spec) == str(good)  # present and intact: nothing to download
    monkeypatch.setattr(
        torchvision_nets, "weights_of", lambda s: FakeWeights(f"https://x.test/models/{bad.name}")
    )
    with pytest.raises(
        MissingWeightsError, match=r"does not match the hash prefix in its name \(00000000\)"
    ) as info:
        weights.create_pretrained(spec)
    assert "\n" not in str(info.value) and "weights fetch --arch tv_mobilenet_v2" in str(info.value)


def test_weights_fetch_against_an_unreachable_server_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("MEDTL_HUB_TIMEOUT", "2")
    url = "http://127.0.0.1:9/models/mobilenet_v2-b0353104.pth"  # nothing listens there
    monkeypatch.setattr(torchvision_nets, "weights_of", lambda s: FakeWeights(url))
    assert main(["weights", "fetch", "--arch", "tv_mobilenet_v2", "--arch", "tv_maxvit_t"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and all(
        "not fetched: cannot reach 127.0.0.1:9 within 2 s" in line for line in lines
    )
    assert lines[0].startswith(
        "medtl-bench: error: torchvision weights mobilenet_v2.IMAGENET1K_V1 not fetched"
    )
    assert "`medtl-bench weights fetch --arch tv_maxvit_t` again" in lines[1]


def test_list_and_profile_know_the_torchvision_family(capsys):
    from suite.commands.listing import list_command

    table = list_command("architectures")
    row = next(line for line in table.splitlines() if line.startswith("tv_mobilenet_v2 "))
    assert "torchvision:mobilenet_v2.IMAGENET1K_V1" in row and "0.485/0.456/0.406" in row
    argv = ["profile", "tv_mobilenet_v2", "--image-size", "64", "--no-latency", "--no-train", "--json"]
    assert main(argv) == 0
    import json

    profile = json.loads(capsys.readouterr().out)
    assert profile["params"]["total"] == PUBLISHED["tv_mobilenet_v2"]
    assert (profile["timm"], profile["torchvision"]) == (None, "mobilenet_v2")
