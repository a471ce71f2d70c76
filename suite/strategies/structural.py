"""Strategies that change the model's structure at a cut point: TTL and TransFusion (Peng et al. 2023, METHODS.md §P).

Their variant is the cut (see suite/models/surgery.py): `ttl@block3` cuts after timm's feature tap 3 (ResNet's
layer3), `ttl@layer3.3` keeps that stage only up to its unit 3 (layer3.0–layer3.3; layer3.4 onwards is dropped).
Stage K is everything between taps K-1 and K, so its units span every stack of blocks there (EfficientNet-B0's
stage 3 is blocks.3 + blocks.4, DenseNet-121's stage 4 is transition3 + denseblock4 + norm5).
Peng's two-stage search is expressed as variants, each its own cell:

- `ttl@*` is stage 1 (`-1`): the block cuts block1 .. block(T-2) of the architecture's T feature taps.
- any other glob is matched against every cut point, block and layer, of the architecture: the layer cuts on both
  sides of block 3 are `ttl@layer[34].*` (the units of stages 3 and 4, on every architecture whose stages have
  units there: ResNet, DenseNet, EfficientNet, MobileNetV2), and `ttl@layer*` is every layer cut. A glob
  that matches nothing is a matrix error. Stage 2 (`-2`) is the best over the stage-1 winner blockK and the layer
  cuts layerK.* and layer(K+1).*; the report picks both on the validation metric.
"""

from __future__ import annotations

from dataclasses import dataclass

from suite.errors import UserError
from suite.lazy import lazy_module
from suite.models.surgery import (
    Cut,
    block_cuts,
    cut_points,
    default_cut,
    halve_above,
    halving_plan,
    truncate,
)
from suite.strategies.base import Strategy, StrategyContext, VariantSpace, registered

nn = lazy_module("torch.nn")


@dataclass(frozen=True)
class CutStrategy(Strategy):
    """Shared by ttl, tf and lwft: the variant names a cut point; no variant means `default_cut` (drop the top stage).

    Cut points come from timm's feature taps: the torchvision family (`tv_*`) has none, so these strategies refuse
    it with one line at matrix expansion (use the timm version of the network)."""

    variant_kind = "cut"

    def __post_init__(self) -> None:
        if self.variant is not None:
            Cut.parse(self.variant)  # a ValueError here is a one-line matrix error at expansion time

    def cut(self, model: nn.Module) -> Cut:
        return Cut.parse(self.variant) if self.variant else default_cut(model)

    @classmethod
    def search_cuts(cls, model: nn.Module) -> list[Cut]:
        """What `name@*` expands to: the block-level search."""
        return block_cuts(model)

    @classmethod
    def variant_space(cls, model: nn.Module) -> VariantSpace:
        """`name@*` is the block search; a glob or a named variant may be any cut point, block or layer. A model
        without timm's feature taps (the torchvision family) cannot be cut: the space says why."""
        try:
            return VariantSpace(tuple(map(str, cls.search_cuts(model))), tuple(map(str, cut_points(model))))
        except UserError as exc:
            return VariantSpace(unsupported=f"{cls.name}: {exc.message}")


@registered
@dataclass(frozen=True)
class TruncatedTransfer(CutStrategy):
    """TTL, truncated transfer learning (Peng et al. 2023, BMVC; METHODS.md §P).

    Builds: the pretrained model up to the cut; everything above it is discarded (smaller, faster model). A new head
    follows: adaptive average pooling + a linear layer (`pool: true`, the default and Peng's main setting), or the
    flattened feature map + a linear layer (`pool: false`, Peng's appendix ablation; its size follows the image
    size). The head is linear because Peng's parameter counts (TTL-1 8.55 M on ResNet-50) leave no room for more.
    Trains: everything that remains, at the base LR.
    Variants: cut points (`ttl@block3`, `ttl@layer3.3`); `ttl@*` is the block search. Default cut: drop the last stage
    (block3 on ResNet-50 = Peng's TTL-1). On ResNet-50 with a 2-class head, TTL-1 = `ttl@block3` (8.55 M params,
    3.30 GMACs by fvcore) and TTL-2 = `ttl@layer3.3` (6.31 M, 2.86 GMACs).
    """

    name = "ttl"
    label = "TTL"
    pool: bool = True

    def prepare_model(self, model: nn.Module, ctx: StrategyContext | None) -> nn.Module:
        cut = self.cut(model)
        truncate(model, cut, ctx.num_classes, self.pool, ctx.image_size)
        ctx.records["cut"] = str(cut)
        return model


@registered
@dataclass(frozen=True)
class TransFusion(CutStrategy):
    """TF, TransFusion (Raghu et al. 2019, as run by Peng et al. 2023; METHODS.md §P).

    Builds: the layers up to the cut keep their pretrained weights; every layer above it is rebuilt with half its
    output channels (inputs follow what reaches them) and random init (PyTorch's default init, fresh BatchNorm
    statistics). The head is new and sized for the task.
    Trains: everything, at the base LR.
    Variants: cut points as for ttl; `tf@*` is the block search. Default cut: halve the last stage only (block3 on
    ResNet-50 = Peng's TF-1: 12.9 M params, 3.55 GMACs by fvcore).

    Supported architectures (tested for every registered one): convolutional networks whose layers above the cut are
    convolutions, linear and BatchNorm layers: resnet18, resnet50, densenet121, densenet169, vgg19, mobilenet_v2,
    inception_v3, efficientnet_b0, efficientnet_v2_s, tf_efficientnet_lite0/1/2. Not supported (a clear error):
    vit_b_16, swin_v2_t, maxvit_t (LayerNorm, attention heads and tokens cannot be halved generically). Layer cuts
    work only where the first unit above the cut does not add its full-width input to its output: on DenseNet
    every one; on ResNet none (an identity shortcut in every unit but a stage's first, which starts a block cut),
    so there TF's search is the block search, which agrees with Peng's TF-2 = TF-1 on ResNet-50; on EfficientNet
    and MobileNet only the cuts where one stack of blocks ends inside a stage (EfficientNet-B0's layer3.2 and
    layer4.3), since the next block changes width. `tf@<glob>` expands only to the cuts that work.
    """

    name = "tf"
    label = "TF"

    @classmethod
    def variant_space(cls, model: nn.Module) -> VariantSpace:
        """Only the cuts above which the model can be rebuilt at half width; the others say why not."""
        space = super().variant_space(model)
        if space.unsupported:
            return space
        excluded = {}
        for variant in space.valid:
            try:
                halving_plan(model, Cut.parse(variant), 2)
            except UserError as exc:
                excluded[variant] = exc.message
        runs = [v for v in space.valid if v not in excluded]
        return VariantSpace(tuple(v for v in space.search if v in runs), tuple(runs), excluded)

    def prepare_model(self, model: nn.Module, ctx: StrategyContext | None) -> nn.Module:
        cut = self.cut(model)
        halve_above(model, cut, ctx.num_classes, ctx.image_size)
        ctx.records["cut"] = str(cut)
        return model
