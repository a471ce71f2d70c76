"""`medtl-bench list [datasets | architectures | strategies]`: what is registered, without importing torch."""

from __future__ import annotations

import dataclasses

from tabulate import tabulate

from suite.catalog import block_count
from suite.catalog.facts import preprocessing
from suite.data.lock import load_lock
from suite.models.catalog import ARCHITECTURES
from suite.strategies import STRATEGIES


def list_command(what: str | None) -> str:
    parts = []
    if what in (None, "datasets"):
        parts.append(datasets_table())
    if what in (None, "architectures"):
        parts.append(architectures_table())
    if what in (None, "strategies"):
        parts.append(strategies_table())
    return "\n\n".join(parts)


def datasets_table() -> str:
    lock, _ = load_lock()
    rows = [
        [n, e.task, e.modality, len(e.classes), e.counts.total, ", ".join(e.metrics), e.description[:70]]
        for n, e in lock.datasets.items()
    ]
    headers = ["dataset", "task", "modality", "classes", "images", "metrics", "description"]
    return tabulate(rows, headers=headers)


def architectures_table() -> str:
    """Paper name → model.weights (timm's model.tag, or torchvision:<builder>.<weights>), input size, default LR,
    the weights' mean/std, and the block count."""
    rows = []
    for name, spec in ARCHITECTURES.items():
        mean, std = preprocessing(spec)
        rows.append(
            [
                name,
                spec.pretrained_id,
                spec.input_size,
                f"{spec.lr:g}",
                "/".join(f"{x:.3f}" for x in mean),
                "/".join(f"{x:.3f}" for x in std),
                block_count(spec.model_id),
                spec.summary,
            ]
        )
    headers = ["architecture", "model.weights", "input", "LR", "mean", "std", "blocks", "description"]
    return (
        tabulate(rows, headers=headers)
        + "\n(timm:<model>[.<tag>] passes any timm model; tv_*: torchvision's model and checkpoint, as Fang used;"
        " blocks: units of gradual unfreezing, suite/models/blocks.py)"
    )


def strategies_table() -> str:
    """Each strategy's card line and its parameters with their defaults (set them under `params:` in a matrix)."""
    rows = []
    for name, cls in STRATEGIES.items():
        fields = [f for f in dataclasses.fields(cls) if f.name != "variant"]
        params = ", ".join(f"{f.name}={f.default}" for f in fields)
        rows.append([name, (cls.__doc__ or "").strip().splitlines()[0], params])
    return tabulate(rows, headers=["strategy", "description", "params (defaults)"])
