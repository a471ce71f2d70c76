"""Model surgery for the cut-point strategies (TTL, TF, LWFT): where a model may be cut, truncation, channel halving.

Cut points come from timm's own contract, not from a per-architecture table:

- `blockK` is timm's feature tap K (`model.feature_info[K]`, the outputs `forward_intermediates` returns). Cutting
  there is timm's `prune_intermediate_layers(indices=[K])`. ResNet: block0 = stem, block1..4 = layer1..layer4.
- `layerK.J` keeps stage K up to and including its unit J (counted from 0) and drops the rest. Stage K is what lies
  between the end of tap K-1 and the end of tap K; its units are the children of every sequential container
  (`nn.Sequential` / `nn.ModuleDict`) wholly inside it, in order: ResNet bottlenecks, DenseNet dense layers,
  EfficientNet blocks. So a stage's units span every container between two taps: on EfficientNet-B0 stage 3 is
  blocks.3 + blocks.4 (taps blocks.2 and blocks.4), on DenseNet-121 stage 4 is transition3 + denseblock4 + norm5
  (taps denseblock3 and norm5). Modules of the stage outside those containers (ResNet's maxpool, DenseNet's
  transition layers and final norm5) are not units: one before a unit is kept with it, one after the last kept
  unit is dropped with the rest of the stage (a layer cut on DenseNet-121's stage 4 drops norm5). On ResNet-50
  `layer3.3` keeps layer3.0-layer3.3 and drops layer3.4 onwards. A unit is a whole residual (or dense) block, so no
  cut goes through a skip connection. Stages without containers (VGG, Inception, ViT, Swin, MaxViT) offer block
  cuts only.

Everything that only needs shapes runs on a "skeleton": a copy whose tensors live on the meta device (no memory,
no arithmetic), so listing cut points, checking TF support and finding kept parameters cost nothing.
"""

from __future__ import annotations

import copy
import itertools
import re
from dataclasses import dataclass
from typing import Any

from suite.errors import UserError, did_you_mean
from suite.lazy import lazy_module

torch = lazy_module("torch")
nn = lazy_module("torch.nn")

_CUT = re.compile(r"^(?:block(?P<tap>\d+)|layer(?P<stage>\d+)\.(?P<last>\d+))$")


@dataclass(frozen=True)
class Cut:
    """Keep the model up to the end of feature tap `tap`, or of the first `units` units of its stage."""

    tap: int
    units: int | None = None

    @classmethod
    def parse(cls, text: str) -> Cut:
        m = _CUT.match(text)
        if m is None:
            raise ValueError(
                f"cut {text!r}: write blockK (after timm's feature tap K, e.g. block3) or layerK.J "
                "(stage K up to its unit J, counted from 0, e.g. layer3.3)"
            )
        if m["tap"] is not None:
            return cls(int(m["tap"]))
        return cls(int(m["stage"]), int(m["last"]) + 1)

    def __str__(self) -> str:
        return f"block{self.tap}" if self.units is None else f"layer{self.tap}.{self.units - 1}"


def model_name(model: nn.Module) -> str:
    cfg = getattr(model, "pretrained_cfg", None) or {}
    return cfg.get("architecture") or type(model).__name__


def _taps(model: nn.Module) -> list[dict[str, Any]]:
    info = getattr(model, "feature_info", None)
    if not info or not hasattr(model, "prune_intermediate_layers"):
        raise UserError(
            f"{model_name(model)} has no timm feature taps (feature_info and prune_intermediate_layers); "
            "cut-point strategies (ttl, tf, lwft) need them"
        )
    return list(info)


def _stage_tops(model: nn.Module, tap: int) -> list[str]:
    """The outermost modules wholly inside stage `tap` (after the end of tap-1, up to the end of tap), in order.

    `named_modules` is a pre-order walk, so a module's subtree is the run of names that follows it with its prefix.
    """
    names = [name for name, _ in model.named_modules()]
    end: dict[str, int] = {}
    for i, name in enumerate(names):
        for prefix in _ancestors(name):
            end[prefix] = i
    taps = _taps(model)
    low = end[taps[tap - 1]["module"]] if tap else 0
    high = end[taps[tap]["module"]]
    inside = {n for i, n in enumerate(names) if low < i and end[n] <= high}
    return [n for n in names if n in inside and n.rpartition(".")[0] not in inside]


