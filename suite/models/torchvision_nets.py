"""torchvision's classifiers under the suite's model contract, with torchvision's own checkpoints (Fang, METHODS.md §F).

Fang et al. used torchvision's ImageNet checkpoints. timm holds none for MobileNetV2, ViT-B/16, EfficientNetV2-S,
Swin-V2-T and MaxViT-T, so the registry's `tv_*` architectures build torchvision's model
(`torchvision.models.get_model(builder, weights=None)`) and load its checkpoint, and `TorchvisionNet` wraps it with
the part of timm's contract the suite reads:

- `get_classifier()` / `reset_classifier(num_classes)`: the final Linear, the layer every strategy replaces;
- `group_matcher(coarse)`: the parameter blocks. torchvision publishes no `feature_info` or `group_matcher`, so each
  model's blocks are written out in `LAYOUTS`, stage for stage the blocks timm's contract gives the same network
  (suite/models/blocks.py), so `swft@k` means the same step in both families;
- `no_weight_decay()`: tokens, position embeddings and attention scales and biases, which L1/L2-SP leave alone as
  for timm's models;
- `pretrained_cfg`: the input size, and the mean and std of the weights' own transforms (ImageNet's for all five).

There is no `feature_info`, so the cut-point strategies (ttl, tf, lwft) refuse these models with one line.

Weights resolve offline from torch hub's checkpoint folder (`$TORCH_HOME/hub/checkpoints/<file>`, the file the
weights' URL names), checked against the hash prefix in that name as torchvision's `check_hash=True` would on
download. A missing or damaged file is a one-line error naming `medtl-bench weights fetch --arch NAME`, which
downloads it with torchvision's own `get_state_dict` on a machine with internet.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn

from suite.errors import MissingWeightsError, UserError, did_you_mean
from suite.models.catalog import ArchSpec


def _run(prefix: str, first: int, last: int) -> tuple[str, ...]:
    return tuple(f"{prefix}.{i}" for i in range(first, last + 1))


@dataclass(frozen=True)
class Layout:
    """Where a torchvision classifier keeps what the contract names: module paths inside torchvision's model."""

    head: str
    """The final Linear: what `get_classifier` returns and `reset_classifier` replaces."""
    blocks: tuple[tuple[str, ...], ...]
    """The body's parameter blocks, stem first: the module (or parameter) paths each block holds."""
    no_weight_decay: tuple[str, ...] = ()
    """Parameter name fragments that L1/L2-SP do not penalise (as timm's `no_weight_decay` for the same network)."""
    fixed_size: int | None = None
    """The only input size the pretrained model takes (positions or attention partitions are built for it)."""


_VIT_EMBED = ("class_token", "conv_proj", "encoder.pos_embedding")
_VIT_LAYERS = tuple(f"encoder.layers.encoder_layer_{i}" for i in range(12))

LAYOUTS: dict[str, Layout] = {
    # timm mobilenetv2_100: stem + blocks.0 | blocks.1 | blocks.2 | blocks.3-4 | blocks.5-6 + conv_head
    "mobilenet_v2": Layout(
        "classifier.1",
        (
            _run("features", 0, 1),
            _run("features", 2, 3),
            _run("features", 4, 6),
            _run("features", 7, 13),
            _run("features", 14, 18),
        ),
    ),
    # timm vit_base_patch16_224: embeddings + blocks.0 | blocks.1 | ... | blocks.11 + norm
    "vit_b_16": Layout(
        "heads.head",
        (
            (*_VIT_EMBED, _VIT_LAYERS[0]),
            *((layer,) for layer in _VIT_LAYERS[1:-1]),
            (_VIT_LAYERS[-1], "encoder.ln"),
        ),
        no_weight_decay=("class_token", "pos_embedding"),
        fixed_size=224,
    ),
    # timm tf_efficientnetv2_s: stem + blocks.0 | blocks.1 | blocks.2 | blocks.3-4 | blocks.5 + conv_head
    "efficientnet_v2_s": Layout(
        "classifier.1",
        (
            _run("features", 0, 1),
            ("features.2",),
            ("features.3",),
            _run("features", 4, 5),
            _run("features", 6, 7),
        ),
    ),
    # timm swinv2_tiny_window8_256 (a stage starts with its patch merging): patch_embed + layers.0 | ... | + norm
    "swin_v2_t": Layout(
        "head",
        (
            _run("features", 0, 1),
            _run("features", 2, 3),
            _run("features", 4, 5),
            (*_run("features", 6, 7), "norm"),
        ),
        no_weight_decay=("logit_scale", "cpb_mlp"),
    ),
    # timm maxvit_tiny_tf_224: stem | stages.0 | ... | stages.3 + the head's norm and pre-logits layer
    "maxvit_t": Layout(
        "classifier.5",
        (
            ("stem",),
            ("blocks.0",),
            ("blocks.1",),
            ("blocks.2",),
            ("blocks.3", "classifier.2", "classifier.3"),
        ),
        no_weight_decay=("relative_position_bias_table",),
        fixed_size=224,
    ),
}


