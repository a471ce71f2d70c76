"""Exact, reproducible train/val/test splits: stratified, grouped by patient, or both.

scikit-learn's splitters cannot express "per stratum, train = floor(0.7 × n), the rest to val" with groups kept
whole (StratifiedGroupKFold works in folds, not ratios, and its rounding is implicit), and the papers' counts depend
on exactly that rule (REFERENCE.md: Kaggle DR 7:3 → 24,587 / 10,539). So the rule is written out here.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from suite.data.lock import SPLITS, SplitRecipe
from suite.errors import UserError

_ROUND = {"floor": math.floor, "ceil": math.ceil, "round": lambda x: math.floor(x + 0.5)}


def _targets(n: int, ratios: list[float], rounding: str) -> list[int]:
    """Images per split within one stratum; the last split takes the remainder."""
    rule = _ROUND[rounding]
    head = [min(n, rule(r * n + 1e-9)) for r in ratios[:-1]]
    head_total = 0
    out = []
    for t in head:
        t = min(t, n - head_total)
        out.append(t)
        head_total += t
    return [*out, n - head_total]


def assign_splits(index: pd.DataFrame, recipe: SplitRecipe) -> pd.Series:
    """A split name for every row of `index`, deterministic from the recipe's seed: the shipped column or the
    ratios, then `rename`, then `carve`."""
    for col in (recipe.column, recipe.stratify, recipe.group):
        if col is not None and col not in index:
            raise UserError(f"split column {col!r} is not in the index; columns: {list(index.columns)}")
    if recipe.column is not None:
        splits = index[recipe.column].astype(str).rename("split")
        unknown = sorted(set(splits) - set(SPLITS))
        if unknown:
            raise UserError(f"split column {recipe.column!r} holds {unknown}; use train, val and test")
    else:
        names = [n for n, r in recipe.ratios.items() if r > 0]
        splits = _by_ratios(index, names, [recipe.ratios[n] for n in names], recipe)
    splits = splits.map(lambda s: recipe.rename.get(s, s)).rename("split")
    if recipe.carve is not None:
        c = recipe.carve
        rows = (splits == c.from_).to_numpy()
        if rows.any():
            carved = _by_ratios(index[rows], [c.from_, c.into], [1.0 - c.ratio, c.ratio], recipe)
            splits = splits.copy()
            splits[rows] = carved.to_numpy()
    return splits


def _by_ratios(index: pd.DataFrame, names: list[str], ratios: list[float], recipe: SplitRecipe) -> pd.Series:
    """Per stratum, each unit (a patient, or an image) to the split furthest below its target; groups stay whole."""
    unit = index[recipe.group] if recipe.group else pd.Series(np.arange(len(index)), index=index.index)
    sizes = unit.value_counts(sort=False)
    if recipe.stratify and not recipe.group:
        strata = pd.Series(index[recipe.stratify].to_numpy(), index=unit.to_numpy())
    elif recipe.stratify:
        # A group's stratum is its most common value (ties: the smallest), so groups stay whole.
        strata = pd.crosstab(unit, index[recipe.stratify]).idxmax(axis=1)
    else:
        strata = pd.Series(0, index=sizes.index.sort_values())
    assignment: dict = {}
    for stratum, (_, units) in enumerate(strata.groupby(strata, sort=True)):
        order = units.index.to_numpy()[np.random.default_rng([recipe.seed, stratum]).permutation(len(units))]
        targets = _targets(int(sizes[order].sum()), ratios, recipe.rounding)
        filled = [0] * len(names)
        for u in order:  # each unit goes to the split furthest below its target (ties: the earlier split)
            k_best = max(range(len(names)), key=lambda j: targets[j] - filled[j])
            assignment[u] = names[k_best]
            filled[k_best] += int(sizes[u])
    return unit.map(assignment).rename("split")


def _explode(index: pd.DataFrame, splits: pd.Series, label: str) -> pd.DataFrame:
    """One row per (image, label): multilabel `a|b` counts once under each label; no label → `(none)`."""
    frame = pd.DataFrame({"label": index[label].to_numpy(), "split": splits.to_numpy()})
    if frame["label"].str.contains("|", regex=False).any() or (frame["label"] == "").any():
        frame["label"] = frame["label"].replace("", "(none)").str.split("|")
        frame = frame.explode("label")
    return frame


def split_counts(index: pd.DataFrame, splits: pd.Series, label: str = "label") -> pd.DataFrame:
    """Images per class (rows, plus `images`: each image once) and split (columns, plus `total`)."""
    frame = _explode(index, splits, label)
    table = pd.crosstab(frame["label"], frame["split"])
    order = [s for s in ("train", "val", "test") if s in table.columns]
    table = table[order + [c for c in table.columns if c not in order]]
    table.loc["images"] = splits.value_counts().reindex(table.columns).fillna(0).astype(int)
    table["total"] = table.sum(axis=1)
    return table


def leakage(index: pd.DataFrame, splits: pd.Series, group: str = "patient") -> pd.Series:
    """Groups (patients) with images in more than one split: their splits joined by `,`."""
    if group not in index:
        return pd.Series(dtype=str)
    per_group = (
        pd.DataFrame({"g": index[group].to_numpy(), "s": splits.to_numpy()}).groupby("g")["s"].unique()
    )
    leaked = per_group[per_group.map(len) > 1]
    return leaked.map(lambda xs: ",".join(sorted(xs)))


def check_not_empty(
    index: pd.DataFrame, splits: pd.Series, classes: list[str], task: str, name: str = ""
) -> None:
    """Every split must exist, and (single-label tasks) hold every class; otherwise metrics are meaningless."""
    where = f"{name}: " if name else ""
    for split in ("train", "val"):
        if not (splits == split).any():
            raise UserError(f"{where}split {split!r} is empty; check the split recipe and the dataset size")
    if task == "multilabel":
        return
    for split in sorted(set(splits)):
        present = set(index.loc[(splits == split).to_numpy(), "label"])
        absent = [c for c in classes if c not in present]
        if absent:
            raise UserError(
                f"{where}split {split!r} has no images of class(es) {absent}; stratify on the label, change the "
                f"ratios, or drop the class from the lock entry"
            )