def _ancestors(name: str) -> list[str]:
    """`a.b.c` → ['', 'a', 'a.b', 'a.b.c']: the module and everything above it."""
    parts = name.split(".") if name else []
    return ["", *(".".join(parts[: i + 1]) for i in range(len(parts)))]


def _stage_pieces(model: nn.Module, tap: int) -> list[tuple[str, bool]]:
    """Stage `tap` in forward order as (module path, is a unit): the blocks of its stacks are units; its other
    outermost modules (a pool, a transition, a final norm) are not."""
    pieces: list[tuple[str, bool]] = []
    for top in _stage_tops(model, tap):
        module = model.get_submodule(top)
        if _is_stack(module):
            pieces += [(f"{top}.{name}", True) for name, _ in module.named_children()]
        else:
            pieces.append((top, False))
    return pieces


def _is_stack(module: nn.Module) -> bool:
    """A sequential container of blocks: every child is built of layers itself. DenseNet's transition (norm, conv,
    pool) is a sequential container of single layers, not a stack: it is kept or dropped whole."""
    children = list(module.children())
    return (
        isinstance(module, nn.Sequential | nn.ModuleDict)
        and bool(children)
        and all(any(True for _ in child.children()) for child in children)
    )


def stage_units(model: nn.Module, tap: int) -> list[str]:
    """The units of stage `tap` (module paths): the blocks of every stack (`_is_stack`) inside the stage."""
    return [path for path, unit in _stage_pieces(model, tap) if unit]


def cut_points(model: nn.Module, layers: bool = True) -> list[Cut]:
    """Every valid cut, shallow to deep: the layer cuts inside each stage come before the stage's block cut."""
    cuts: list[Cut] = []
    for tap in range(len(_taps(model))):
        if layers:
            cuts += [Cut(tap, j) for j in range(1, len(stage_units(model, tap)))]
        cuts.append(Cut(tap))
    return cuts


def block_cuts(model: nn.Module) -> list[Cut]:
    """The block-level search (Peng's stage 1, suffix `-1`): taps 1 .. T-2 (tap 0 is the stem, T-1 the whole body)."""
    return [Cut(t) for t in range(1, len(_taps(model)) - 1)]


def default_cut(model: nn.Module) -> Cut:
    """Drop the last stage: the cut Peng's TTL-1 and TF-1 chose on ResNet-50 (block3)."""
    return Cut(max(len(_taps(model)) - 2, 0))


def check_cut(model: nn.Module, cut: Cut) -> None:
    valid = cut_points(model)
    if cut not in valid:
        raise UserError(
            f"cut point of {model_name(model)}: {did_you_mean(str(cut), [str(c) for c in valid])}"
        )


def skeleton(model: nn.Module) -> nn.Module:
    """A deep copy whose parameters and buffers are empty meta tensors: free to cut, resize and run for shapes."""
    memo: dict[int, Any] = {}
    for t in itertools.chain(model.parameters(), model.buffers()):
        meta = torch.empty_like(t, device="meta")
        memo[id(t)] = (
            nn.Parameter(meta, requires_grad=t.requires_grad) if isinstance(t, nn.Parameter) else meta
        )
    return copy.deepcopy(model, memo)


def _cut_body(model: nn.Module, cut: Cut) -> None:
    """Drop everything above `cut`, head included: timm's prune to tap K, then, for a layer cut, what follows unit J
    in stage K (the later units leave their containers; any other module there becomes an identity)."""
    check_cut(model, cut)
    dropped = _after_unit(model, cut) if cut.units is not None else []
    model.prune_intermediate_layers(indices=[cut.tap], prune_norm=False, prune_head=True)
    for path, unit in dropped:
        if unit:  # a container's child (a dense layer's ModuleDict concatenates whatever it holds: remove it)
            parent, _, child = path.rpartition(".")
            delattr(model.get_submodule(parent), child)
        else:
            model.set_submodule(path, nn.Identity())


