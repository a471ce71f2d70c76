"""How repeatable is a latency figure? Run `medtl-bench profile` REPEATS times in fresh processes and print the
coefficient of variation (sample std / mean) of the batch-1 median latency, with the load average around it.

    python benchmarks/latency/stability.py resnet18 --image-size 224 --repeats 5 [--threads 1] [other profile options]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys


def run_once(arch: str, image_size: int, extra: list[str]) -> dict:
    cmd = [sys.executable, "-m", "suite", "profile", arch, "--image-size", str(image_size)]
    cmd += ["--json", "--batch-sizes", "1", "--no-train", *extra]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr.strip()}")
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("architecture", nargs="?", default="resnet18")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, help="torch threads for every run (default: torch's)")
    args, extra = p.parse_known_args(argv)  # anything else goes to `medtl-bench profile` as is
    extra += ["--threads", str(args.threads)] if args.threads else []
    load_before = os.getloadavg()
    medians, last = [], {}
    for i in range(args.repeats):
        last = run_once(args.architecture, args.image_size, extra)
        medians.append(last["latency"]["batch_1"]["median_ms"])
        iqr = last["latency"]["batch_1"]["iqr_ms"]
        print(f"run {i + 1}: batch-1 median {medians[-1]:.2f} ms (IQR {iqr:.2f} ms)", flush=True)
    mean = statistics.mean(medians)
    cv = statistics.stdev(medians) / mean if len(medians) > 1 else float("nan")
    lat = last["latency"]
    print(
        f"{args.architecture} @ {args.image_size}px, {lat['device']}, {lat['threads']} threads, {lat['dtype']}:"
        f" mean of medians {mean:.2f} ms, CV {100 * cv:.1f}% over {len(medians)} runs"
    )
    print(
        f"load average (1/5/15 min) before {'/'.join(f'{x:.2f}' for x in load_before)},"
        f" after {'/'.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
