"""Ordered parameter blocks, stem to head, from timm's own contract, covering every parameter exactly once.

Strategies that unfreeze or truncate "block by block" read this list; they never name an architecture.

The rule (one rule for every timm model; no per-architecture branch):

1. The **head** is the classifier, `model.get_classifier()`: the layer every strategy replaces. It is the last block.
2. The body is cut at the end of every **feature stage** of `model.feature_info` (the modules timm exposes as
   feature-pyramid outputs). Parameters after the last stage (a final norm, VGG's `pre_logits` fc6/fc7) join the
   last stage, so the body is exactly what comes before the classifier.
3. timm's **coarse groups** (`model.group_matcher(coarse=True)`, the units of layer-wise LR decay) add a cut only
   where a group straddles a stage end: both ends of such a group are cut too. A group that lies inside one stage
   is merged into the stage.

Rule 3 is what tells DenseNet's transition layers apart: timm groups `denseblock1 + transition1` together, while
`feature_info` ends a stage after `denseblock1`; the group straddles that end, so `transition1` becomes a block of
its own. VGG's groups are single conv layers, each inside one stage, so its blocks are the five pooling stages.
This reproduces Davila et al.'s counts: ResNet-50 [stem, layer1..4, head] = 6; DenseNet-121 [stem, denseblock1,
transition1, ..., transition3, denseblock4 + norm5, head] = 9; VGG-19 [5 conv stages (fc6/fc7 with the last),
head] = 6. A model without `feature_info` uses its coarse groups as stages; one without either is one body block.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

from suite.lazy import lazy_module

if TYPE_CHECKING:
    from torch import nn

torch = lazy_module("torch")
timm = lazy_module("timm")


@dataclass(frozen=True)
class Block:
    """One unit of unfreezing: `name` is positional (stem, block1.., head); `label` names the modules it spans."""

    name: str
    params: tuple[str, ...]
    label: str = ""


def head_params(model: nn.Module) -> tuple[str, ...]:
    """Names of the classifier's parameters (timm's `get_classifier`): the new, randomly initialised head."""
    head = model.get_classifier()
    ids = {id(p) for p in head.parameters()} if isinstance(head, torch.nn.Module) else set()
    return tuple(n for n, p in model.named_parameters() if id(p) in ids)


def _module_of(param: str) -> str:
    return param.rpartition(".")[0]


def _stage_ids(model: nn.Module, names: list[str]) -> list[int] | None:
    """For each parameter, the index of the `feature_info` stage it belongs to.

    A stage ends with its feature module's subtree (in `named_modules` order); parameters after the last stage
    join the last stage that holds parameters (VGG's last feature module is a parameterless pool).
    """
    info = getattr(model, "feature_info", None)
    modules = [f["module"] for f in info] if isinstance(info, list | tuple) else []
    order = {name: i for i, (name, _) in enumerate(model.named_modules())}
    ends = sorted(
        {
            max(i for name, i in order.items() if name == module or name.startswith(f"{module}."))
            for module in modules
            if module in order
        }
    )
    if not ends:
        return None
    ids = [next((s for s, end in enumerate(ends) if order[_module_of(n)] <= end), None) for n in names]
    last = max((s for s in ids if s is not None), default=0)
    return [last if s is None else s for s in ids]


def _group_ids(model: nn.Module, names: list[str]) -> list[int] | None:
    """For each parameter, its coarse group ordinal from `group_matcher(coarse=True)`."""
    try:
        matcher = model.group_matcher(coarse=True)
    except (AttributeError, NotImplementedError):
        return None
    group_of = timm.models.group_parameters(model, matcher, reverse=True)
    return [group_of[n] for n in names]


def _cuts(n: int, stages: list[int] | None, groups: list[int] | None) -> list[int]:
    """Positions (among `n` body parameters) where a new block starts, by rules 2 and 3 of the module docstring."""
    if stages is None or groups is None:
        ids = stages or groups or [0] * n
        return [i for i in range(1, n) if ids[i] != ids[i - 1]]
    stages_of: dict[int, set[int]] = {}
    for s, g in zip(stages, groups):
        stages_of.setdefault(g, set()).add(s)
    straddles = {g for g, s in stages_of.items() if len(s) > 1}
    return [
        i
        for i in range(1, n)
        if stages[i] != stages[i - 1]
        or (groups[i] != groups[i - 1] and {groups[i], groups[i - 1]} & straddles)
    ]


def _prefixes(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _label(names: tuple[str, ...], everything: list[str]) -> str:
    """The modules a block spans: for each parameter, its shortest module prefix lying wholly inside the block."""
    inside = Counter(p for n in names for p in _prefixes(n))
    total = Counter(p for n in everything for p in _prefixes(n))
    parts = list(dict.fromkeys(next(p for p in _prefixes(n) if inside[p] == total[p]) for n in names))
    return "+".join(parts) if len(parts) <= 3 else f"{parts[0]}..{parts[-1]}"


def param_blocks(model: nn.Module) -> list[Block]:
    """Blocks stem → head by the rule in this module's docstring; every parameter is in exactly one block."""
    head = set(head_params(model))
    body = [n for n, _ in model.named_parameters() if n not in head]
    cuts = [0, *_cuts(len(body), _stage_ids(model, body), _group_ids(model, body)), len(body)]
    spans = [tuple(body[a:b]) for a, b in pairwise(cuts) if b > a]
    everything = [n for n, _ in model.named_parameters()]
    blocks = [Block("stem" if i == 0 else f"block{i}", s, _label(s, everything)) for i, s in enumerate(spans)]
    if head:
        names = tuple(n for n in everything if n in head)
        blocks.append(Block("head", names, _label(names, everything)))
    return blocks
