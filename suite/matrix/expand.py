"""Expand a validated matrix into cells: one resolved, hashable config each, with its parents (two-step sources).

Names are resolved through a `Catalog` (datasets, architectures, strategies) passed in by the caller, so this module
never imports torch and tests can hand it a fake catalog.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Protocol

from suite.errors import UserError
from suite.matrix.cell import (
    CHAIN,
    ArchitectureRef,
    Cell,
    CellConfig,
    DatasetRef,
    SourceRef,
    StrategyRef,
    cell_id,
)
from suite.matrix.loader import Located, validate
from suite.matrix.schema import (
    ArchitectureEntry,
    Axes,
    DatasetEntry,
    Matrix,
    SourceEntry,
    StrategyEntry,
    TrainConfig,
)

BASE_SOURCES = ("imagenet", "scratch")
PROTOCOL_VERSION = 2
"""Part of every cell's hashed config. Bump it when a code change alters what a cell computes for the same config
(the split rule, the loop's semantics, a metric definition), so old results stop being reused on resume.
2: multi-phase strategies keep their final phase's best state (`train.checkpoint`); a non-finite loss stops the
cell; AMP and channels_last default to on for CUDA."""


@dataclass(frozen=True)
class ResolvedArchitecture:
    """An architecture entry as the catalog resolved it: the model and weights, the default LR and input.

    `timm` is the model's name in its `family`: a timm model, or a `torchvision.models` builder."""

    name: str
    timm: str
    weights: str | None
    lr: float
    input_size: int
    family: str = "timm"

    @property
    def model_id(self) -> str:
        """The timm name, or `torchvision:<builder>` (as `ArchSpec.model_id`)."""
        return self.timm if self.family == "timm" else f"{self.family}:{self.timm}"

    def ref(self, scratch: bool) -> ArchitectureRef:
        weights = None if scratch else self.weights
        if self.family == "torchvision":
            return ArchitectureRef(name=self.name, timm=None, weights=weights, torchvision=self.timm)
        return ArchitectureRef(name=self.name, timm=self.timm, weights=weights)


class Catalog(Protocol):
    def dataset_metrics(self, name: str) -> list[str]: ...
    def dataset_version(self, name: str) -> str | None: ...
    def check_metric(self, name: str) -> None: ...
    def check_table(self, name: str) -> None: ...
    def architecture(self, entry: ArchitectureEntry) -> ResolvedArchitecture: ...
    def strategy(
        self, name: str, params: dict[str, Any], architecture: ResolvedArchitecture
    ) -> StrategyRef: ...
    def strategy_variants(
        self, name: str, architecture: ResolvedArchitecture, pattern: str = "*"
    ) -> list[str]: ...


def _merge(*parts: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            out[key] = (
                _merge(out[key], value)
                if isinstance(value, dict) and isinstance(out.get(key), dict)
                else value
            )
    return out


def _nest(dotted: dict[str, Any]) -> dict[str, Any]:
    """`{"scheduler.gamma": 0.1}` → `{"scheduler": {"gamma": 0.1}}`."""
    out: dict[str, Any] = {}
    for key, value in dotted.items():
        *head, last = key.split(".")
        target = out
        for part in head:
            target = target.setdefault(part, {})
        target[last] = value
    return out


AXES = ("datasets", "architectures", "sources", "strategies", "seeds")
DEFAULT_MAX_CELLS = 100_000
"""The most cells a matrix may expand to unless `run --max-cells` raises it: a slip such as a 1,000-value sweep
times a few axes should be a one-line error, not hours of expansion (each cell is resolved and hashed)."""


def count_cells(matrix: Matrix) -> int:
    """The cells the grids' axes multiply to, before any is built: Σ over grids of the product of the axis lengths
    and sweep values. `name@*` counts as one cell per entry (its variants are known only to the catalog), and
    two-step parents and exclusions are not counted; `Expander` enforces the cap on the real count as it goes."""
    total = 0
    for grid in matrix.grids or [Axes()]:
        cells = 1
        for axis in AXES:
            values = getattr(grid, axis) if getattr(grid, axis) is not None else getattr(matrix, axis)
            cells *= len(values) if values else 1
        sweep = grid.sweep if grid.sweep is not None else matrix.sweep
        for values in (sweep or {}).values():
            cells *= len(values)
        total += cells
    return total


def too_many_cells(count: str, max_cells: int) -> str:
    """The one-line message for a matrix over the cell cap; `count` is the number as words ("1,000,000")."""
    return f"expands to {count} cells, more than the cap of {max_cells:,}; if you mean it, run with --max-cells N"


class Expander:
    """Turns one matrix into its cells; every catalog error is re-raised at the entry's file and line."""

    def __init__(
        self, matrix: Matrix, located: Located, catalog: Catalog, max_cells: int = DEFAULT_MAX_CELLS
    ) -> None:
        self.matrix, self.located, self.catalog = matrix, located, catalog
        self.max_cells = max_cells
        self.cells: dict[str, Cell] = {}

    def _at(self, path: tuple, fn, *args):
        try:
            return fn(*args)
        except UserError as exc:
            raise UserError(exc.message, where=self.located.where(path)) from None

    def _train(self, path: tuple, *parts: TrainConfig | dict[str, Any]) -> TrainConfig:
        """Merge the settings each level set explicitly (later wins), then validate the result."""
        dicts = [p.model_dump(exclude_unset=True) if isinstance(p, TrainConfig) else p for p in parts]
        return validate(
            Located(_merge(*dicts), {(): self.located.marks.get(path, ("matrix", 1, 1))}), TrainConfig
        )

    def _axis(self, grid: Axes, grid_path: tuple, axis: str) -> list[tuple[tuple, Any]]:
        own = getattr(grid, axis)
        values, base = (own, grid_path) if own is not None else (getattr(self.matrix, axis), ())
        if values is None:
            return [((axis,), None)]
        if isinstance(values, dict):
            return [((*base, axis), values)]
        return [((*base, axis, i), v) for i, v in enumerate(values)]

    def expand(self) -> list[Cell]:
        counted = count_cells(self.matrix)
        if counted > self.max_cells:
            raise UserError(too_many_cells(f"{counted:,}", self.max_cells), where=self.located.where(()))
        for gi, grid in enumerate(self.matrix.grids or [Axes()]):
            grid_path = ("grids", gi) if self.matrix.grids else ()
            axes = {
                a: self._axis(grid, grid_path, a)
                for a in ("datasets", "architectures", "sources", "strategies", "seeds", "sweep")
            }
            if axes["sources"][0][1] is None:
                axes["sources"] = [(("sources",), SourceEntry(name="imagenet"))]
            sweep_path, sweep = axes["sweep"][0]
            points = (
                [dict(zip(sweep, combo)) for combo in itertools.product(*sweep.values())] if sweep else [{}]
            )
            for ds, arch, src, strat, seed in itertools.product(
                axes["datasets"], axes["architectures"], axes["sources"], axes["strategies"], axes["seeds"]
            ):
                for point in points:
                    self._add_strategy_cells(ds, arch, src, strat, seed[1], point, sweep_path)
        return list(self.cells.values())

    def _add_strategy_cells(self, ds, arch, src, strat, seed: int, point: dict, sweep_path: tuple) -> None:
        arch_path, arch_entry = arch
        resolved_arch = self._at(arch_path, self.catalog.architecture, arch_entry)
        strat_path, strat_entry = strat
        names = [strat_entry.name]
        base, _, pattern = strat_entry.name.partition("@")
        if "*" in pattern:  # `name@*`, or a glob over the variants such as `ttl@layer3.*`
            args = (base, resolved_arch) if pattern == "*" else (base, resolved_arch, pattern)
            names = [f"{base}@{v}" for v in self._at(strat_path, self.catalog.strategy_variants, *args)]
        for name in names:
            entry = StrategyEntry(name=name, params=strat_entry.params, train=strat_entry.train)
            cell = self._cell(
                ds, (arch_path, arch_entry, resolved_arch), src, (strat_path, entry), seed, point, sweep_path
            )
            if not self._excluded(cell):
                self.cells.setdefault(cell.id, cell)
            if len(self.cells) > self.max_cells:  # variants (`name@*`) and two-step parents add to the count
                raise UserError(
                    too_many_cells(f"more than {self.max_cells:,}", self.max_cells),
                    where=self.located.where(()),
                )

    def _excluded(self, cell: Cell) -> bool:
        key = cell.key
        return any(
            all(str(key.get(k)) == str(v) for k, v in pattern.items()) for pattern in self.matrix.exclude
        )

    def _cell(self, ds, arch, src, strat, seed: int, point: dict, sweep_path: tuple) -> Cell:
        ds_path, ds_entry = ds
        _, arch_entry, resolved_arch = arch
        src_path, src_entry = src
        strat_path, strat_entry = strat
        known = self._at(ds_path, self.catalog.dataset_metrics, ds_entry.name)  # also checks the name
        metrics = ds_entry.metrics or known
        for m in metrics:
            self._at(ds_path, self.catalog.check_metric, m)
        arch_train = _merge(
            {
                k: v
                for k, v in (("lr", arch_entry.lr), ("image_size", arch_entry.image_size))
                if v is not None
            },
            arch_entry.train.model_dump(exclude_unset=True),
        )
        train = self._train(
            sweep_path or strat_path,
            self.matrix.train,
            ds_entry.train,
            arch_train,
            strat_entry.train,
            _nest(point),
        )
        train = train.model_copy(
            update={
                "lr": train.lr or resolved_arch.lr,
                "image_size": train.image_size or resolved_arch.input_size,
            }
        )
        self._at(
            ("train", "monitor"), lambda: train.monitor == "loss" or self.catalog.check_metric(train.monitor)
        )
        strategy = self._at(
            strat_path, self.catalog.strategy, strat_entry.name, strat_entry.params, resolved_arch
        )
        source, parents = self._source(src_path, src_entry, arch, seed)
        version_of = getattr(self.catalog, "dataset_version", None)
        config = CellConfig(
            protocol=PROTOCOL_VERSION,
            dataset=DatasetRef(
                name=ds_entry.name, metrics=metrics, version=version_of(ds_entry.name) if version_of else None
            ),
            architecture=resolved_arch.ref(scratch=source.name == "scratch"),
            source=source,
            strategy=strategy,
            train=train,
            seed=seed,
            sweep=point or None,
        )
        cid = cell_id(config)
        family = self.cells[parents[0]].family if parents else cid
        return Cell(cid, config, parents, family)

    def _source(
        self, path: tuple, entry: SourceEntry, arch: tuple, seed: int
    ) -> tuple[SourceRef, tuple[str, ...]]:
        """A base source, or a chain whose last link is a parent cell trained with `ft` on that dataset."""
        links = entry.name.split(CHAIN)
        if links[0] not in BASE_SOURCES:
            raise UserError(
                f"source {links[0]!r}: a source starts with one of {BASE_SOURCES}",
                where=self.located.where(path),
            )
        if len(links) == 1:
            return SourceRef(name=entry.name), ()
        parent_source = SourceEntry(name=CHAIN.join(links[:-1]), train=entry.train)
        parent_ds = DatasetEntry(name=links[-1], train=entry.train)
        parent = self._cell(
            (path, parent_ds), arch, (path, parent_source), (path, StrategyEntry(name="ft")), seed, {}, ()
        )
        self.cells.setdefault(parent.id, parent)
        return SourceRef(name=entry.name, parent=parent.id), (parent.id,)


def check_report_names(matrix: Matrix, located: Located, catalog: Catalog) -> None:
    """The metric and table names of the `report:` section, checked against the registries at their file:line."""
    report = matrix.report
    checks = [(("report", *path), catalog.check_metric, name) for path, name in report.metric_names()]
    checks += [(("report", "tables", i), catalog.check_table, t) for i, t in enumerate(report.tables or [])]
    for path, check, name in checks:
        try:
            check(name)
        except UserError as exc:
            raise UserError(f"{'.'.join(map(str, path))}: {exc.message}", where=located.where(path)) from None
