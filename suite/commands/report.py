"""`medtl-bench report MATRIX`: the leaderboard of a results folder, optionally against an older one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from suite.commands import load_checked
from suite.report.leaderboard import write_report
from suite.results import RunPaths


def report_command(args: argparse.Namespace) -> int:
    matrix = load_checked(args.matrix)
    cfg = matrix.spec.report.compare
    cfg = cfg.model_copy(
        update={k: v for k, v in (("k", args.k), ("latency_pct", args.latency_pct)) if v is not None}
    )
    compare = Path(args.compare) if args.compare else None
    outcome = write_report(matrix, RunPaths(Path(args.results) / matrix.name), compare, cfg)
    print(f"medtl-bench: wrote {outcome.path} ({len(outcome.plots)} plots)")
    if outcome.flagged:
        print(f"medtl-bench: {outcome.flagged} regression(s) flagged against {compare}:", file=sys.stderr)
        print(outcome.summary, file=sys.stderr)
        return 1
    return 0
