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
def meta_model(timm_name: str):
    """A weightless build on the meta device: its structure (blocks, cut points) without memory or init cost."""
    import timm
    import torch

    with torch.device("meta"):
        return timm.create_model(timm_name, pretrained=False, num_classes=2)


def block_count(timm_name: str) -> int:
    """Number of parameter blocks of an architecture."""
    from suite.models.blocks import param_blocks

    return len(param_blocks(meta_model(timm_name)))


@lru_cache(maxsize=256)
def _variants(strategy: str, timm_name: str, pattern: str) -> tuple[str, ...]:
    from suite.strategies import STRATEGIES

    return tuple(STRATEGIES.get(strategy).variants_for(meta_model(timm_name), pattern))


class SuiteCatalog:
    """Datasets from datasets.lock, architectures from suite.models, strategies from suite.strategies."""

    def dataset_metrics(self, name: str) -> list[str]:
        return list(lock_entry(name).metrics)

    def dataset_version(self, name: str) -> str:
        """12 hex digits over what fixes a dataset's content and splits: the lock digests, adapter, split recipe and
        image policy. Part of every cell id, so re-locked data or a new split recipe never reuses old results."""
        import hashlib
        import json

        e = lock_entry(name)
        fixed = {k: e.model_dump(mode="json")[k] for k in ("digest", "adapter", "split", "image")}
        return hashlib.sha256(json.dumps(fixed, sort_keys=True).encode()).hexdigest()[:12]

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

    def strategy_variants(self, name: str, architecture: dict[str, Any], pattern: str = "*") -> list[str]:
        """`name@*` (pattern `*`) or a glob such as `ttl@layer3.*`, expanded for one architecture."""
        self._strategy_class(name)
        variants = list(_variants(name, architecture["timm"], pattern))
        if variants:
            return variants
        if pattern == "*":
            raise UserError(f"strategy {name!r} has no variants; write it without '@*'")
        shown = ", ".join(_variants(name, architecture["timm"], "*")) or "none"
        raise UserError(
            f"'{name}@{pattern}' matches no variant of {architecture['name']} (its '{name}@*' variants: {shown})"
        )
