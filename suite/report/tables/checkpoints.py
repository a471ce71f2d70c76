"""Where the kept weights of a multi-phase strategy come from: its best epoch and its training phase.

G-LF, G-FL and LP-FT train in phases (head only, then more blocks); by default (`train.checkpoint: final-phase`)
the kept state is the best of the final phase, so a row never reports a mostly frozen early phase. This table
shows it: the mean best epoch, and in how many seeds the kept state came from the final phase. It appears only when
some row of the dataset trains in more than one phase.
"""

from __future__ import annotations

from suite.document import Block, Heading
from suite.document import table as make_table
from suite.report.context import ReportContext
from suite.report.select import Row, ordered
from suite.report.tables.format import EMPTY, layout
from suite.report.tables.registry import table


@table("checkpoints", scope="dataset", order=15)
def checkpoints_section(ctx: ReportContext) -> list[Block]:
    rows = [r for r in ctx.rows if r.n_ok and "phases" in r.ok and (r.ok["phases"] > 1).any()]
    if not rows:
        return []
    lay = layout(rows)
    archs = ordered(rows, lambda r: r.architecture)
    grid = {(*lay.line(r), r.architecture): r for r in rows}
    body = []
    for line in ordered(rows, lay.line):
        cells = lay.line_cells(line)
        cells += [_checkpoint(grid[(*line, a)]) if (*line, a) in grid else "" for a in archs]
        body.append(cells)
    caption = (
        "The best epoch (mean over seeds, of the epochs run) and the training phase the kept weights come from; "
        "`train.checkpoint: final-phase` (the default) keeps the best state of the final phase."
    )
    return [
        Heading(3, "Checkpoints of multi-phase strategies"),
        make_table(lay.head() + [lay.arch(a) for a in archs], body, caption),
    ]


def _checkpoint(row: Row) -> str:
    ok = row.ok
    if ok.empty:
        return EMPTY
    final = int((ok["best_phase"] == ok["phases"]).sum())
    phases = int(ok["phases"].max())
    return (
        f"epoch {ok['best_epoch'].mean():.1f} of {ok['epochs_run'].mean():.1f}; "
        f"final phase ({phases} of {phases}) in {final}/{len(ok)} seeds"
    )
