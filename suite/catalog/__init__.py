"""The registries as one `Catalog`, which matrix expansion uses to resolve every name before anything runs.

Datasets come from datasets.lock, architectures from suite.models, strategies from suite.strategies, metrics from
suite.metrics and their structure from the shipped facts table (suite/catalog/facts.py), so resolving a matrix
imports no torch unless it names a model outside the catalog (`timm:<name>`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterable
from typing import Any

from suite.catalog.facts import ArchFacts, facts
from suite.data.lock import load_lock, lock_entry
from suite.errors import UserError, did_you_mean
from suite.matrix.cell import StrategyRef
from suite.matrix.expand import ResolvedArchitecture
from suite.matrix.schema import ArchitectureEntry
from suite.metrics import METRICS
from suite.models.catalog import TIMM_PREFIX, resolve_architecture
from suite.registry import Registry
from suite.strategies import STRATEGIES

__all__ = ["ArchFacts", "SuiteCatalog", "block_count", "facts"]


def block_count(model_id: str) -> int:
    """Number of parameter blocks of an architecture (`ArchSpec.model_id`)."""
    return len(facts(model_id).blocks)


class SuiteCatalog:
    """Resolves a matrix's names; `tables` (the report's table names) is checked when given."""

    def __init__(self, tables: Iterable[str] | Callable[[], Iterable[str]] | None = None) -> None:
        # a callable is asked only when a matrix names tables (the report's modules import pandas)
        self._tables_source = tables
        self._tables: Registry[None] | None = None
        self.check_tables = tables is not None
        self._versions: dict[str, str] = {}

    @property
    def tables(self) -> Registry[None]:
        if self._tables is None:
            source = self._tables_source
            self._tables = Registry[None]("report table")
            for name in (source() if callable(source) else source) or ():
                self._tables.add(name, None)
        return self._tables

    def dataset_metrics(self, name: str) -> list[str]:
        return list(lock_entry(name).metrics)

    def dataset_version(self, name: str) -> str:
        """12 hex digits over what fixes a dataset's content and splits: the lock digests, adapter, split recipe and
        image policy. Part of every cell id, so re-locked data or a new split recipe never reuses old results."""
        if name not in self._versions:
            e = lock_entry(name).model_dump(mode="json")
            fixed = {k: e[k] for k in ("digest", "adapter", "split", "image")}
            self._versions[name] = hashlib.sha256(json.dumps(fixed, sort_keys=True).encode()).hexdigest()[:12]
        return self._versions[name]

    def dataset_names(self) -> list[str]:
        return list(load_lock()[0].datasets)

    def check_metric(self, name: str) -> None:
        METRICS.get(name)

    def check_table(self, name: str) -> None:
        if self.check_tables:
            self.tables.get(name)

    def architecture(self, entry: ArchitectureEntry) -> ResolvedArchitecture:
        spec = resolve_architecture(
            entry.name, weights=entry.weights, input_size=entry.image_size, lr=entry.lr
        )
        if entry.name.startswith(TIMM_PREFIX):
            import timm  # only for models outside the catalog

            if not timm.is_model(spec.timm_name):
                raise UserError(f"timm model: {did_you_mean(spec.timm_name, timm.list_models())}")
        return ResolvedArchitecture(
            spec.name, spec.timm_name, spec.weights, spec.lr, spec.input_size, spec.family
        )

    def strategy(self, name: str, params: dict[str, Any], architecture: ResolvedArchitecture) -> StrategyRef:
        """The strategy with its parameters resolved to their values, its variant checked on this architecture."""
        base, _, variant = name.partition("@")
        cls = STRATEGIES.get(base)
        valid = [f.name for f in dataclasses.fields(cls) if f.name != "variant"]
        unknown = [k for k in params if k not in valid]
        if unknown:
            raise UserError(f"strategy {base!r} parameter {did_you_mean(unknown[0], valid)}")
        try:
            instance = cls(variant=variant or None, **params)
        except (TypeError, ValueError) as exc:
            raise UserError(f"strategy {name!r}: {exc}") from None
        if (
            cls.variant_kind == "cut"
        ):  # a cut-point strategy cannot run on a model without timm's feature taps
            why = facts(architecture.model_id).space(base).unsupported
            if why:
                raise UserError(why)
        if variant:
            self._check_variant(base, variant, architecture)
        values = {
            f.name: getattr(instance, f.name) for f in dataclasses.fields(instance) if f.name != "variant"
        }
        return StrategyRef(name=base, variant=variant or None, params=values)

    def _check_variant(self, base: str, variant: str, architecture: ResolvedArchitecture) -> None:
        """A named variant must exist on this architecture (`swft@9` on a 6-block model is a matrix error)."""
        space = facts(architecture.model_id).space(base)
        if variant in space.valid:
            return
        why = space.excluded.get(variant)
        if why:
            raise UserError(why)
        if not space.valid:
            raise UserError(f"strategy {base!r} has no variants; write it without '@{variant}'")
        raise UserError(
            f"{base}@{variant} does not exist on {architecture.name}: "
            f"{did_you_mean(variant, space.valid).replace('unknown', 'variant', 1)}"
        )

    def strategy_variants(
        self, name: str, architecture: ResolvedArchitecture, pattern: str = "*"
    ) -> list[str]:
        """`name@*` (pattern `*`) or a glob such as `ttl@layer3.*`, expanded for one architecture."""
        STRATEGIES.get(name)
        space = facts(architecture.model_id).space(name)
        if space.unsupported:
            raise UserError(space.unsupported)
        variants = space.matching(pattern)
        if variants:
            return variants
        if pattern == "*":
            raise UserError(f"strategy {name!r} has no variants; write it without '@*'")
        why = space.why_excluded(pattern)
        if why:
            raise UserError(why)
        shown = ", ".join(space.search) or "none"
        raise UserError(
            f"'{name}@{pattern}' matches no variant of {architecture.name} (its '{name}@*' variants: {shown})"
        )
