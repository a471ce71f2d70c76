"""`medtl-bench run MATRIX`: run the cells that have no result yet, then write the leaderboard."""

from __future__ import annotations

import argparse
import sys

from tabulate import tabulate

from suite.commands import load_checked
from suite.commands.plan import summary as plan_summary
from suite.data.lock import load_lock
from suite.environment import driver_environment
from suite.matrix import Cell, LoadedMatrix
from suite.matrix.select import apply_filters, parse_filters, parse_shard, shard
from suite.results import RunPaths, status_of
from suite.runner.executors import make_launcher
from suite.runner.schedule import Scheduler, Summary

SHOWN = 40
"""Cells a dry-run lists by default (`--list`: all of them)."""


def print_cells(matrix: LoadedMatrix, cells: list[Cell], paths: RunPaths, every: bool = False) -> None:
    rows = [
        [
            c.id,
            c.key["dataset"],
            c.key["architecture"],
            c.key["source"],
            c.key["strategy"],
            c.key["seed"],
            ",".join(f"{k}={v}" for k, v in c.config.sweep_point.items()),
            status_of(paths, c),
        ]
        for c in (cells if every or len(cells) <= SHOWN else cells[:SHOWN])
    ]
    headers = ["id", "dataset", "architecture", "source", "strategy", "seed", "sweep", "result"]
    print(tabulate(rows, headers=headers))
    if len(rows) < len(cells):
        print(f"... and {len(cells) - len(rows):,} more cells (--list shows every cell)")
    print(f"\n{len(cells):,} cells in matrix {matrix.name!r} ({matrix.path})")


def run_command(args: argparse.Namespace) -> int:
    """Exit 0 when every cell has a result, 1 when some cell failed (now or kept from before), 130 when
    interrupted; user mistakes raise `UserError` (exit 2) before anything is written."""
    matrix = load_checked(args.matrix, args.max_cells)
    cells = apply_filters(matrix.cells, parse_filters(args.only))
    if args.shard:
        i, n = parse_shard(args.shard)
        cells = shard(cells, i, n)
        if not cells:
            print(f"medtl-bench: shard {i}/{n} holds no cells of matrix {matrix.name!r}", file=sys.stderr)
    paths = RunPaths.for_matrix(args.results, matrix.name)
    paths.check_cells(cells)
    if args.dry_run:
        print_cells(matrix, cells, paths, getattr(args, "list", False))
        print("\n".join(plan_summary(cells, paths, matrix.name, getattr(args, "throughput", None))))
        return 0
    env = driver_environment(load_lock()[1])
    launcher, jobs, executor_env = make_launcher(args, matrix, paths, cells)
    scheduler = Scheduler(
        paths,
        launcher,
        matrix.name,
        {**env, **executor_env},
        jobs=jobs,
        allow_unverified=getattr(args, "allow_unverified", False),
    )
    summary = scheduler.run(cells, retry_failed=not args.no_retry_failed, recompute=args.recompute)
    print_summary(cells, summary)
    if summary.interrupted:
        print(
            "medtl-bench: interrupted; finished cells are kept, run the same command to resume",
            file=sys.stderr,
        )
        return 130
    if not args.no_report:
        from suite.report.leaderboard import write_report  # pandas and matplotlib: not for a dry-run

        print(f"medtl-bench: wrote {write_report(matrix, paths).path}", file=sys.stderr)
    return 0 if summary.ok else 1


def print_summary(cells: list[Cell], summary: Summary) -> None:
    """One summary line on stderr, then one line per failed cell: those that failed now and those kept from an
    earlier run (`--no-retry-failed`), which are neither done nor rerun and make the run exit 1."""
    kept = (
        f" {len(summary.kept_failed)} failed before, kept (--no-retry-failed)," if summary.kept_failed else ""
    )
    print(
        f"medtl-bench: {len(cells)} cells: {len(summary.trained)} trained, {len(summary.done_before)} already done,"
        f" {len(summary.failed)} failed,{kept} {len(summary.done_elsewhere)} finished by another process"
        f" ({summary.seconds:.0f} s)",
        file=sys.stderr,
    )
    for cell, reason in summary.failed:
        print(f"  FAILED {cell.slug}: {reason}", file=sys.stderr)
    for cell, reason in summary.kept_failed:
        print(f"  FAILED before, kept {cell.slug}: {reason}", file=sys.stderr)
