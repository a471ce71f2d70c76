"""Which cells a table row shows: variants and sweep points are chosen on the VALIDATION metric, never on test.

Rules (the README documents them too):
- A row is a (dataset, source, architecture, strategy) group, or a part of it. Its candidates are the
  (variant, sweep point) pairs of the group; each candidate has one cell per seed.
- A candidate's score is the mean validation value of the selection metric (`report.select_on`, default the
  dataset's main metric) over its finished seeds. The best score wins; candidates with every seed finished are
  preferred over incomplete ones; ties go to the candidate that comes first in the matrix. The row then shows that
  candidate's test mean (SE) over its seeds. One choice per architecture, never per seed.
- `search` (Peng's TTL/TF/LWFT): `-1` chooses among the block-level variants (`block3`); `-2` chooses among the
  best block and the layer-level variants (`layer3.2`) in the two blocks next to that block boundary, blocks b and
  b+1. `best`: one row over all variants. `each`: one row per variant. `each+best` (the default for steps): one row
  per variant, as Fang's tables show SWFT's steps, and one more, `SWFT (val)`, for the step validation picks, which
  is the number to compare with other strategies (picking the best step on test would flatter SWFT).
- Sweep points (`sweep: {lr: [...]}`) are chosen the same way (`report.sweeps: best`) or shown as rows (`each`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from suite.matrix.report import ReportConfig, VariantMode
from suite.report.collect import format_value
from suite.report.naming import block_of, higher_is_better, layer_of, strategy_label, variant_text
from suite.report.stats import Stat, mean_se
from suite.strategies import STRATEGIES


@dataclass
class Candidate:
    variant: str
    sweep: str
    cells: pd.DataFrame  # one per seed, every status

    @property
    def complete(self) -> bool:
        return bool((self.cells["status"] == "ok").all())

    @property
    def diverged(self) -> bool:
        """Some finished seed diverged (validation loss far above chance): its numbers are not a trained model's."""
        return "diverged" in self.cells and bool(self.cells["diverged"].fillna(False).astype(bool).any())

    def val(self, metric: str) -> Stat:
        ok = self.cells[self.cells["status"] == "ok"]
        column = f"val_{metric}"
        return mean_se(ok[column] if column in ok else [math.nan] * len(ok))


@dataclass
class Row:
    """One line of a table, for one architecture: the chosen candidate's cells and what was chosen."""

    dataset: str
    source: str
    architecture: str
    base: str
    label: str  # the same for every architecture: "TTL-2", "FT", "SWFT step 3"
    choice: str  # what validation chose for this architecture: "layer3.3, lr=1e-4"; "" when nothing to choose
    order: float
    cells: pd.DataFrame
    candidates: int
    open_candidates: int  # candidates with a seed not finished, at the time of choosing
    finished_candidates: int  # candidates with at least one finished seed
    select_metric: str
    select_value: float
    selected: bool  # False when no candidate had a defined validation value
    split: str  # "test", or "val" for a dataset without a test split

    @property
    def ok(self) -> pd.DataFrame:
        return self.cells[self.cells["status"] == "ok"]

    @property
    def expected(self) -> int:
        return len(self.cells)

    @property
    def n_ok(self) -> int:
        return int((self.cells["status"] == "ok").sum())

    @property
    def n_failed(self) -> int:
        return int((self.cells["status"] == "failed").sum())

    @property
    def n_missing(self) -> int:
        return int((self.cells["status"] == "missing").sum())

    @property
    def n_diverged(self) -> int:
        return int(self.ok["diverged"].fillna(False).astype(bool).sum()) if "diverged" in self.ok else 0

    @property
    def complete(self) -> bool:
        return self.n_ok == self.expected

    @property
    def chosen(self) -> bool:
        """False when finished candidates existed but none had a defined validation value: the row then reports
        nothing (n/a) rather than an arbitrary candidate. (With nothing finished, the row is just incomplete.)"""
        return self.selected or self.candidates == 1 or self.finished_candidates == 0

    def stat(self, column: str) -> Stat:
        ok = self.ok
        if not self.chosen:
            return Stat(math.nan, math.nan, 0, len(ok))
        return mean_se(ok[column] if column in ok else [math.nan] * len(ok))

    def metric(self, metric: str, split: str | None = None) -> Stat:
        return self.stat(f"{split or self.split}_{metric}")

    @property
    def full_label(self) -> str:
        return f"{self.label} ({self.choice})" if self.choice else self.label


def dataset_metrics(frame: pd.DataFrame, dataset: str, config: ReportConfig) -> list[str]:
    """The dataset's primary metrics (first = main), unless the report overrides them."""
    if config.metrics:
        return list(config.metrics)
    return list(frame.loc[frame["dataset"] == dataset, "metrics"].iloc[0])


def report_split(frame: pd.DataFrame, dataset: str) -> str:
    """'test', or 'val' when no finished cell of the dataset has a test split (an intermediate dataset)."""
    sub = frame[(frame["dataset"] == dataset) & (frame["status"] == "ok")]
    has_test = "has_test" in sub and bool(sub["has_test"].fillna(False).astype(bool).any())
    return "test" if sub.empty or has_test else "val"


DEFAULT_MODES: dict[str | None, VariantMode] = {"cut": "search", "step": "each+best", None: "best"}


def variant_mode(base: str, config: ReportConfig) -> VariantMode:
    """The report's setting for the strategy, else the default for its kind of variant (its class says which)."""
    if base in config.variants:
        return config.variants[base]
    return DEFAULT_MODES[STRATEGIES.get(base).variant_kind if base in STRATEGIES else None]


def candidates_of(group: pd.DataFrame) -> list[Candidate]:
    return [
        Candidate(variant, sweep, cells)
        for (variant, sweep), cells in group.groupby(["variant", "sweep"], sort=False)
    ]


