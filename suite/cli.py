"""The command line: `medtl-bench run | report | list | data | weights`. Parsing and calling only."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from suite.errors import UserError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="medtl-bench", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run", help="run a matrix (resumes: finished cells are skipped), then write its report"
    )
    run.add_argument("matrix", help="a name in benchmarks/ or a path to a YAML file")
    run.add_argument("--results", default="results", help="results root (default: results)")
    run.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="keep cells matching, e.g. strategy=ft,lp arch=resnet18 (repeatable, globs allowed)",
    )
    run.add_argument("--shard", help="run shard i of n (i/n), deterministic")
    run.add_argument("--dry-run", action="store_true", help="print the cells and their count, run nothing")
    run.add_argument("--executor", default="local", choices=["local", "docker", "slurm"])
    run.add_argument(
        "--jobs", type=int, help="cells at a time (local: 1; docker: one per GPU; slurm: array parallelism)"
    )
    ex = run.add_argument_group("docker and slurm executors (override the matrix's executor: section)")
    ex.add_argument("--image", help="docker image (default medtl-bench:latest)")
    ex.add_argument("--gpus", help="docker: all (default; the CPU if none), none, or ids such as 0,1")
    ex.add_argument("--memory", help="memory limit per cell, e.g. 16g")
    ex.add_argument("--cpus", type=float, help="CPU cores per cell")
    ex.add_argument("--partition", help="slurm partition")
    ex.add_argument("--account", help="slurm account")
    ex.add_argument(
        "--time", type=int, metavar="MIN", help="slurm time limit per task (default: train.timeout_min)"
    )
    run.add_argument(
        "--no-retry-failed", action="store_true", help="keep failed results instead of rerunning"
    )
    run.add_argument("--no-report", action="store_true")

    rep = sub.add_parser("report", help="write LEADERBOARD.md and results.csv from the result files")
    rep.add_argument("matrix")
    rep.add_argument("--results", default="results")

    lst = sub.add_parser("list", help="what is registered")
    lst.add_argument("what", nargs="?", choices=["datasets", "architectures", "strategies"])

    data = sub.add_parser("data", help="make, lock, verify and inspect datasets")
    dsub = data.add_subparsers(dest="action", required=True)
    dsub.add_parser("make", help="materialise an embedded synthetic dataset").add_argument("name")
    dsub.add_parser("lock", help="compute digests and write them into datasets.lock").add_argument("name")
    dsub.add_parser("verify", help="check files against datasets.lock").add_argument("name", nargs="?")
    dsub.add_parser("splits", help="counts per split and class").add_argument("name")

    weights = sub.add_parser("weights", help="pretrained weights")
    wsub = weights.add_subparsers(dest="action", required=True)
    wsub.add_parser("fetch", help="download a matrix's weights into the local cache (online)").add_argument(
        "matrix"
    )
    return p


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        from suite.commands import run_command

        return run_command(args)
    if args.command == "report":
        from suite.commands import report_command

        return report_command(args)
    if args.command == "list":
        from suite.commands import list_command

        print(list_command(args.what))
        return 0
    if args.command == "data":
        from suite.data import commands

        print(getattr(commands, args.action)(args.name))
        return 0
    if args.command == "weights":
        from suite.commands import fetch_weights

        print(fetch_weights(args.matrix))
        return 0
    raise AssertionError(args.command)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except UserError as exc:
        print(f"medtl-bench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("medtl-bench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
