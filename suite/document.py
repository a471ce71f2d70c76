"""The leaderboard as a document: headings, paragraphs, bullet lists, tables and figures, and its markdown.

Why a document model rather than lines of markdown: one table's data renders to three files (LEADERBOARD.md here,
LEADERBOARD.html and tables.tex in suite/report/html.py and latex.py), so the three cannot disagree. Text inside
a block is markdown inline (`code`, **bold**, [link](path)); the HTML and LaTeX renderers parse it with
markdown-it-py. A table cell carries its emphasis as flags, not as markup, because markdown cannot underline:
"best overall" is bold + ★ in markdown and bold underlined in HTML and LaTeX.

It lives in the bottom layer (tabulate only) because both suite/report and suite/stats build documents.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tabulate import tabulate

BEST_MARK = "★"
"""Markdown's mark of a cell that is the best of its whole table (HTML and LaTeX underline it instead)."""


@dataclass(frozen=True)
class Cell:
    """One table cell: markdown inline text, its emphasis, and the footnote flags after it (‼ † ‡ §)."""

    text: str
    bold: bool = False
    best: bool = False
    """The best over the whole table (Davila's underline): bold plus ★ in markdown, bold underlined elsewhere."""
    mark: str = ""

    def markdown(self) -> str:
        if self.best:
            return f"**{self.text}**{BEST_MARK}{self.mark}"
        return (f"**{self.text}**" if self.bold else self.text) + self.mark


def as_cell(value: Cell | str) -> Cell:
    return value if isinstance(value, Cell) else Cell(value)


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Legend:
    """What bold and best-overall mean in one table; each format writes the marks its own way."""

    bold: str
    best: str


@dataclass(frozen=True)
class Table:
    """A table with its caption above (a paragraph in markdown, `\\caption` in LaTeX) and its notes below."""

    header: tuple[str, ...]
    rows: tuple[tuple[Cell | str, ...], ...]
    caption: str = ""
    notes: tuple[str, ...] = ()
    legend: Legend | None = None

    def markdown_caption(self) -> str:
        if self.legend is None:
            return self.caption
        legend = f"**Bold**: {self.legend.bold}; **bold**{BEST_MARK}: {self.legend.best}."
        return f"{self.caption} {legend}".strip()


@dataclass(frozen=True)
class Figure:
    """An image in the results folder, `src` relative to it (`plots/roc-x.png`); `markdown=False` shows it only
    where it can be inlined (the HTML page), when the markdown links to it in words instead."""

    src: str
    alt: str
    markdown: bool = True


Block = Heading | Para | Bullets | Table | Figure


def table(
    header: Sequence[str],
    rows: Iterable[Sequence[Cell | str]],
    caption: str = "",
    notes: Iterable[str] = (),
    legend: Legend | None = None,
) -> Table:
    """A Table from lists (the tables build rows as lists)."""
    return Table(tuple(header), tuple(tuple(r) for r in rows), caption, tuple(notes), legend)


def markdown_table(t: Table) -> str:
    """A GitHub markdown table; cells are strings already (no number parsing, so nothing is reformatted)."""
    body = [[as_cell(c).markdown() for c in row] for row in t.rows]
    return tabulate(body, headers=list(t.header), tablefmt="github", disable_numparse=True)


def markdown_lines(block: Block) -> list[str]:
    """One block's markdown lines, each block followed by one blank line."""
    if isinstance(block, Heading):
        return ["#" * block.level + " " + block.text, ""]
    if isinstance(block, Para):
        return [block.text, ""]
    if isinstance(block, Bullets):
        return [*(f"- {item}" for item in block.items), ""] if block.items else []
    if isinstance(block, Figure):
        return [f"![{block.alt}]({block.src})", ""] if block.markdown else []
    caption = block.markdown_caption()
    lines = [caption, ""] if caption else []
    lines += [markdown_table(block), ""]
    return lines + ([*(f"- {n}" for n in block.notes), ""] if block.notes else [])


def to_markdown(blocks: Iterable[Block]) -> str:
    """The document's markdown text, ending in one newline."""
    lines = [line for block in blocks for line in markdown_lines(block)]
    return "\n".join(lines).rstrip("\n") + "\n"


@dataclass
class Refs:
    """Numbered notes for long texts a table repeats (`[1]` in the cell, the text once below the table), so a
    table's lines stay short enough to read as plain text."""

    texts: dict[str, int] = field(default_factory=dict)

    def ref(self, text: str) -> str:
        number = self.texts.setdefault(text, len(self.texts) + 1)
        return f"[{number}]"

    def notes(self) -> list[str]:
        return [f"[{n}] {text}" for text, n in self.texts.items()]