def choose(cands: list[Candidate], metric: str) -> tuple[Candidate | None, float]:
    """The best candidate on validation (complete and undiverged ones first; ties → matrix order), with its score.
    A diverged candidate (an LR far too high) is chosen only when every candidate diverged."""
    scored = [(c, c.val(metric)) for c in cands]
    eligible = [(c, s.mean) for c, s in scored if s.defined]
    sane = [(c, v) for c, v in eligible if not c.diverged] or eligible
    pool = [(c, v) for c, v in sane if c.complete] or sane
    if not pool:
        return None, math.nan
    sign = 1.0 if higher_is_better(metric) else -1.0
    return max(pool, key=lambda cv: sign * cv[1])


@dataclass
class Unit:
    """A set of candidates that becomes one row."""

    label: str
    cands: list[Candidate]
    show_variant: bool
    order_bump: float = 0.0


def _units(base: str, cands: list[Candidate], mode: VariantMode, metric: str) -> list[Unit]:
    name = strategy_label(base)
    if mode == "each":
        by_variant: dict[str, list[Candidate]] = {}
        for c in cands:
            by_variant.setdefault(c.variant, []).append(c)
        return [Unit(f"{name} {variant_text(v)}" if v else name, cs, False) for v, cs in by_variant.items()]
    if mode == "best":
        return [Unit(name, cands, True)]
    if mode == "each+best":
        each = _units(base, cands, "each", metric)
        if len(each) < 2:
            return each
        orders = [float(c.cells["order"].min()) for c in cands]
        return [*each, Unit(f"{name} (val)", cands, True, max(orders) - min(orders) + 0.5)]
    blocks = [c for c in cands if block_of(c.variant) is not None]
    layers = [c for c in cands if layer_of(c.variant) is not None]
    others = [c for c in cands if c not in blocks and c not in layers]
    units = _units(base, others, "each", metric) if others else []
    if blocks:
        units.append(Unit(f"{name}-1", blocks, True))
    if layers:
        best_block, _ = choose(blocks, metric)
        b = block_of(best_block.variant) if best_block else None
        near = [c for c in layers if b is None or layer_of(c.variant)[0] in (b, b + 1)]
        units.append(Unit(f"{name}-2", ([best_block] if best_block else []) + near, True, 0.5))
    return units


def _row(key: tuple, unit: Unit, metric: str, split: str) -> Row:
    dataset, source, architecture, base = key
    chosen, score = choose(unit.cands, metric)
    pick = chosen or unit.cands[0]
    parts = []
    if unit.show_variant and pick.variant:
        parts.append(variant_text(pick.variant))
    if len({c.sweep for c in unit.cands}) > 1:
        parts.append(pick.sweep)
    order = min(float(c.cells["order"].min()) for c in unit.cands) + unit.order_bump
    return Row(
        dataset=dataset,
        source=source,
        architecture=architecture,
        base=base,
        label=unit.label,
        choice=", ".join(parts) if chosen else "",
        order=order,
        cells=pick.cells,
        candidates=len(unit.cands),
        open_candidates=sum(not c.complete for c in unit.cands),
        finished_candidates=sum(bool((c.cells["status"] == "ok").any()) for c in unit.cands),
        select_metric=metric,
        select_value=score,
        selected=chosen is not None,
        split=split,
    )


def select(frame: pd.DataFrame, config: ReportConfig) -> list[Row]:
    """Every table row of the matrix, in matrix order; see the module docstring for the rules."""
    rows: list[Row] = []
    if frame.empty:
        return rows
    keys = ["dataset", "source", "architecture", "base"]
    if "params" not in frame:  # result frames written before strategy parameters were a key
        frame = frame.assign(params="{}")
    for key, group in _by_params(frame.groupby(keys, sort=False)):
        metric = config.select_on or dataset_metrics(frame, key[0], config)[0]
        split = report_split(frame, key[0])
        mode = variant_mode(key[3], config)
        cands = candidates_of(group)
        if config.sweeps == "each":
            units = []
            for sweep in dict.fromkeys(c.sweep for c in cands):
                for unit in _units(key[3], [c for c in cands if c.sweep == sweep], mode, metric):
                    unit.label = f"{unit.label} ({sweep})" if sweep else unit.label
                    units.append(unit)
        else:
            units = _units(key[3], cands, mode, metric)
        for unit in units:
            unit.label = f"{unit.label} [{key[4]}]" if key[4] else unit.label
        rows += [_row(key[:4], unit, metric, split) for unit in units]
    return sorted(rows, key=lambda r: r.order)


def _by_params(groups) -> list[tuple[tuple, pd.DataFrame]]:
    """Split each (dataset, source, architecture, strategy) group by the strategy's parameters when its cells do not
    all share them, and name each part by the parameters that differ (`pool=False`); '' when nothing differs."""
    out = []
    for key, group in groups:
        sets = {p: json.loads(p) for p in dict.fromkeys(group["params"])}
        if len(sets) == 1:
            out.append(((*key, ""), group))
            continue
        names = sorted({k for params in sets.values() for k in params})
        differ = [k for k in names if len({format_value(p.get(k)) for p in sets.values()}) > 1]
        for raw, params in sets.items():
            label = ", ".join(f"{k}={format_value(params[k])}" for k in differ if k in params)
            out.append(((*key, label), group[group["params"] == raw]))
    return out


def ordered(rows: Sequence[Row], key: Callable[[Row], object]) -> list:
    """Distinct values of key(row), by the first row (matrix order) that has each."""
    firsts: dict[object, float] = {}
    for row in rows:
        k = key(row)
        firsts[k] = min(firsts.get(k, math.inf), row.order)
    return sorted(firsts, key=lambda k: firsts[k])
