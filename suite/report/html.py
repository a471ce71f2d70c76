"""LEADERBOARD.html: the leaderboard's document as one self-contained page, tables sortable, figures inline.

Self-contained: the CSS and the sorting script are inline, every figure is embedded as a base64 PNG, nothing is
fetched, so the page works offline and can be mailed as one file. Deterministic: tables get fixed ids (`T_t<n>`),
headings ids from their text, no date; the same document gives the same bytes.

Libraries: pandas' `Styler.to_html` writes each table (emphasis as CSS classes, `best` underlined), markdown-it-py
renders the markdown inline text of paragraphs, captions and cells (escaping what it must), jinja2 fills the page.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from pathlib import Path

import jinja2
import pandas as pd
from markdown_it import MarkdownIt
from markupsafe import Markup, escape
from pandas.io.formats.style import Styler

from suite.document import Block, Bullets, Cell, Figure, Heading, Para, Table, as_cell
from suite.errors import UserError

INLINE = MarkdownIt("commonmark", {"html": False})

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5rem auto; max-width: 1400px; padding: 0 1rem; color: #1b1b1b; }
h1, h2, h3, h4 { line-height: 1.2; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: .2rem; margin-top: 2.2rem; }
code { background: #f2f2f2; padding: 0 .2em; border-radius: 3px; }
.table-wrap { overflow-x: auto; margin: .8rem 0 1.2rem; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
caption { caption-side: top; text-align: left; padding: .3rem 0; color: #333; max-width: 100ch; }
th, td { border-bottom: 1px solid #ddd; padding: .25rem .6rem; text-align: left; white-space: nowrap; }
thead th { border-bottom: 2px solid #444; background: #fafafa; cursor: pointer; position: sticky; top: 0; }
thead th[aria-sort="ascending"]::after { content: " \\25B2"; }
thead th[aria-sort="descending"]::after { content: " \\25BC"; }
td.bold { font-weight: 700; }
td.best { font-weight: 700; text-decoration: underline; }
ul.notes { font-size: 12px; color: #444; margin-top: .3rem; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 12px; color: #555; }
"""

# Sorting by a click on a column header; numbers (the leading number of "84.00 (0.58)", "+3.35", "1/2") sort
# numerically, other text alphabetically, empty and "—" cells last; ties keep the table's order.
SCRIPT = """
(function () {
  function key(cell) {
    var text = cell.textContent.trim().replace(/\\u2212/g, "-");
    var m = text.match(/^[+-]?\\d+(\\.\\d+)?(e[+-]?\\d+)?/i);
    return m ? parseFloat(m[0]) : (text === "" || text === "\\u2014" || text === "n/a" ? null : text);
  }
  function compare(a, b) {
    if (a === null || b === null) { return a === b ? 0 : (a === null ? 1 : -1); }
    if (typeof a !== typeof b) { return typeof a === "number" ? -1 : 1; }
    return typeof a === "number" ? a - b : a.localeCompare(b);
  }
  function sortBy(table, col, th) {
    var body = table.tBodies[0], asc = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(th.parentNode.cells, function (c) { c.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    Array.prototype.map.call(body.rows, function (row, i) { return [key(row.cells[col]), i, row]; })
      .sort(function (x, y) {
        var c = compare(x[0], y[0]);
        if (x[0] !== null && y[0] !== null && !asc) { c = -c; }
        return c || x[1] - y[1];
      })
      .forEach(function (entry) { body.appendChild(entry[2]); });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var head = table.tHead.rows[table.tHead.rows.length - 1];
    Array.prototype.forEach.call(head.cells, function (th, col) {
      th.tabIndex = 0;
      th.title = "Sort by this column";
      th.addEventListener("click", function () { sortBy(table, col, th); });
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sortBy(table, col, th); } });
    });
  });
})();
"""

PAGE = jinja2.Environment(autoescape=True).from_string(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>{{ style }}</style>
</head>
<body>
{{ body }}
<script>{{ script }}</script>
</body>
</html>
"""
)


def inline(text: str) -> Markup:
    """Markdown inline text (`code`, **bold**, links) as HTML; everything else escaped."""
    return Markup(INLINE.renderInline(text))


def _cell_html(cell: Cell) -> str:
    return str(inline(cell.text)) + str(escape(cell.mark))


def table_html(t: Table, number: int) -> str:
    """One table through pandas' Styler: cells as HTML, emphasis as the classes `bold` and `best` (CSS above)."""
    cells = [[as_cell(c) for c in row] for row in t.rows]
    frame = pd.DataFrame([[_cell_html(c) for c in row] for row in cells], columns=range(len(t.header)))
    classes = pd.DataFrame(
        [["best" if c.best else "bold" if c.bold else "" for c in row] for row in cells],
        columns=range(len(t.header)),
    )
    styler = Styler(frame, uuid=f"t{number}", cell_ids=False).hide(axis="index")
    styler = styler.format_index(lambda i: str(inline(t.header[i])), axis=1)
    if not frame.empty:
        styler = styler.set_td_classes(classes)
    caption = str(inline(t.caption)) + (_legend(t) if t.legend else "")
    html = styler.to_html(table_attributes='class="sortable"', caption=caption or None)
    # Styler writes an (empty) <style> element before every table; the page's own CSS styles the classes.
    html = re.sub(r'^<style type="text/css">\s*</style>\s*', "", html)
    notes = "".join(f"<li>{inline(n)}</li>" for n in t.notes)
    return f'<div class="table-wrap">{html}</div>' + (f'<ul class="notes">{notes}</ul>' if notes else "")


def _legend(t: Table) -> str:
    legend = t.legend
    return (
        f" <b>Bold</b>: {escape(legend.bold)}; <b><u>bold underlined</u></b>: {escape(legend.best)}."
        if legend
        else ""
    )


def _image(src: str, root: Path, figures: Mapping[Path, bytes]) -> bytes:
    path = root / src
    if path in figures:
        return figures[path]
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UserError(
            f"{path}: the figure the leaderboard shows cannot be read ({exc.strerror or exc})"
        ) from None


def _slug(text: str, seen: dict[str, int]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
    seen[base] = seen.get(base, 0) + 1
    return base if seen[base] == 1 else f"{base}-{seen[base]}"


def block_html(block: Block, number: int, root: Path, figures: Mapping[Path, bytes], seen: dict) -> str:
    """One block as HTML; `number` is the table's place in the page (its fixed id), `seen` the heading ids so far."""
    if isinstance(block, Heading):
        return f'<h{block.level} id="{_slug(block.text, seen)}">{inline(block.text)}</h{block.level}>'
    if isinstance(block, Para):
        return f"<p>{inline(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{inline(item)}</li>" for item in block.items) + "</ul>"
    if isinstance(block, Figure):
        data = base64.b64encode(_image(block.src, root, figures)).decode()
        alt = escape(block.alt)
        return (
            f'<figure><img alt="{alt}" src="data:image/png;base64,{data}">'
            f"<figcaption>{alt} (<code>{escape(block.src)}</code>)</figcaption></figure>"
        )
    return table_html(block, number)


def html_page(blocks: list[Block], title: str, root: Path, figures: Mapping[Path, bytes]) -> str:
    """The page: `figures` holds the rendered figures by path (not yet on disk); others are read from `root`."""
    seen: dict[str, int] = {}
    parts, tables = [], 0
    for block in blocks:
        tables += isinstance(block, Table)
        parts.append(block_html(block, tables, root, figures, seen))
    body = Markup("\n".join(parts))
    return PAGE.render(title=title, style=Markup(STYLE), script=Markup(SCRIPT), body=body)
