"""Choose which cells run: `--only key=value` filters and deterministic `--shard i/n` splits."""

from __future__ import annotations

import fnmatch

from suite.errors import UserError
from suite.matrix.cell import Cell

FILTER_KEYS = ("dataset", "architecture", "source", "strategy", "seed", "id")
ALIASES = {"arch": "architecture", "ds": "dataset"}
MAX_SHOWN = 20


def parse_filters(items: list[str]) -> list[tuple[str, list[str]]]:
    """`strategy=ft,lp` → ("strategy", ["ft", "lp"]); values may be shell globs (`strategy=swft@*`)."""
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        key = ALIASES.get(key.strip(), key.strip())
        if not sep or not value:
            raise UserError(f"--only {item!r}: write key=value, e.g. strategy=ft")
        if key not in FILTER_KEYS and not key.startswith("sweep."):
            raise UserError(f"--only {item!r}: unknown key {key!r}; valid: {', '.join(FILTER_KEYS)}")
        out.append((key.removeprefix("sweep."), value.split(",")))
    return out


def matches(cell: Cell, filters: list[tuple[str, list[str]]]) -> bool:
    """Whether the cell matches every filter: globs, and a strategy filter `ttl` also matches `ttl@block3`."""
    key = cell.key
    for name, patterns in filters:
        value = str(key.get(name, ""))
        base = value.split("@")[0] if name == "strategy" else value
        if not any(fnmatch.fnmatchcase(value, p) or fnmatch.fnmatchcase(base, p) for p in patterns):
            return False
    return True


def apply_filters(cells: list[Cell], filters: list[tuple[str, list[str]]]) -> list[Cell]:
    """Cells matching every filter, plus the parents they need (a two-step child cannot run alone).

    Filters that match nothing are a mistake (a typo in `--only strategy=fy` would otherwise run nothing and exit
    0), reported in one line with the values the matrix has."""
    chosen = [c for c in cells if matches(c, filters)]
    if filters and not chosen:
        raise UserError(_no_match(cells, filters))
    return with_parents(chosen, cells)


def _no_match(cells: list[Cell], filters: list[tuple[str, list[str]]]) -> str:
    """Name the first filter that alone matches no cell, with the values its key takes; else say the combination
    is empty."""
    for name, patterns in filters:
        if not any(matches(c, [(name, patterns)]) for c in cells):
            values = sorted({str(c.key.get(name, "")) for c in cells} - {""})
            shown = ", ".join(values[:MAX_SHOWN]) + (
                f", ... ({len(values)} in all)" if len(values) > MAX_SHOWN else ""
            )
            return f"--only {name}={','.join(patterns)} matches no cell; {name} values in this matrix: {shown or 'none'}"
    given = " ".join(f"{name}={','.join(patterns)}" for name, patterns in filters)
    return f"--only {given}: each filter matches some cells, but no cell matches all of them"


def with_parents(chosen: list[Cell], universe: list[Cell]) -> list[Cell]:
    by_id = {c.id: c for c in universe}
    wanted = {c.id for c in chosen}
    stack = [p for c in chosen for p in c.parents]
    while stack:
        pid = stack.pop()
        if pid not in wanted:
            wanted.add(pid)
            stack.extend(by_id[pid].parents)
    return [c for c in universe if c.id in wanted]


def parse_shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise UserError(f"--shard {text!r}: write i/n with 1 <= i <= n, e.g. 2/4") from None
    if not 1 <= i <= n:
        raise UserError(f"--shard {text!r}: write i/n with 1 <= i <= n, e.g. 2/4")
    return i, n


def shard(cells: list[Cell], i: int, n: int) -> list[Cell]:
    """Shard i of n: families (a root cell and every cell trained from it) dealt round-robin in id order.

    A two-step chain stays on one shard, every cell lands on exactly one shard, and the same matrix gives the same
    shards on every machine, so shards' result folders merge without conflict.
    """
    families = sorted({c.family for c in cells})
    mine = {f for k, f in enumerate(families) if k % n == i - 1}
    return [c for c in cells if c.family in mine]
