"""tables.tex: every table of the leaderboard as a booktabs `table` environment, with its caption, label and notes.

The file compiles on its own (`pdflatex tables.tex`: article, booktabs, graphicx, geometry); to use a table in a
paper, copy its `table` environment (and `\\usepackage{booktabs,graphicx}`). Each caption names where the table sits
in the leaderboard (dataset and section) before its own caption; best-overall cells are bold and underlined.

Libraries: pandas' `Styler.to_latex(hrules=True)` writes each tabular with booktabs rules; markdown-it-py parses the
markdown inline text of captions and cells. The walk from markdown-it's inline tokens to LaTeX (bold, code, link
text) and the escaping below are hand-written because no maintained converter is installed (pandoc is not a Python
package; pandas' LaTeX escaper is private); they cover LaTeX's ten special characters and the symbols the report
prints (arrows, Greek letters, †, ‡, §, ±, ★, …), so the file compiles with plain pdflatex. Any other character
outside Latin-1 becomes `?`.
"""

from __future__ import annotations

import re
import unicodedata

import pandas as pd
from markdown_it import MarkdownIt
from pandas.io.formats.style import Styler

from suite.document import Block, Cell, Heading, Table, as_cell

INLINE = MarkdownIt("commonmark", {"html": False})
SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
    "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}  # fmt: skip
SYMBOLS = {
    "↑": r"$\uparrow$", "↓": r"$\downarrow$", "→": r"$\rightarrow$", "Δ": r"$\Delta$", "·": r"$\cdot$",
    "κ": r"$\kappa$", "α": r"$\alpha$", "ρ": r"$\rho$", "†": r"\dag{}", "‡": r"\ddag{}", "§": r"\S{}",
    "‼": "!!", "±": r"$\pm$", "√": r"$\surd$", "≥": r"$\geq$", "≤": r"$\leq$", "–": "--", "—": "---",
    "×": r"$\times$", "…": r"\ldots{}", "★": r"$\star$", "−": "$-$", "≈": r"$\approx$", "²": r"$^2$",
    "⁴": r"$^4$", "▲": r"$\blacktriangle$", "‘": "`", "’": "'", "“": "``", "”": "''",
}  # fmt: skip
SHRINK = r"\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{%"
"""Wraps a tabular so that one wider than the text is scaled down to its width (and a narrower one is left)."""
PREAMBLE = r"""\documentclass{article}
\usepackage[T1]{fontenc}
\usepackage[utf8]{inputenc}
\usepackage{booktabs}
\usepackage{graphicx}
\usepackage[a4paper,landscape,margin=1.5cm]{geometry}
\setlength{\parindent}{0pt}
\begin{document}
"""


def escape(text: str) -> str:
    """Plain text as LaTeX: the special characters escaped, the report's symbols as commands."""
    out = []
    for char in text:
        if char in SPECIAL:
            out.append(SPECIAL[char])
        elif char in SYMBOLS:
            out.append(SYMBOLS[char])
        elif ord(char) < 0x180 or unicodedata.category(char).startswith("Z"):
            out.append(char if ord(char) < 0x180 else " ")
        else:
            out.append("?")
    return "".join(out)


def inline(text: str) -> str:
    """Markdown inline text as LaTeX: **bold** → \\textbf, `code` → \\texttt, a link → its text."""
    out = []
    for token in INLINE.parseInline(text)[0].children or []:
        kind = token.type
        if kind in ("text", "html_inline"):
            out.append(escape(token.content))
        elif kind == "code_inline":
            out.append(r"\texttt{" + escape(token.content) + "}")
        elif kind in ("strong_open", "em_open"):
            out.append(r"\textbf{" if kind == "strong_open" else r"\emph{")
        elif kind in ("strong_close", "em_close"):
            out.append("}")
        elif kind in ("softbreak", "hardbreak"):
            out.append(" ")
        elif kind == "image":
            out.append(escape(token.content))
    return "".join(out)


def _cell(cell: Cell) -> str:
    text = inline(cell.text)
    if cell.best:
        text = r"\underline{\textbf{" + text + "}}"
    elif cell.bold:
        text = r"\textbf{" + text + "}"
    return text + escape(cell.mark)


def tabular(t: Table) -> str:
    """The table's tabular through pandas' Styler, with booktabs' top, mid and bottom rules."""
    frame = pd.DataFrame([[_cell(as_cell(c)) for c in row] for row in t.rows], columns=range(len(t.header)))
    styler = Styler(frame, uuid="t").hide(axis="index")
    styler = styler.format_index(lambda i: inline(t.header[i]), axis=1)
    return styler.to_latex(hrules=True, column_format="l" * len(t.header)).strip()


def table_latex(t: Table, where: str, label: str) -> str:
    """One `table` float: caption (where it is in the leaderboard, then its own caption), label, notes."""
    legend = ""
    if t.legend:
        legend = (
            rf" \textbf{{Bold}}: {escape(t.legend.bold)}; \underline{{\textbf{{bold underlined}}}}: "
            f"{escape(t.legend.best)}."
        )
    caption = f"{inline(where)}. {inline(t.caption)}{legend}".strip()
    body = f"{SHRINK}\n{tabular(t)}\n}}"
    notes = "\\par\n".join(inline(n) for n in t.notes)
    lines = [
        "\\begin{table}[!htbp]",
        "\\centering",
        "\\small",
        f"\\caption{{{caption}}}",
        f"\\label{{{label}}}",
    ]
    lines += [body]
    if notes:
        lines += ["\\par\\smallskip", "\\begin{flushleft}\\footnotesize", notes, "\\end{flushleft}"]
    return "\n".join([*lines, "\\end{table}"])


def latex_tables(blocks: list[Block], title: str) -> str:
    """tables.tex: a heading per leaderboard section that has tables, then its tables; a page break every few
    tables, so LaTeX never holds too many floats."""
    where: dict[int, str] = {}
    out = [
        f"% tables.tex -- {title}: the tables of LEADERBOARD.md from the same data (written by medtl-bench report).",
        "% Compiles on its own with pdflatex; to use a table, copy its table environment and load booktabs, graphicx.",
        PREAMBLE,
        rf"\section*{{{escape(title)}}}",
    ]
    labels: dict[str, int] = {}
    count = 0
    for block in blocks:
        if isinstance(block, Heading):
            where = {k: v for k, v in where.items() if k < block.level} | {block.level: block.text}
            if 2 <= block.level <= 3:
                out.append(("\\clearpage\n" if block.level == 2 and count else "") + _heading(block))
            continue
        if not isinstance(block, Table):
            continue
        context = " / ".join(where[k] for k in sorted(where) if k > 1) or title
        slug = re.sub(r"[^a-z0-9]+", "-", context.lower()).strip("-")
        labels[slug] = labels.get(slug, 0) + 1
        count += 1
        out.append(table_latex(block, context, f"tab:{slug}-{labels[slug]}"))
        out.append("\\clearpage" if count % 8 == 0 else "")
    return "\n".join([*out, "\\end{document}", ""])


def _heading(block: Heading) -> str:
    command = "section" if block.level == 2 else "subsection"
    return f"\\{command}*{{{inline(block.text)}}}"
