"""What each CLI verb does, in terms of the modules that own the work."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tabulate import tabulate

from suite.catalog import SuiteCatalog
from suite.errors import UserError
from suite.matrix import LoadedMatrix, load_matrix
from suite.matrix.select import apply_filters, parse_filters, parse_shard, shard
from suite.runner.state import RunPaths, status_of


def _load(name: str) -> LoadedMatrix:
    matrix = load_matrix(name, SuiteCatalog())
    _check_primary_metrics(matrix)
    return matrix


def _check_primary_metrics(matrix: LoadedMatrix) -> None:
    """Every cell's primary metrics (the lock's, or the matrix's override) must exist for its dataset's task."""
    from suite.data.lock import lock_entry
    from suite.metrics import check_task_metrics

    seen = {(c.config["dataset"]["name"], tuple(c.config["dataset"]["metrics"])) for c in matrix.cells}
    for dataset, metrics in sorted(seen):
        try:
            check_task_metrics(lock_entry(dataset).task, list(metrics), dataset)
        except UserError as exc:
            raise UserError(exc.message, where=str(matrix.path)) from None


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
    scheduler = Scheduler(
        paths,
        launcher,
        matrix.name,
        {**env, **executor_env},
        jobs=jobs,
        allow_unverified=getattr(args, "allow_unverified", False),
    )
    summary = scheduler.run(cells, retry_failed=not args.no_retry_failed)
    print(
        f"medtl-bench: {len(cells)} cells: {len(summary.trained)} trained, {len(summary.done_before)} already done,"
        f" {len(summary.failed)} failed, {len(summary.done_elsewhere)} finished by another process"
        f" ({summary.seconds:.0f} s)",
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

        print(f"medtl-bench: wrote {write_report(matrix, paths).path}", file=sys.stderr)
    return 0 if summary.ok else 1


def report_command(args: argparse.Namespace) -> int:
    from suite.report.leaderboard import write_report

    matrix = _load(args.matrix)
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
        parts.append(_architectures_table())
    if what in (None, "strategies"):
        parts.append(_strategies_table())
    return "\n\n".join(parts)


def _architectures_table() -> str:
    """Paper name → timm model.tag, input size, default LR, the weights' mean/std, and the block count."""
    from suite.catalog import block_count
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
                block_count(spec.timm_name),
                spec.summary,
            ]
        )
    headers = ["architecture", "timm model.tag", "input", "LR", "mean", "std", "blocks", "description"]
    return (
        tabulate(rows, headers=headers)
        + "\n(timm:<model>[.<tag>] passes any timm model; blocks: units of gradual unfreezing, suite/models/blocks.py)"
    )


def _strategies_table() -> str:
    """Each strategy's card line and its parameters with their defaults (set them under `params:` in a matrix)."""
    import dataclasses

    from suite.strategies import STRATEGIES

    rows = []
    for name, cls in STRATEGIES.items():
        fields = [f for f in dataclasses.fields(cls) if f.name != "variant"]
        params = ", ".join(f"{f.name}={f.default}" for f in fields)
        rows.append([name, (cls.__doc__ or "").strip().splitlines()[0], params])
    return tabulate(rows, headers=["strategy", "description", "params (defaults)"])


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


def profile_command(args: argparse.Namespace) -> str:
    """`medtl-bench profile ARCH`: one model's cost, as JSON or as a small table."""
    import json

    from suite.profiling.standalone import ProfileRequest, profile_architecture

    if args.iterations < 3 or args.warmup < 0 or min(args.train_batch_size, args.train_steps) < 1:
        raise UserError(
            "profile: --iterations must be ≥ 3, --warmup ≥ 0, --train-batch-size and --train-steps ≥ 1"
        )
    fields = {f: getattr(args, f) for f in ProfileRequest.__dataclass_fields__ if f != "architecture"}
    profile = profile_architecture(ProfileRequest(args.architecture, **fields))
    return json.dumps(profile, indent=1) if args.json else format_profile(profile)


def format_profile(p: dict) -> str:
    """The profile as a two-column table; MACs always name their counter."""
    rows = [
        [
            "model",
            f"{p['architecture']} (timm {p['timm']}), strategy {p['strategy']}, {p['num_classes']} classes",
        ],
        ["params", f"{p['params']['total']:,} total, {p['params']['trainable']:,} trainable"],
    ]
    macs = p["macs"]
    counted = ", ".join(f"{c} {macs[c]:.3f} G" for c in ("fvcore", "thop") if macs.get(c) is not None)
    rows.append([f"MACs (1×3×{macs['image_size']}²)", counted or "–"])
    if macs["unsupported_ops"]:
        rows.append(["fvcore skipped", ", ".join(f"{op} ×{n}" for op, n in macs["unsupported_ops"].items())])
    if "latency" in p:
        lat = p["latency"]
        for key, value in lat.items():
            if key.startswith("batch_"):
                rows.append(
                    [
                        f"latency {key.replace('_', ' ')}",
                        f"{value['median_ms']:.2f} ms median, IQR {value['iqr_ms']:.2f} ms, n={value['n']}",
                    ]
                )
        rows.append(
            [
                "measured on",
                f"{lat['device']}, {lat['dtype']}, {lat['threads']} threads, channels_last {lat['channels_last']}",
            ]
        )
    if "memory" in p:
        mem = p["memory"]
        rows.append(["peak memory", f"{mem['peak_bytes'] / 2**20:,.0f} MiB ({mem['kind']}, {mem['scope']})"])
        rows.append(["training", f"{p['throughput']['train_img_s']:.1f} img/s"])
    rows += [["warning", w] for w in p.get("warnings", [])]
    return tabulate(rows, tablefmt="plain")
