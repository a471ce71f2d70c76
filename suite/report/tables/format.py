"""Shared table formatting: "mean (SE)" cells, emphasis of the best, footnote flags, units.

Units: every metric that is a proportion (all but the loss) is printed in one unit throughout the report,
`report.scale` (percent by default, as Davila prints them; or fractions), and each table's caption says which.

Flags in cells: ‼ some finished seed diverged (validation loss far above chance level: not a trained model's numbers);
† the row has fewer finished seeds than the matrix asks for (failed or missing cells);
‡ the metric was undefined (NaN) in some finished seeds, so the mean is over the others; § no candidate (variant
or sweep point) had a defined validation value, so nothing was chosen and the row reports n/a. "n/a": undefined in every
finished seed. "—": nothing finished.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from suite.document import Cell
from suite.matrix.report import ReportConfig
from suite.report.naming import source_label
from suite.report.select import Row
from suite.report.stats import Stat

EMPTY = "—"
UNDEFINED = "n/a"


def scaled(metric: str, value: float, percent: bool) -> float:
    """Davila prints metrics in %; loss (not a proportion) is never scaled."""
    return value * 100.0 if percent and metric != "loss" and not math.isnan(value) else value


def decimals_of(config: ReportConfig) -> int:
    """Two decimals in percent (87.08), three as fractions (0.871): the same digits either way."""
    return 2 if config.scale == "percent" else 3


def factor_of(metric: str, config: ReportConfig) -> float:
    return scaled(metric, 1.0, config.scale == "percent")


def unit_text(config: ReportConfig) -> str:
    """The unit of metric values, for captions: `in %` or `as fractions (0–1)`."""
    return "in %" if config.scale == "percent" else "as fractions (0–1)"


def fmt_stat(stat: Stat, decimals: int, factor: float = 1.0, se: bool = True) -> str:
    if stat.total == 0:
        return EMPTY
    if not stat.defined:
        return UNDEFINED
    text = f"{stat.mean * factor:.{decimals}f}"
    if se and not math.isnan(stat.se):
        text += f" ({stat.se * factor:.{decimals}f})"
    return text


def winners(values: dict[tuple, float], higher: bool, decimals: int) -> set[tuple]:
    """Keys whose value, rounded as printed, is the best (ties all win, as in Davila's Table 6)."""
    shown = {k: round(v, decimals) for k, v in values.items() if not math.isnan(v)}
    if not shown:
        return set()
    best = max(shown.values()) if higher else min(shown.values())
    return {k for k, v in shown.items() if v == best}


def emphasise(text: str, bold: bool, best: bool, mark: str = "") -> Cell:
    """A cell in bold (best of its column or group) or best of the whole table, with its footnote flags."""
    return Cell(text, bold=bold or best, best=best, mark=mark)


def row_name(row: Row, with_arch: bool = True) -> str:
    parts = [row.architecture] if with_arch else []
    parts.append(row.full_label)
    return " · ".join(parts) + f" ({source_label(row.source)})"


class Notes:
    """Collects the footnotes that explain † and ‡ flags, in the order cells were flagged."""

    def __init__(self) -> None:
        self.diverged: dict[str, str] = {}
        self.incomplete: dict[str, str] = {}
        self.partial: dict[str, str] = {}
        self.unchosen: dict[str, str] = {}

    def flag(self, row: Row | None, stat: Stat | None = None, what: str = "", incomplete: bool = True) -> str:
        """† when the row is incomplete (unless `incomplete=False`: the row's name cell carries it), ‡ when the
        stat was undefined in some seeds."""
        if row is None:
            return ""
        marks = ""
        if row.n_diverged:
            marks += "‼"
            self.diverged.setdefault(
                row_name(row),
                f"{row.n_diverged} of {row.n_ok} finished seeds diverged (validation loss over 10× the chance "
                "level); those numbers are not a trained model's",
            )
        if incomplete and row.chosen and not row.complete:
            marks += "†"
            self.incomplete.setdefault(
                row_name(row),
                f"{row.n_ok} of {row.expected} seeds finished ({row.n_failed} failed, {row.n_missing} missing)",
            )
        if not row.chosen:
            marks += "§"
            self.unchosen.setdefault(
                row_name(row),
                f"none of {row.candidates} candidates has a defined validation {row.select_metric}, so none was chosen",
            )
        if stat is not None and stat.partial:
            marks += "‡"
            self.partial.setdefault(
                f"{row_name(row)} {what}",
                f"undefined in {stat.total - stat.n} of {stat.total} finished seeds; mean of the other {stat.n}",
            )
        return marks

    def items(self) -> list[str]:
        """The footnotes, one per flagged row (or row and metric), for a table's `notes`."""
        out = [f"‼ {name}: {text}" for name, text in self.diverged.items()]
        out += [f"† {name}: {text}" for name, text in self.incomplete.items()]
        out += [f"‡ {name}: {text}" for name, text in self.partial.items()]
        return out + [f"§ {name}: {text}" for name, text in self.unchosen.items()]


@dataclass(frozen=True)
class Layout:
    """Where the source goes in a strategy × architecture table: a Source column when some architecture ran from
    several sources (Fang's experiments), else into the column header (smoke: one source per architecture), so
    the table stays dense. With a single source it is named in neither."""

    source_in_rows: bool
    arch_source: dict[str, str]  # architecture → its one source, when the source goes into the header

    def line(self, row: Row) -> tuple[str, str]:
        return (row.source if self.source_in_rows else "", row.label)

    def line_cells(self, line: tuple[str, str]) -> list[str]:
        return [source_label(line[0]), line[1]] if self.source_in_rows else [line[1]]

    def head(self) -> list[str]:
        return ["Source", "Strategy"] if self.source_in_rows else ["Strategy"]

    def arch(self, arch: str) -> str:
        source = self.arch_source.get(arch)
        return f"{arch} ({source_label(source)})" if source else arch


def layout(rows: Sequence[Row]) -> Layout:
    sources: dict[str, set[str]] = {}
    for row in rows:
        sources.setdefault(row.architecture, set()).add(row.source)
    in_rows = any(len(s) > 1 for s in sources.values())
    several = len({r.source for r in rows}) > 1
    header = {a: next(iter(s)) for a, s in sources.items()} if several and not in_rows else {}
    return Layout(in_rows, header)