def _after_unit(model: nn.Module, cut: Cut) -> list[tuple[str, bool]]:
    """What stage `cut.tap` holds after its unit `cut.units - 1`: the later units and the stage's other modules."""
    pieces = _stage_pieces(model, cut.tap)
    units = [i for i, (_, unit) in enumerate(pieces) if unit]
    return pieces[units[cut.units - 1] + 1 :]


def kept_params(model: nn.Module, cut: Cut) -> set[str]:
    """Names of the parameters at or below `cut` (the head is never among them)."""
    body = skeleton(model)
    _cut_body(body, cut)
    return {name for name, _ in body.named_parameters()}


def probe_size(model: nn.Module, image_size: int | None) -> int:
    cfg = getattr(model, "pretrained_cfg", None) or {}
    return image_size or int(cfg.get("input_size", (3, 224, 224))[-1])


def _probe(model: nn.Module, size: int, fn=None) -> torch.Tensor:
    """Run `fn` (default `forward_features`) on one image of `size` px, in eval mode and without autograd."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return (fn or model.forward_features)(torch.zeros(1, 3, size, size, device=device))
    finally:
        model.train(was_training)


def modules_run(model: nn.Module, image_size: int | None = None) -> set[str]:
    """Names of the modules whose forward runs in one forward pass (on a skeleton, so it costs nothing). A layer
    whose weight the model reads without calling it (torch's MultiheadAttention's out_proj, the qkv and proj of
    torchvision's Swin-V2 attention) is not among them."""
    body = skeleton(model)
    ran: set[str] = set()
    handles = [
        m.register_forward_pre_hook(lambda _m, _a, name=name: ran.add(name))
        for name, m in body.named_modules()
    ]
    try:
        _probe(body, probe_size(model, image_size), body)
    finally:
        for h in handles:
            h.remove()
    return ran


def truncate(
    model: nn.Module, cut: Cut, num_classes: int, pool: bool = True, image_size: int | None = None
) -> nn.Module:
    """TTL: keep the model up to `cut`, then a new head (adaptive average pooling + linear, or flatten + linear).

    Without pooling the linear layer sees the whole feature map, so its size depends on `image_size`.
    """
    _cut_body(model, cut)
    size = probe_size(model, image_size)
    if cut.units is not None:  # timm's prune sized the features for block cuts; a layer cut ends elsewhere
        model.num_features = model.head_hidden_size = _probe(skeleton(model), size).shape[1]
    model.reset_classifier(num_classes, "avg" if pool else "")
    if not pool:
        body = skeleton(model)
        shape = _probe(
            body, size, lambda x: body.forward_head(body.forward_features(x), pre_logits=True)
        ).shape
        device = next(model.parameters()).device
        flat = nn.Sequential(nn.Flatten(1), nn.Linear(shape[1:].numel(), num_classes, device=device))
        head = model.get_classifier()
        model.set_submodule(next(n for n, m in model.named_modules() if m is head), flat)
    return model


# ---- TransFusion: halve the channels above a cut -------------------------------------------------------------


def _halvable() -> tuple[type, ...]:
    return (nn.Conv2d, nn.Linear, nn.modules.batchnorm._BatchNorm)


def _owners(model: nn.Module, names: set[str]) -> dict[str, nn.Module]:
    """The modules that directly own the named parameters."""
    out = {}
    for mname, module in model.named_modules():
        own = {f"{mname}.{p}" if mname else p for p, _ in module.named_parameters(recurse=False)}
        if own & names:
            out[mname] = module
    return out


def _new_shape(module: nn.Module, c_in: int, head: bool, num_classes: int) -> dict[str, int]:
    """The halved layer's sizes, given the channels that actually reach it."""
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return {"num_features": c_in}
    if isinstance(module, nn.Linear):
        return {"in_features": c_in, "out_features": num_classes if head else module.out_features // 2}
    if module.groups == 1:
        groups, out = 1, module.out_channels // 2
    elif module.groups == module.in_channels:  # depthwise: follows its input, keeps the channel multiplier
        groups, out = c_in, c_in * (module.out_channels // module.in_channels)
    else:
        groups, out = module.groups, module.out_channels // 2
    if c_in % groups or out % groups or out == 0:
        raise ValueError(f"cannot halve a grouped convolution ({module.groups} groups, {c_in} in, {out} out)")
    return {"in_channels": c_in, "out_channels": out, "groups": groups}


def _rebuild(module: nn.Module, shape: dict[str, int]) -> None:
    """Give `module` new, randomly initialised tensors of `shape` (PyTorch's default init, fresh BN statistics)."""
    for key, value in shape.items():
        setattr(module, key, value)
    dd = {"device": module.weight.device, "dtype": module.weight.dtype}
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        c = shape["num_features"]
        module.weight, module.bias = nn.Parameter(torch.empty(c, **dd)), nn.Parameter(torch.empty(c, **dd))
        if module.track_running_stats:
            module.running_mean, module.running_var = torch.empty(c, **dd), torch.empty(c, **dd)
    elif isinstance(module, nn.Linear):
        module.weight = nn.Parameter(torch.empty(shape["out_features"], shape["in_features"], **dd))
        if module.bias is not None:
            module.bias = nn.Parameter(torch.empty(shape["out_features"], **dd))
    else:
        per_group = shape["in_channels"] // shape["groups"]
        module.weight = nn.Parameter(torch.empty(shape["out_channels"], per_group, *module.kernel_size, **dd))
        if module.bias is not None:
            module.bias = nn.Parameter(torch.empty(shape["out_channels"], **dd))
    module.reset_parameters()


def halving_plan(
    model: nn.Module, cut: Cut, num_classes: int, image_size: int | None = None
) -> dict[str, dict[str, int]]:
    """New sizes for every layer above `cut`, found by running a skeleton whose layers resize themselves to what
    reaches them: channels halve, inputs follow, so residual sums and dense concatenations line up on their own.

    Raises `UserError` where that is impossible: a layer that is not a convolution, linear or BatchNorm (attention,
    LayerNorm, tokens), or a cut whose first unit adds its full-width input to a halved branch (an identity shortcut).
    """
    kept = kept_params(model, cut)
    body = skeleton(model)
    top = _owners(body, {n for n, _ in body.named_parameters()} - kept)
    head_ids = {id(m) for m in body.get_classifier().modules()}
    odd = [f"{type(m).__name__} {n!r}" for n, m in top.items() if not isinstance(m, _halvable())]
    if odd:
        raise UserError(
            f"tf cannot rebuild {model_name(body)} above {cut} with half the channels: {odd[0]} is not a "
            "convolution, linear or BatchNorm layer (TF supports convolutional networks only)"
        )
    plan: dict[str, dict[str, int]] = {}

    def resize(name: str):
        def hook(module: nn.Module, args: tuple) -> None:
            x = args[0]
            c_in = x.shape[-1] if isinstance(module, nn.Linear) else x.shape[1]
            plan[name] = _new_shape(module, c_in, id(module) in head_ids, num_classes)
            _rebuild(module, plan[name])

        return hook

    handles = [m.register_forward_pre_hook(resize(n)) for n, m in top.items()]
    try:
        _probe(body, probe_size(model, image_size), body)
    except (RuntimeError, ValueError) as exc:
        reason = str(exc).splitlines()[0][:160]
        raise UserError(
            f"tf cannot halve {model_name(body)} above {cut}: the layers no longer fit together ({reason}); "
            "a cut inside a residual stage leaves an identity shortcut, so cut at a block (tf@blockK)"
        ) from None
    finally:
        for h in handles:
            h.remove()
    missed = sorted(set(top) - set(plan))
    if missed:
        raise UserError(
            f"tf: layer {missed[0]!r} of {model_name(body)} never ran in a forward pass; cannot size it"
        )
    return plan


def halve_above(model: nn.Module, cut: Cut, num_classes: int, image_size: int | None = None) -> nn.Module:
    """TransFusion: every layer above `cut` gets half its channels and random init; the bottom stays as it is."""
    plan = halving_plan(model, cut, num_classes, image_size)
    for name, shape in plan.items():
        _rebuild(model.get_submodule(name), shape)
    head = model.get_classifier()
    if isinstance(head, nn.Linear):
        model.num_features = model.head_hidden_size = head.in_features
    return model