def _within(name: str, path: str) -> bool:
    return name == path or name.startswith(f"{path}.")


class TorchvisionNet(nn.Module):
    """A torchvision classifier (`net`) that answers the part of timm's model contract the suite reads."""

    def __init__(self, builder: str, net: nn.Module, image_size: int, mean: tuple, std: tuple) -> None:
        super().__init__()
        self.net = net
        self.layout = LAYOUTS[builder]
        head = self.get_classifier()
        self.num_features, self.head_bias = head.in_features, head.bias is not None  # MaxViT's has no bias
        self.pretrained_cfg = {
            "architecture": f"torchvision:{builder}",
            "input_size": (3, image_size, image_size),
            "fixed_input_size": self.layout.fixed_size is not None,
            "mean": tuple(mean),
            "std": tuple(std),
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def get_classifier(self) -> nn.Module:
        return self.net.get_submodule(self.layout.head)

    def reset_classifier(self, num_classes: int) -> None:
        """A new, randomly initialised final Linear for `num_classes`, shaped as torchvision's (with or without a
        bias), on the old one's device (0: no classifier, the model returns its features)."""
        old = next(self.get_classifier().parameters(), None)
        kw = {"device": old.device, "dtype": old.dtype} if old is not None else {}
        head = (
            nn.Linear(self.num_features, num_classes, self.head_bias, **kw) if num_classes else nn.Identity()
        )
        self.net.set_submodule(self.layout.head, head)

    def block_of(self, name: str) -> float:
        """The body block a parameter belongs to (`inf` for the head), as a timm group ordinal."""
        inner = name.removeprefix("net.")
        return next(
            (float(i) for i, paths in enumerate(self.layout.blocks) if any(_within(inner, p) for p in paths)),
            math.inf,
        )

    def group_matcher(self, coarse: bool = False):
        """timm's contract: a callable from parameter name to group ordinal; blocks are the only grouping here."""
        return self.block_of

    def no_weight_decay(self) -> set[str]:
        return {n for n, _ in self.named_parameters() if any(f in n for f in self.layout.no_weight_decay)}


def weights_of(spec: ArchSpec):
    """torchvision's weights enum member for `spec` (`IMAGENET1K_V1` of the builder's weights enum)."""
    family = torchvision.models.get_model_weights(spec.timm_name)
    try:
        return family[spec.weights]
    except KeyError:
        raise UserError(
            f"torchvision weights of {spec.name}: {did_you_mean(spec.weights, family.__members__)}"
        ) from None


def preprocessing(spec: ArchSpec) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean and std from the weights' own transforms (torchvision's ImageClassification preset)."""
    preset = weights_of(spec).transforms()
    return tuple(preset.mean), tuple(preset.std)


def build(spec: ArchSpec, num_classes: int) -> TorchvisionNet:
    """torchvision's model for `spec` with random weights and a head of `num_classes` (any device context)."""
    layout = LAYOUTS[spec.timm_name]
    if layout.fixed_size is not None and spec.input_size != layout.fixed_size:
        raise UserError(
            f"{spec.name} takes {layout.fixed_size} px inputs only (torchvision builds it for that size); use the"
            f" timm version for {spec.input_size} px"
        )
    net = torchvision.models.get_model(spec.timm_name, weights=None)
    model = TorchvisionNet(spec.timm_name, net, spec.input_size, *preprocessing(spec))
    model.reset_classifier(num_classes)
    return model


def checkpoint_file(spec: ArchSpec) -> Path:
    """Where torch hub keeps the weights' file: `$TORCH_HOME/hub/checkpoints/<the URL's file name>`."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(weights_of(spec).url).name


@cache
def _sha256(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def checked_file(spec: ArchSpec, fetch: str | None) -> Path:
    """The local checkpoint, its sha256 checked against the prefix its name carries (torch hub's `check_hash`)."""
    path = checkpoint_file(spec)
    ident = f"torchvision weights {spec.timm_name}.{spec.weights}"
    if not path.is_file():
        raise MissingWeightsError(f"{ident} are not in torch hub's checkpoint folder ({path.parent})", fetch)
    match = torch.hub.HASH_REGEX.search(path.name)
    stat = path.stat()
    if match and not _sha256(path, stat.st_size, stat.st_mtime_ns).startswith(match.group(1)):
        raise MissingWeightsError(
            f"{ident}: {path} does not match the hash prefix in its name ({match.group(1)}); it is damaged or"
            " partial, delete it",
            fetch,
        )
    return path


def create_pretrained(spec: ArchSpec, fetch: str) -> TorchvisionNet:
    """`spec` with its ImageNet checkpoint (1000-class head) from torch hub's folder; never random weights."""
    model = build(spec, len(weights_of(spec).meta["categories"]))
    state = torch.load(checked_file(spec, fetch), map_location="cpu", weights_only=True)
    model.net.load_state_dict(state)
    return model


def download(spec: ArchSpec) -> Any:
    """torchvision's own download into torch hub's folder, hash-checked (online machines)."""
    return weights_of(spec).get_state_dict(progress=False, check_hash=True)
