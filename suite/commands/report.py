"""`medtl-bench report MATRIX`: the leaderboard of a results folder, optionally against an older one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from suite.commands import load_checked
from suite.errors import UserError
from suite.report.leaderboard import resolve_old, write_report
from suite.results import RunPaths


def report_command(args: argparse.Namespace) -> int:
    """Exit 0, or 1 when `--compare` flags a regression (a change for the worse; improvements never fail); a results folder without results is a `UserError`
    (exit 2) and nothing is written (an empty leaderboard would look like a report of nothing having run)."""
    matrix = load_checked(args.matrix, args.max_cells)
    cfg = matrix.spec.report.compare
    cfg = cfg.model_copy(
        update={k: v for k, v in (("k", args.k), ("latency_pct", args.latency_pct)) if v is not None}
    )
    compare = Path(args.compare) if args.compare else None
    paths = RunPaths.for_matrix(args.results, matrix.name)
    if not paths.runs.is_dir():
        raise UserError(
            f"no results for matrix {matrix.name!r}: {paths.runs} does not exist;"
            f" run `medtl-bench run {args.matrix}` first, or give --results"
        )
    if compare is not None:
        resolve_old(compare, matrix.name)  # before anything is written: a bad --compare writes nothing
    outcome = write_report(matrix, paths, compare, cfg)
    print(f"medtl-bench: wrote {outcome.path} ({len(outcome.plots)} plots)")
    if outcome.unreadable:
        print(
            f"medtl-bench: warning: {outcome.unreadable} result file(s) could not be read; their cells count as "
            f"missing (listed in {outcome.path.name}); `medtl-bench run {matrix.name}` computes them again",
            file=sys.stderr,
        )
    if outcome.improved:
        print(
            f"medtl-bench: {outcome.improved} improvement(s) against {compare} (listed in {outcome.path.name})"
        )
    if outcome.flagged:
        print(f"medtl-bench: {outcome.flagged} regression(s) flagged against {compare}:", file=sys.stderr)
        print(outcome.summary, file=sys.stderr)
        return 1
    return 0
