"""The command line: `medtl-bench run | report | list | data | weights | analyze`. Parsing and calling only."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from suite.errors import UserError


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


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
    run.add_argument("--executor", default="local", choices=["local"])
    run.add_argument("--jobs", type=int, default=1, help="cells at a time (local executor)")
    run.add_argument(
        "--no-retry-failed", action="store_true", help="keep failed results instead of rerunning"
    )
    run.add_argument("--no-report", action="store_true")

    rep = sub.add_parser("report", help="write LEADERBOARD.md, results.csv and plots/ from the result files")
    rep.add_argument("matrix")
    rep.add_argument("--results", default="results")
    rep.add_argument(
        "--compare",
        metavar="OLD_RESULTS_DIR",
        help="add a regression section against older results; exit 1 when anything is flagged",
    )
    rep.add_argument(
        "--k", type=_positive, help="flag metric changes beyond k·SE (default: report.compare.k, 2)"
    )
    rep.add_argument(
        "--latency-pct",
        type=_positive,
        help="flag latency changes beyond this %% (default: report.compare, 10)",
    )

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
    from suite.analysis.commands import add_parser as add_analyze_parser

    add_analyze_parser(sub)
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
    if args.command == "analyze":
        from suite.analysis.commands import analyze_command

        return analyze_command(args)
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
