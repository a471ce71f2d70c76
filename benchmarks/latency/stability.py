"""How repeatable is a latency figure? REPEATS times, each in fresh processes and alternating which goes first:
the interleaved method (benchmarks/latency/interleaved.py, what `make bench-latency` writes) and the per-cell method
(`medtl-bench profile`, what each cell records). Prints, per method, the batch-1 median of every repeat, their
min/max, the coefficient of variation (sample std / mean) of those medians, and for the interleaved method the CV of
its CPU-time medians too; with `--with OTHER`, the ratio of the two networks' medians per repeat and its CV, by each
method; with the load average, the steal time and the command.

    python benchmarks/latency/stability.py resnet18 --image-size 224 --repeats 5 [--threads 2] [--with resnet50]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _run(cmd: list[str]) -> dict:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{shlex.join(cmd)} failed:\n{done.stderr.strip()}")
    return json.loads(done.stdout)


def per_cell(args: argparse.Namespace) -> dict[str, float]:
    out: dict[str, float] = {}
    for arch in [args.architecture, *args.others]:  # one fresh process per network, as cells measure
        cmd = [sys.executable, "-m", "suite", "profile", arch, "--image-size", str(args.image_size)]
        cmd += ["--json", "--batch-sizes", "1", "--no-train", "--warmup", str(args.warmup)]
        cmd += [
            "--iterations",
            str(args.iterations),
            *(["--threads", str(args.threads)] if args.threads else []),
        ]
        one = _run(cmd)["latency"]["batch_1"]
        if arch == args.architecture:
            out |= {"median_ms": one["median_ms"], "iqr_ms": one["iqr_ms"]}
        else:
            out[f"ratio_{arch}"] = out["median_ms"] / one["median_ms"]
    return out


def interleaved(args: argparse.Namespace) -> dict[str, float]:
    cmd = [sys.executable, str(HERE / "interleaved.py"), "--architecture", args.architecture]
    for other in args.others:
        cmd += ["--architecture", other]
    cmd += ["--image-size", str(args.image_size), "--batch-sizes", "1", "--out", "-", "--quiet"]
    cmd += ["--warmup", str(args.warmup), "--rounds", str(args.rounds), "--block", str(args.block)]
    cmd += ["--threads", str(args.threads)] if args.threads else []
    data = _run(cmd)
    rows = {r["architecture"]: r for r in data["networks"]}
    row = rows[args.architecture]
    keys = ("median_ms", "iqr_ms", "process_cpu_median_ms", "thread_cpu_median_ms", "cpu_per_wall")
    ratios = {f"ratio_{a}": row["median_ms"] / rows[a]["median_ms"] for a in args.others}
    return {k: row[k] for k in keys} | ratios | {"steal_s": data["medtl"]["conditions"]["steal_s"] or 0.0}


def cv(values: list[float]) -> float:
    return statistics.stdev(values) / statistics.mean(values) if len(values) > 1 else float("nan")


def line(name: str, values: list[float]) -> str:
    return (
        f"{name}: median {statistics.median(values):.2f} ms, min {min(values):.2f}, max {max(values):.2f} "
        f"(max/min {max(values) / min(values):.3f}), CV {100 * cv(values):.1f}% over {len(values)} repeats"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("architecture", nargs="?", default="resnet18")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, help="torch threads for every run (default: torch's)")
    p.add_argument("--warmup", type=int, default=10, help="untimed calls, both methods (default: 10)")
    p.add_argument("--iterations", type=int, default=30, help="per-cell method: timed calls (default: 30)")
    p.add_argument("--rounds", type=int, default=10, help="interleaved method: rounds (default: 10)")
    p.add_argument("--block", type=int, default=5, help="interleaved method: calls per block (default: 5)")
    p.add_argument("--with", dest="others", action="append", default=[], help="more networks to interleave")
    p.add_argument("--methods", default="interleaved,per-cell", help="which to run (default: both)")
    args = p.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    runners = {"interleaved": interleaved, "per-cell": per_cell}
    load_before = os.getloadavg()
    got: dict[str, list[dict[str, float]]] = {m: [] for m in methods}
    for i in range(args.repeats):
        order = methods if i % 2 == 0 else methods[::-1]  # alternate, so a drift in load hits both alike
        for m in order:
            got[m].append(runners[m](args))
            r = got[m][-1]
            cpu = f", process CPU {r['process_cpu_median_ms']:.2f} ms" if "process_cpu_median_ms" in r else ""
            print(
                f"repeat {i + 1} {m}: median {r['median_ms']:.2f} ms (IQR {r['iqr_ms']:.2f}){cpu}", flush=True
            )
    print(f"{args.architecture} @ {args.image_size}px, batch 1, {args.threads or 'torch default'} threads:")
    for m in methods:
        print("  " + line(f"{m} wall", [r["median_ms"] for r in got[m]]))
    if "interleaved" in got:
        runs = got["interleaved"]
        print("  " + line("interleaved process CPU", [r["process_cpu_median_ms"] for r in runs]))
        print("  " + line("interleaved thread CPU", [r["thread_cpu_median_ms"] for r in runs]))
        share = ", ".join(f"{r['cpu_per_wall']:.2f}" for r in runs)
        print(
            f"  interleaved CPU/wall per repeat: {share}; steal {sum(r['steal_s'] for r in runs):.2f} s in all"
        )
    for other in args.others:  # how repeatable is the comparison of two networks, by each method
        for m in methods:
            ratios = [r[f"ratio_{other}"] for r in got[m]]
            print(
                f"  {m} ratio {args.architecture} / {other}: median {statistics.median(ratios):.3f}, "
                f"min {min(ratios):.3f}, max {max(ratios):.3f}, CV {100 * cv(ratios):.1f}%"
            )
    print(
        f"load average (1/5/15 min) before {'/'.join(f'{x:.2f}' for x in load_before)},"
        f" after {'/'.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs"
    )
    print(f"command: {shlex.join([sys.executable, *sys.argv]) if argv is None else shlex.join(argv)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
