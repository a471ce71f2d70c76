"""A cell: one resolved, typed config (`CellConfig`), its id, and the names derived from it.

`CellConfig` is what expansion produces and what every later stage reads (runner, report, analysis), by attribute
instead of by string key. It dumps to exactly the JSON the suite has always hashed and stored, key for key and in
the same order, so cell ids and committed result files do not change: `parent` and `sweep` are left out when
unset, as they always were.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, model_serializer

from suite.matrix.schema import TrainConfig

CHAIN = ">"
"""Joins the links of a two-step source: `imagenet>synthetic-fundus`."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _without_unset(data: dict[str, Any], *optional: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in optional or v is not None}


class DatasetRef(_Frozen):
    name: str
    metrics: list[str]
    version: str | None = None
    """12 hex digits over the lock entry's digests, adapter, split recipe and image policy (suite/catalog)."""


class ArchitectureRef(_Frozen):
    """Which network and weights a cell used: a timm model (`timm`), or a torchvision one (`torchvision`, and
    `timm` None). `torchvision` is left out of the dump when unset, so timm cells' ids did not change."""

    name: str
    timm: str | None
    weights: str | None
    """timm's pretrained tag, or torchvision's weights name (`IMAGENET1K_V1`); None when the source is `scratch`."""
    torchvision: str | None = None
    """The `torchvision.models` builder (`mobilenet_v2`) for a torchvision-family architecture."""

    @model_serializer(mode="wrap")
    def _dump(self, handler) -> dict[str, Any]:
        return _without_unset(handler(self), "torchvision")

    @property
    def model_id(self) -> str:
        """The timm name, or `torchvision:<builder>` (as `ArchSpec.model_id`, the facts table's key)."""
        return self.timm if self.torchvision is None else f"torchvision:{self.torchvision}"


class SourceRef(_Frozen):
    name: str
    parent: str | None = None
    """The id of the cell whose checkpoint this one starts from (a two-step source); absent otherwise."""

    @model_serializer(mode="wrap")
    def _dump(self, handler) -> dict[str, Any]:
        return _without_unset(handler(self), "parent")

    @property
    def base(self) -> str:
        """`imagenet` or `scratch`: the first link of the chain."""
        return self.name.split(CHAIN)[0]


class StrategyRef(_Frozen):
    name: str
    variant: str | None
    params: dict[str, Any]

    @property
    def spec(self) -> str:
        """`ttl@block3`, or `ft` when there is no variant: the name a matrix and `--only` use."""
        return f"{self.name}@{self.variant}" if self.variant else self.name


class CellConfig(_Frozen):
    protocol: int
    dataset: DatasetRef
    architecture: ArchitectureRef
    source: SourceRef
    strategy: StrategyRef
    train: TrainConfig
    seed: int
    sweep: dict[str, Any] | None = None
    """The sweep point (`{"lr": 1e-4}`) when the matrix sweeps; absent otherwise."""

    @model_serializer(mode="wrap")
    def _dump(self, handler) -> dict[str, Any]:
        return _without_unset(handler(self), "sweep")

    @property
    def sweep_point(self) -> dict[str, Any]:
        return self.sweep or {}


def cell_id(config: CellConfig | dict[str, Any]) -> str:
    """12 hex digits of sha256 over the canonical JSON of the resolved config, without the settings that do not
    change what a cell computes (`TrainConfig.NOT_IN_ID`)."""
    data = config.model_dump() if isinstance(config, CellConfig) else dict(config)
    if isinstance(data.get("train"), dict):
        data["train"] = {k: v for k, v in data["train"].items() if k not in TrainConfig.NOT_IN_ID}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Cell:
    id: str
    config: CellConfig
    parents: tuple[str, ...] = ()
    family: str = ""

    @property
    def key(self) -> dict[str, Any]:
        """The axis values, for `--only` filters and tables."""
        c = self.config
        return {
            "dataset": c.dataset.name,
            "architecture": c.architecture.name,
            "source": c.source.name,
            "strategy": c.strategy.spec,
            "seed": c.seed,
            "id": self.id,
            **{k: str(v) for k, v in c.sweep_point.items()},
        }

    @property
    def slug(self) -> str:
        """`dataset.architecture.source.strategy.s<seed>.<id>`, safe as a file name."""
        k = self.key
        text = f"{k['dataset']}.{k['architecture']}.{k['source']}.{k['strategy']}.s{k['seed']}.{self.id}"
        return re.sub(r"[^A-Za-z0-9._-]+", "_", text.replace(CHAIN, "-to-").replace("@", "-at-"))
