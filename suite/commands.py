"""What each CLI verb does, in terms of the modules that own the work."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tabulate import tabulate

from suite.catalog import SuiteCatalog
from suite.matrix import LoadedMatrix, load_matrix
from suite.matrix.select import apply_filters, parse_filters, parse_shard, shard
from suite.runner.state import RunPaths, status_of


def _load(name: str) -> LoadedMatrix:
    return load_matrix(name, SuiteCatalog())


def _print_cells(matrix: LoadedMatrix, cells, paths: RunPaths) -> None:
    rows = [
        [
            c.id,
            c.key["dataset"],
            c.key["architecture"],
            c.key["source"],
            c.key["strategy"],
            c.key["seed"],
            ",".join(f"{k}={v}" for k, v in c.config.get("sweep", {}).items()),
            status_of(paths, c),
        ]
        for c in cells
    ]
    print(
        tabulate(
            rows, headers=["id", "dataset", "architecture", "source", "strategy", "seed", "sweep", "result"]
        )
    )
    print(f"\n{len(cells)} cells in matrix {matrix.name!r} ({matrix.path})")


def run_command(args: argparse.Namespace) -> int:
    matrix = _load(args.matrix)
    cells = apply_filters(matrix.cells, parse_filters(args.only))
    if args.shard:
        cells = shard(cells, *parse_shard(args.shard))
    paths = RunPaths(Path(args.results) / matrix.name)
    if args.dry_run:
        _print_cells(matrix, cells, paths)
        return 0
    from suite.data.lock import load_lock
    from suite.environment import driver_environment
    from suite.runner.executors import make_launcher
    from suite.runner.schedule import Scheduler

    env = driver_environment(load_lock()[1])
    launcher, jobs, executor_env = make_launcher(args, matrix, paths, cells)
    scheduler = Scheduler(paths, launcher, matrix.name, {**env, **executor_env}, jobs=jobs)
    summary = scheduler.run(cells, retry_failed=not args.no_retry_failed)
    print(
        f"medtl-bench: {len(cells)} cells: {len(summary.trained)} trained, {len(summary.done_before)} already done,"
        f" {len(summary.failed)} failed, {len(summary.busy)} busy elsewhere ({summary.seconds:.0f} s)",
        file=sys.stderr,
    )
    for cell, reason in summary.failed:
        print(f"  FAILED {cell.slug}: {reason}", file=sys.stderr)
    if summary.interrupted:
        print(
            "medtl-bench: interrupted; finished cells are kept, run the same command to resume",
            file=sys.stderr,
        )
        return 130
    if not args.no_report:
        from suite.report.leaderboard import write_report

        print(f"medtl-bench: wrote {write_report(matrix, paths)}", file=sys.stderr)
    return 0 if summary.ok else 1


def report_command(args: argparse.Namespace) -> int:
    from suite.report.leaderboard import write_report

    matrix = _load(args.matrix)
    print(f"medtl-bench: wrote {write_report(matrix, RunPaths(Path(args.results) / matrix.name))}")
    return 0


def list_command(what: str | None) -> str:
    parts = []
    if what in (None, "datasets"):
        from suite.data.lock import load_lock

        lock, _ = load_lock()
        rows = [
            [n, e.task, e.modality, len(e.classes), e.counts.total, ", ".join(e.metrics), e.description[:70]]
            for n, e in lock.datasets.items()
        ]
        parts.append(
            tabulate(
                rows, headers=["dataset", "task", "modality", "classes", "images", "metrics", "description"]
            )
        )
    if what in (None, "architectures"):
        from suite.models.catalog import ARCHITECTURES
        from suite.models.weights import preprocessing

        rows = []
        for name, spec in ARCHITECTURES.items():
            mean, std = preprocessing(spec)
            rows.append(
                [
                    name,
                    spec.pretrained_id,
                    spec.input_size,
                    f"{spec.lr:g}",
                    "/".join(f"{x:.3f}" for x in mean),
                    "/".join(f"{x:.3f}" for x in std),
                    spec.summary,
                ]
            )
        parts.append(
            tabulate(
                rows, headers=["architecture", "timm model.tag", "input", "LR", "mean", "std", "description"]
            )
            + "\n(timm:<model>[.<tag>] passes any timm model)"
        )
    if what in (None, "strategies"):
        from suite.strategies import STRATEGIES

        rows = [[n, (cls.__doc__ or "").strip().splitlines()[0]] for n, cls in STRATEGIES.items()]
        parts.append(tabulate(rows, headers=["strategy", "description"]))
    return "\n\n".join(parts)


def fetch_weights(matrix_name: str) -> str:
    """Download every pretrained weight a matrix needs (run on a machine that is online)."""
    from suite.models.catalog import resolve_architecture
    from suite.models.weights import fetch

    matrix = _load(matrix_name)
    wanted = {
        (c.config["architecture"]["name"], c.config["architecture"]["weights"])
        for c in matrix.cells
        if c.config["source"]["name"] != "scratch"
    }
    lines = []
    for name, weights in sorted(wanted, key=str):
        spec = resolve_architecture(name, weights=weights)
        lines.append(f"{spec.pretrained_id}: {fetch(spec)}")
    return "\n".join(lines) or "no pretrained weights needed"
