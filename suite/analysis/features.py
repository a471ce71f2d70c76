"""Where a block's feature map comes out of a model, and how to read it as a spatial map (N×C×H×W).

The CAM figures read the output of each parameter block (`suite.models.blocks.param_blocks`, stem → head); SVCCA
reads the outputs that TTL's cut points keep (`suite.models.surgery`), so the cut it finds can be run as it is.
Nothing here names an architecture; the block places are found from the block list and one traced forward pass:

- a block's *owned* modules are the largest modules whose parameters all belong to the block;
- its *output module* is the owned module that finishes last in the forward pass, extended through the
  parameter-free siblings that follow it while they still output a spatial map (ResNet's stem: bn1 → act1 → maxpool),
  so the map is what the next block consumes;
- a *spatial map* is a 4-D NCHW tensor, a 4-D NHWC tensor from a model that declares `output_fmt = "NHWC"` (Swin),
  or 3-D tokens N×T×C from a model with a patch grid (ViT: prefix tokens dropped, the rest laid on the grid).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from suite.errors import UserError, did_you_mean
from suite.models.blocks import param_blocks
from suite.models.surgery import cut_points, stage_units

Reshape = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Place:
    """One place to read features: a label for plots and TTL variants, and the module whose output is read."""

    label: str  # "block3" (a parameter block) or a module name inside one ("layer3.2")
    module: str  # dotted name in model.named_modules()
    block: str  # the parameter block it belongs to


@dataclass
class _Trace:
    order: list[str]  # module names in the order their forward finished (last call wins)
    outputs: dict[str, tuple[int, ...] | None]  # output shape, None when not a tensor


def _trace(model: nn.Module, image_size: int, in_chans: int = 3) -> _Trace:
    """Run one small forward pass and record when every module finishes and what shape it outputs."""
    finished: dict[str, int] = {}
    outputs: dict[str, tuple[int, ...] | None] = {}
    clock = itertools.count()
    handles = []
    for name, module in model.named_modules():
        if not name:
            continue

        def hook(_m, _i, out, name=name):
            finished[name] = next(clock)
            outputs[name] = tuple(out.shape) if isinstance(out, torch.Tensor) else None

        handles.append(module.register_forward_hook(hook))
    was_training = model.training
    try:
        model.eval()
        device = next(model.parameters()).device
        with torch.no_grad():
            model(torch.zeros(1, in_chans, image_size, image_size, device=device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return _Trace(sorted(finished, key=finished.__getitem__), outputs)


def spatial_reshape(model: nn.Module) -> Reshape:
    """A function that turns any feature tensor of `model` into N×C×H×W, or raises ValueError."""
    nhwc = getattr(model, "output_fmt", "NCHW") == "NHWC"
    prefix = int(getattr(model, "num_prefix_tokens", 0) or 0)
    has_grid = hasattr(getattr(model, "patch_embed", None), "grid_size")

    def reshape(x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 4:
            return x.permute(0, 3, 1, 2) if nhwc else x
        if x.ndim == 3 and has_grid:
            tokens = x[:, prefix:, :]
            side = math.isqrt(tokens.shape[1])
            if side * side != tokens.shape[1]:
                raise ValueError(f"{tokens.shape[1]} tokens do not form a square grid")
            return tokens.reshape(x.shape[0], side, side, x.shape[2]).permute(0, 3, 1, 2)
        raise ValueError(f"a {x.ndim}-D output is not a spatial map")

    return reshape


def _is_spatial(shape: tuple[int, ...] | None, reshape: Reshape) -> bool:
    if shape is None:
        return False
    try:
        out = reshape(torch.empty(shape, device="meta"))
    except ValueError:
        return False
    return out.shape[-1] > 0 and out.shape[-2] > 0


def _param_owner(model: nn.Module) -> dict[str, set[str]]:
    """Module name → the full names of every parameter under it."""
    return {
        name: {f"{name}.{p}" if name else p for p, _ in module.named_parameters()}
        for name, module in model.named_modules()
    }


def _owned(block_params: set[str], owner: dict[str, set[str]]) -> list[str]:
    """The largest non-root modules whose parameters are all in the block."""
    inside = {n for n, ps in owner.items() if n and ps and ps <= block_params}
    return [n for n in inside if n.rpartition(".")[0] not in inside]


def _parent(name: str) -> str:
    return name.rpartition(".")[0]


def _extend(start: str, trace: _Trace, owner: dict[str, set[str]], mine: set[str], reshape: Reshape) -> str:
    """Follow parameter-free siblings of `start` that run after it and still output a spatial map."""
    target = start
    for name in trace.order[trace.order.index(start) + 1 :]:
        if owner[name] - mine:  # a module of another block ran: the block is over
            break
        if _parent(name) != _parent(start):
            continue
        if owner[name] or not _is_spatial(trace.outputs[name], reshape):
            break
        target = name
    return target


@dataclass
class FeatureMap:
    """The places of one model, traced once."""

    model: nn.Module
    image_size: int

    def __post_init__(self) -> None:
        self.reshape = spatial_reshape(self.model)
        self.trace = _trace(self.model, self.image_size)
        self.owner = _param_owner(self.model)
        self.blocks = param_blocks(self.model)[:-1]  # the head's output is not a map

    def finish(self, name: str) -> int:
        """When the module's forward finished in the trace (its position), -1 if it never ran."""
        return self.trace.order.index(name) if name in self.trace.order else -1

    def block_outputs(self) -> list[Place]:
        """One place per body block (stem first), at the module whose output the next block consumes.

        A block whose output is not a spatial map (MaxViT's pre-logits norm, which timm keeps in the head) is left out.
        """
        places = []
        for block in self.blocks:
            mine = set(block.params)
            owned = [n for n in _owned(mine, self.owner) if self.finish(n) >= 0]
            if not owned:
                continue
            module = _extend(max(owned, key=self.finish), self.trace, self.owner, mine, self.reshape)
            if self.is_spatial(module):
                places.append(Place(block.name, module, block.name))
        return places

    def cut_outputs(self, layers: bool = False) -> list[Place] | None:
        """TTL's own cut points (`suite.models.surgery.cut_points`), each at the module whose output it keeps.

        Labels are the `ttl@` variants (`block3`, and with `layers` also `layer3.3`), so a cut point found here can
        be run as it is. Layer cuts whose unit sits in a container that is not an `nn.Sequential` (DenseNet's dense
        layers, whose outputs are only their new channels, not the running feature map) are left out. None when the model has
        no timm feature taps.
        """
        try:
            cuts = cut_points(self.model, layers=layers)
        except UserError:
            return None
        taps = [info["module"] for info in self.model.feature_info]
        places = []
        for cut in cuts:
            module = taps[cut.tap]
            if cut.units is not None:
                module = stage_units(self.model, cut.tap)[cut.units - 1]
                if not isinstance(self.model.get_submodule(module.rpartition(".")[0]), nn.Sequential):
                    continue
            if self.is_spatial(module):
                places.append(Place(str(cut), module, f"block{cut.tap}"))
        return places

    def spatial_size(self, module: str) -> tuple[int, int]:
        """(H, W) of the module's output map at the traced input size."""
        shape = self.reshape(torch.empty(self.trace.outputs[module], device="meta")).shape
        return int(shape[-2]), int(shape[-1])

    def is_spatial(self, module: str) -> bool:
        return _is_spatial(self.trace.outputs.get(module), self.reshape)

    def resolve(self, names: list[str]) -> list[Place]:
        """Places by block name (`block3`) or module name (`layer3`); every one must output a spatial map."""
        by_block = {p.label: p for p in self.block_outputs()}
        modules = dict(self.model.named_modules())
        places = []
        for name in names:
            if name in by_block:
                places.append(by_block[name])
            elif name in modules and name:
                if not self.is_spatial(name):
                    raise UserError(
                        f"layer {name!r} does not output a spatial map; pick a block: {list(by_block)}"
                    )
                block = next((b.name for b in self.blocks if self.owner[name] & set(b.params)), "-")
                places.append(Place(name, name, block))
            else:
                top = [n for n in modules if n and "." not in n]
                raise UserError(f"--layers: {did_you_mean(name, [*by_block, *top])}")
        return places
