"""The leaderboard's tables, registered by name: adding a table is one module with one decorated function.

    @table("davila", scope="dataset", order=10)
    def davila_section(ctx: ReportContext) -> list[Block]: ...

A table returns document blocks (suite/document.py: headings, paragraphs, tables, figures), from which the report
writes LEADERBOARD.md, LEADERBOARD.html and tables.tex, so the three show the same data.

`scope="dataset"` tables appear in every dataset's section, `"matrix"` tables after all of them. A matrix's
`report: tables:` chooses which appear and in what order (within each scope); by default every registered table
does, by `order`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from suite.document import Block
from suite.registry import Registry
from suite.report.context import ReportContext

Scope = Literal["dataset", "matrix"]
Render = Callable[[ReportContext], list[Block]]


@dataclass(frozen=True)
class Table:
    name: str
    scope: Scope
    order: int
    """Its place among the tables of its scope when a matrix does not choose (`report: tables:` unset)."""
    render: Render


TABLES: Registry[Table] = Registry("report table")


def table(name: str, scope: Scope, order: int) -> Callable[[Render], Render]:
    """Register `render` as the table `name`."""

    def decorator(render: Render) -> Render:
        TABLES.add(name, Table(name, scope, order, render))
        return render

    return decorator


def chosen(names: list[str] | None, scope: Scope) -> list[Table]:
    """The tables of `scope` a report shows: `names` in their order, or every registered one."""
    if names is None:
        return sorted((t for _, t in TABLES.items() if t.scope == scope), key=lambda t: t.order)
    return [t for t in map(TABLES.get, names) if t.scope == scope]
