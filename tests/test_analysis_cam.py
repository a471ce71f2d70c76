"""Where block outputs are read, and LayerCAM / Grad-CAM maps, for every registered architecture."""

from __future__ import annotations

import numpy as np
import pytest
import timm
import torch

from suite.analysis.cam import choose_images, class_maps
from suite.analysis.features import FeatureMap
from suite.data.dataset import Split
from suite.errors import UserError
from suite.models.catalog import ARCHITECTURES
from suite.models.normalise import Normalise
from suite.models.surgery import cut_points
from suite.strategies import STRATEGIES

NORM = Normalise((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
TRANSFORMERS = {"vit_b_16", "swin_v2_t", "maxvit_t"}  # tested below on small members of their timm families
# VGG-19 takes several seconds just to initialise its 143 M weights: it runs with the slow tests.
CNNS = [
    pytest.param(name, marks=pytest.mark.slow) if name == "vgg19" else name
    for name, spec in ARCHITECTURES.items()
    if name not in TRANSFORMERS and spec.family == "timm"  # the torchvision family: tests/test_torchvision.py
]
SMALLEST = {"inception_v3": 80}  # Inception-v3's stem needs at least 75 px


def images(count: int, size: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (count, 3, size, size), generator=g, dtype=torch.uint8)


def check_maps(model: torch.nn.Module, size: int, count: int = 2) -> tuple[FeatureMap, np.ndarray]:
    """Maps at every block output: the right shape, in [0, 1], and not constant where the map has a location."""
    fm = FeatureMap(model, size)
    places = fm.block_outputs()
    maps = class_maps(
        model, NORM, images(count, size), [p.module for p in places], [i % 2 for i in range(count)]
    )
    assert maps.shape == (count, len(places), size, size)
    assert np.isfinite(maps).all() and maps.min() >= 0.0 and maps.max() <= 1.0
    located = [j for j, p in enumerate(places) if min(fm.spatial_size(p.module)) > 1]
    assert located, "no block output keeps a spatial map at this size"
    assert any(maps[:, j].std() > 1e-3 for j in located)
    return fm, maps


def check_places(fm: FeatureMap) -> None:
    """One place per body block, in forward order, each a spatial map; SVCCA's places are TTL's cut points."""
    places = fm.block_outputs()
    body = [b.name for b in fm.blocks]
    assert places and [p.block for p in places] == [b for b in body if b in {p.block for p in places}]
    assert [fm.finish(p.module) for p in places] == sorted(fm.finish(p.module) for p in places)
    assert all(fm.is_spatial(p.module) for p in places)
    cuts = fm.cut_outputs(layers=True)
    assert cuts and [fm.finish(p.module) for p in cuts] == sorted(fm.finish(p.module) for p in cuts)
    assert {p.label for p in cuts} <= {str(c) for c in cut_points(fm.model)}
    assert set(STRATEGIES.get("ttl").variants_for(fm.model)) <= {p.label for p in fm.cut_outputs()}


@pytest.mark.parametrize("name", sorted(TRANSFORMERS))
def test_registered_transformers_have_spatial_block_outputs(name):
    """The registered ViT, Swin and MaxViT at full size, on the meta device (no weights): places and reshapes."""
    spec = ARCHITECTURES.get(name)
    with torch.device("meta"):
        model = timm.create_model(spec.timm_name, pretrained=False, num_classes=2)
    fm = FeatureMap(model, spec.input_size)
    check_places(fm)
    assert len(fm.block_outputs()) >= len(fm.blocks) - 1  # MaxViT's last norm lives in the head: no map


@pytest.mark.parametrize("name", CNNS)
def test_cam_maps_for_every_registered_cnn(name):
    """LayerCAM at every block of each registered CNN, built without weights at a tiny input size."""
    spec = ARCHITECTURES.get(name)
    torch.manual_seed(0)
    model = timm.create_model(spec.timm_name, pretrained=False, num_classes=2)
    fm, _ = check_maps(model, SMALLEST.get(name, 48), count=1)
    check_places(fm)
    assert len(fm.block_outputs()) == len(fm.blocks)  # every body block of a CNN has a map


@pytest.mark.parametrize(
    ("timm_name", "size", "kwargs"),
    [
        ("vit_base_patch16_224", 64, {"img_size": 64, "embed_dim": 32, "depth": 3, "num_heads": 2}),
        (
            "swinv2_tiny_window8_256",
            64,
            {
                "img_size": 64,
                "window_size": 4,
                "embed_dim": 16,
                "depths": (1, 1, 1, 1),
                "num_heads": (1, 1, 1, 1),
            },
        ),
        ("test_maxvit", 160, {}),
    ],
)
def test_transformer_maps_go_through_the_reshape(timm_name, size, kwargs):
    """ViT tokens and Swin's NHWC stages are laid out as N×C×H×W; MaxViT's stages already are."""
    torch.manual_seed(0)
    model = timm.create_model(timm_name, pretrained=False, num_classes=2, **kwargs)
    _, maps = check_maps(model, size)
    if timm_name.startswith("vit"):  # documented: only the class token reaches the head after the last block
        assert maps[:, -1].max() == 0.0


def test_one_pass_for_all_layers_equals_one_layer_at_a_time():
    torch.manual_seed(0)
    model = timm.create_model("resnet18", pretrained=False, num_classes=2)
    modules = [p.module for p in FeatureMap(model, 64).block_outputs()]
    x = images(2, 64)
    together = class_maps(model, NORM, x, modules, [0, 1], "gradcam")
    for j, module in enumerate(modules):
        assert np.array_equal(together[:, j], class_maps(model, NORM, x, [module], [0, 1], "gradcam")[:, 0])
    assert all(p.requires_grad for p in model.parameters())  # frozen for the call only


def test_resnet_places_are_the_papers_layers():
    model = timm.create_model("resnet50", pretrained=False, num_classes=2)
    fm = FeatureMap(model, 64)
    assert [p.module for p in fm.block_outputs()] == ["maxpool", "layer1", "layer2", "layer3", "layer4"]
    cuts = {p.label: p.module for p in fm.cut_outputs(layers=True)}
    assert list(cuts)[list(cuts).index("block2") + 1 : list(cuts).index("block3")] == [
        f"layer3.{i}" for i in range(5)
    ]
    assert (cuts["block0"], cuts["layer3.3"], cuts["block3"]) == ("act1", "layer3.3", "layer3")
    assert [p.module for p in fm.resolve(["layer3", "block1"])] == ["layer3", "layer1"]
    with pytest.raises(UserError, match="did you mean 'layer3'"):
        fm.resolve(["layr3"])


def test_dense_layers_are_not_cut_points_for_svcca():
    """A dense layer outputs only its new channels, not the running feature map TTL would keep."""
    fm = FeatureMap(timm.create_model("densenet121", pretrained=False, num_classes=2), 64)
    assert [p.label for p in fm.cut_outputs(layers=True)] == [p.label for p in fm.cut_outputs()]


def test_images_are_drawn_reproducibly_and_classes_take_turns():
    split = Split(images(12, 8), torch.tensor([0] * 9 + [1] * 3), [f"img{i}" for i in range(12)])
    first = choose_images(split, 4, seed=7)
    assert first == choose_images(split, 4, seed=7) and first != choose_images(split, 4, seed=8)
    assert sorted(split.targets[first].tolist()) == [0, 0, 1, 1]
    assert choose_images(split, 2, seed=0, ids=["img3", "img10"]) == [3, 10]
    with pytest.raises(UserError, match="did you mean 'img10'"):
        choose_images(split, 2, seed=0, ids=["img100"])
