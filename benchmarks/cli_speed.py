"""How long the fast verbs take, against what importing torch and timm alone takes (`make bench-cli`).

Each command runs in a fresh interpreter (as a user types it), interleaved with the others, `--rounds` times:

    medtl-bench list
    medtl-bench run davila2024 --dry-run       (1,728 cells; ends with counts, missing data and weights, cost)
    medtl-bench run full --dry-run
    medtl-bench data splits synthetic-vessels
    python -c "import torch, timm"             (the floor every command paid before these verbs went torch-free)

It prints the median, min and max wall time of each, the ratio of each verb to the torch import, and the load
average before and after (the machine is shared: compare ratios). The issue's target is `list` and the davila
dry-run under 3 s on an idle 2-core machine.

    python benchmarks/cli_speed.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).with_name("medtl-bench")
COMMANDS = {
    "list": [str(BIN), "list"],
    "run davila2024 --dry-run": [str(BIN), "run", "davila2024", "--dry-run"],
    "run full --dry-run": [str(BIN), "run", "full", "--dry-run"],
    "data splits synthetic-vessels": [str(BIN), "data", "splits", "synthetic-vessels"],
    "import torch, timm": [sys.executable, "-c", "import torch, timm"],
}


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=600
    )
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    load_before = os.getloadavg()
    for cmd in COMMANDS.values():  # warm the page cache once
        timed(cmd)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.rounds):
        for name, cmd in COMMANDS.items():
            times[name].append(timed(cmd))
    floor = statistics.median(times["import torch, timm"])
    print(f"{'command':32} {'median s':>9} {'min':>6} {'max':>6} {'÷ import torch,timm':>20}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:32} {median:9.2f} {min(values):6.2f} {max(values):6.2f} {median / floor:20.2f}")
    print(
        f"rounds: {args.rounds}; load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f} "
        f"({os.cpu_count()} CPUs); command: python benchmarks/cli_speed.py --rounds {args.rounds}"
    )


if __name__ == "__main__":
    main()
