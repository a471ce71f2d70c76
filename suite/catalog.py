"""The registries as one `Catalog`, which matrix expansion uses to resolve every name before anything runs."""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from typing import Any

from suite.data.lock import load_lock, lock_entry
from suite.errors import UserError, did_you_mean
from suite.matrix.schema import ArchitectureEntry
from suite.metrics import METRICS
from suite.models.catalog import TIMM_PREFIX, resolve_architecture


@lru_cache(maxsize=64)
def block_count(timm_name: str) -> int:
    """Number of parameter blocks of an architecture, from a weightless build on the meta device."""
    import timm
    import torch

    from suite.models.blocks import param_blocks

    with torch.device("meta"):
        model = timm.create_model(timm_name, pretrained=False, num_classes=2)
    return len(param_blocks(model))


class SuiteCatalog:
    """Datasets from datasets.lock, architectures from suite.models, strategies from suite.strategies."""

    def dataset_metrics(self, name: str) -> list[str]:
        return list(lock_entry(name).metrics)

    def dataset_names(self) -> list[str]:
        return list(load_lock()[0].datasets)

    def check_metric(self, name: str) -> None:
        if name not in METRICS:
            raise UserError(f"metric: {did_you_mean(name, METRICS)}")

    def architecture(self, entry: ArchitectureEntry) -> dict[str, Any]:
        spec = resolve_architecture(
            entry.name, weights=entry.weights, input_size=entry.image_size, lr=entry.lr
        )
        if entry.name.startswith(TIMM_PREFIX):
            import timm

            if not timm.is_model(spec.timm_name):
                raise UserError(f"timm model: {did_you_mean(spec.timm_name, timm.list_models())}")
        return {
            "name": spec.name,
            "timm": spec.timm_name,
            "weights": spec.weights,
            "lr": spec.lr,
            "input_size": spec.input_size,
        }

    def _strategy_class(self, base: str):
        from suite.strategies import STRATEGIES

        return STRATEGIES.get(base)

    def strategy(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        base, _, variant = name.partition("@")
        cls = self._strategy_class(base)
        valid = [f.name for f in dataclasses.fields(cls) if f.name != "variant"]
        unknown = [k for k in params if k not in valid]
        if unknown:
            raise UserError(f"strategy {base!r} parameter {did_you_mean(unknown[0], valid)}")
        try:
            instance = cls(variant=variant or None, **params)
        except (TypeError, ValueError) as exc:
            raise UserError(f"strategy {name!r}: {exc}") from None
        values = {
            f.name: getattr(instance, f.name) for f in dataclasses.fields(instance) if f.name != "variant"
        }
        return {"name": base, "variant": variant or None, "params": values}

    def strategy_variants(self, name: str, architecture: dict[str, Any]) -> list[str]:
        variants = self._strategy_class(name).variants(block_count(architecture["timm"]))
        if not variants:
            raise UserError(f"strategy {name!r} has no variants; write it without '@*'")
        return variants
