"""Inference latency of every distinct network of a matrix, timed together in one process in rotating round-robin
blocks (suite/profiling/interleaved.py), with wall and CPU time per call; writes results/<matrix>/latency.json
(format: suite/results/latency.py) and prints a table with the load average, the steal time and the command.

    python benchmarks/latency/interleaved.py --matrix smoke                       (make bench-latency MATRIX=smoke)
    python benchmarks/latency/interleaved.py --architecture resnet18 --image-size 224 --out -   (JSON on stdout)

No network is called faster than another here: a median is printed with its interquartile interval, and two networks
whose intervals overlap are not told apart.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path


def _sizes(text: str) -> tuple[int, ...]:
    sizes = tuple(int(b) for b in text.split(","))
    if any(b < 1 for b in sizes):
        raise argparse.ArgumentTypeError(f"batch sizes must be ≥ 1, got {text}")
    return sizes


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--matrix", help="matrix name in benchmarks/ or a YAML path: its distinct networks")
    which.add_argument("--architecture", action="append", help="a network to time (repeatable), 1000 classes")
    p.add_argument("--image-size", type=int, default=224, help="with --architecture (default: 224)")
    p.add_argument("--results", default="results", help="results root (default: results)")
    p.add_argument("--out", help="output path, or - for stdout (default: results/<matrix>/latency.json)")
    p.add_argument("--batch-sizes", type=_sizes, default=(1, 32), help="comma-separated (default: 1,32)")
    p.add_argument("--warmup", type=int, default=5, help="untimed calls per network and batch (default: 5)")
    p.add_argument("--rounds", type=int, default=10, help="round-robin rounds (default: 10)")
    p.add_argument("--block", type=int, default=5, help="timed calls per network per round (default: 5)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--amp", action="store_true", help="bf16 autocast (GPU only)")
    p.add_argument("--channels-last", action="store_true", help="channels_last (GPU only)")
    p.add_argument("--quiet", action="store_true", help="no table on stderr")
    return p.parse_args(argv)


def targets_of(args: argparse.Namespace) -> tuple[list, dict]:
    """The networks to time, and the file's matrix fields."""
    from suite.results.latency import Target

    if args.architecture:
        return [Target(a, args.image_size, 1000) for a in args.architecture], {"matrix": None}
    from suite.commands import load_checked
    from suite.networks import latency_targets

    matrix = load_checked(args.matrix)
    fields = {"matrix": matrix.name, "matrix_path": str(matrix.path)}
    return latency_targets(matrix.cells), fields


def measure(args: argparse.Namespace, command: str) -> dict:
    from suite.commands.profile import build_prepared
    from suite.environment import worker_environment
    from suite.matrix.schema import TrainConfig
    from suite.profiling import count_params
    from suite.profiling.interleaved import InterleavedSettings, measure_interleaved
    from suite.results.latency import FORMAT
    from suite.train import pick_device

    targets, fields = targets_of(args)
    device = pick_device(TrainConfig(device=args.device))
    networks, built = {}, {}
    for t in targets:
        params = json.loads(t.strategy_params)
        spec, _, model = build_prepared(
            t.architecture, t.strategy or "ft", t.image_size, t.num_classes, strategy_params=params
        )
        networks[t] = (model, t.image_size)
        built[t] = (spec.timm_name, count_params(model)["total"])
    settings = InterleavedSettings(
        args.batch_sizes, args.warmup, args.rounds, args.block, args.threads, args.amp, args.channels_last
    )
    summary, conditions = measure_interleaved(networks, device, settings)
    keep = ("device", "dtype", "threads", "channels_last")
    rows = [
        {
            "architecture": t.architecture,
            "timm": built[t][0],
            "image_size": t.image_size,
            "num_classes": t.num_classes,
            "strategy": t.strategy,
            "strategy_params": json.loads(t.strategy_params),
            "batch_size": b,
            **{k: conditions[k] for k in keep},
            "params_total": built[t][1],
            **stats,
        }
        for (t, b), stats in summary.items()
    ]
    medtl = {"format": FORMAT, "method": "interleaved", **fields, "command": command}
    medtl |= {"environment": worker_environment(device.type), "conditions": conditions}
    return {"medtl": medtl, "networks": rows}


def table(data: dict) -> str:
    from tabulate import tabulate

    c = data["medtl"]["conditions"]
    head = [
        "network",
        "batch",
        "median ms",
        "IQR ms",
        "min–max ms",
        "n",
        "thread CPU ms",
        "proc CPU ms",
        "CPU/wall",
    ]
    body = [
        [
            f"{r['architecture']}-{r['image_size']}px-{r['num_classes']}cls"
            + (f"-{r['strategy']}" if r["strategy"] else ""),
            r["batch_size"],
            f"{r['median_ms']:.2f}",
            f"{r['iqr_ms']:.2f}",
            f"{r['min_ms']:.2f}–{r['max_ms']:.2f}",
            r["n"],
            f"{r['thread_cpu_median_ms']:.2f}",
            f"{r['process_cpu_median_ms']:.2f}",
            f"{r['cpu_per_wall']:.2f}",
        ]
        for r in data["networks"]
    ]
    steal = "not available" if c["steal_s"] is None else f"{c['steal_s']:.2f} s"
    load = "/".join(f"{x:.2f}" for x in c["load_before"]), "/".join(f"{x:.2f}" for x in c["load_after"])
    return "\n".join(
        [
            tabulate(body, head, tablefmt="plain"),
            f"{c['device']}, {c['threads']} threads, {c['dtype']}; {c['rounds']} rounds × {c['block']} calls per "
            f"network after {c['warmup']} warm-up calls, interleaved",
            f"load average (1/5/15 min) before {load[0]}, after {load[1]}; steal during the run {steal}",
            f"command: {data['medtl']['command']}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    from suite.errors import UserError

    args = parse(argv)
    command = (
        shlex.join([sys.executable, *sys.argv]) if argv is None else shlex.join(["interleaved.py", *argv])
    )
    try:
        data = measure(args, command)
    except UserError as exc:  # a bad matrix or architecture name: one line, exit 2
        print(f"interleaved.py: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return exc.exit_code
    text = json.dumps(data, indent=1)
    if args.out == "-":
        print(text)
    else:
        from suite.results.store import atomic_write_bytes

        out = Path(args.out) if args.out else Path(args.results) / data["medtl"]["matrix"] / "latency.json"
        atomic_write_bytes(out, (text + "\n").encode())
    if not args.quiet:
        print(table(data), file=sys.stderr)
        if args.out != "-":
            print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
