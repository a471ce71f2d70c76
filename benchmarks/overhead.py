"""What a cell costs outside training, and what `make bench` costs from scratch (`make bench-overhead`).

    python benchmarks/overhead.py [--rounds 2] [--only seed=0]          # fork server vs fresh interpreter
    python benchmarks/overhead.py --fresh-clone [--baseline 8d6bdd4]    # the smoke matrix, before vs after

Launchers (default): the smoke matrix's cells (`--only` filters; default seed 0, four cells) run by `medtl-bench run`
twice per round, interleaved: with the fork server (the default) and with `MEDTL_FORKSERVER=0` (every cell a fresh
interpreter, as before the fork server). The non-training part of a cell is (the run's wall time − the cells'
summed `train_s`) / cells: process start, imports, data, model, the per-epoch validation passes, test evaluation,
checkpoint, MACs and latency, and the driver's own start and the report, shared out. Each round also prints it
split by the cells' own timings (imports, setup, validate, eval, profile) and the rest of the wall time (outside
cells). The issue's target is ≤ 3 s per smoke cell on this machine.

Fresh clone (`--fresh-clone`): the baseline commit and the working tree's HEAD, each cloned into a temp folder
and run as `python -m suite run smoke` (its report included) with the results folder empty and an empty
MEDTL_CACHE (so synthetic data, decoded images and features are built as on a new machine), interleaved over
rounds. The shared virtual environment is this one (the install, network-bound, is not what is compared). The
issue's target is HEAD at least 30% faster than the baseline.

Each run gets a private MEDTL_CACHE; every line printed says the load average, since this machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_matrix(code: Path, results: Path, cache: Path, only: list[str], env: dict[str, str]) -> float:
    """Wall seconds of `python -m suite run smoke` from `code` (its own datasets.lock and benchmarks/)."""
    cmd = [sys.executable, "-m", "suite", "run", "smoke", "--results", str(results)]
    cmd += [a for f in only for a in ("--only", f)]
    full = {k: v for k, v in os.environ.items() if not k.startswith("MEDTL_")}
    full |= {"MEDTL_CACHE": str(cache), "PYTHONPATH": str(code), **env}
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=code, env=full, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - t0
    if (
        done.returncode == 1
    ):  # cells failed (a timeout on a loaded machine): the wall time still counts, said aloud
        failed = [line for line in done.stderr.splitlines() if line.startswith("  FAILED")]
        print(
            f"  warning: {len(failed)} cell(s) failed in {code.name}: {'; '.join(failed)[:300]}", flush=True
        )
    elif done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} in {code} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return wall


PARTS = ("imports_s", "setup_s", "validate_s", "eval_s", "profile_s")


def train_seconds(results: Path) -> tuple[int, float]:
    files = sorted((results / "smoke" / "runs").glob("*.json"))
    return len(files), sum(json.loads(p.read_text())["timings"].get("train_s", 0.0) for p in files)


def breakdown(results: Path, wall: float) -> dict[str, float]:
    """Seconds per cell outside training, by where the cells' own timings put them; `outside cells` is the rest
    of the wall time: the driver's start and plan, the fork server's start, launching, and the report."""
    timings = [json.loads(p.read_text())["timings"] for p in (results / "smoke" / "runs").glob("*.json")]
    per = {part: sum(t.get(part, 0.0) for t in timings) / len(timings) for part in PARTS}
    inside = sum(t.get("total_s", 0.0) + t.get("imports_s", 0.0) for t in timings)
    per["outside cells"] = (wall - inside) / len(timings)
    return per


def _load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def launchers(rounds: int, only: list[str]) -> None:
    per_cell: dict[str, list[float]] = {"fork server": [], "fresh interpreter": []}
    with tempfile.TemporaryDirectory(prefix="medtl-overhead-") as tmp:
        warm = Path(tmp) / "cache"
        run_matrix(REPO, Path(tmp) / "warmup", warm, only, {})  # synthetic data and decoded images, once
        shutil.rmtree(warm / "features", ignore_errors=True)
        for r in range(rounds):
            for name, env in (("fork server", {}), ("fresh interpreter", {"MEDTL_FORKSERVER": "0"})):
                results = Path(tmp) / f"{name.replace(' ', '-')}-{r}"
                cache = Path(tmp) / f"cache-{name.replace(' ', '-')}-{r}"
                shutil.copytree(warm, cache)  # the same warm data cache, no features: each run builds its own
                wall = run_matrix(REPO, results, cache, only, env)
                cells, train = train_seconds(results)
                per_cell[name].append((wall - train) / cells)
                parts = breakdown(results, wall)
                print(
                    f"round {r + 1} {name:17} wall {wall:6.1f} s, training {train:6.1f} s over {cells} cells: "
                    f"{(wall - train) / cells:5.2f} s per cell outside training ({_load()})\n    of which "
                    + ", ".join(f"{k.removesuffix('_s')} {v:.2f}" for k, v in parts.items()),
                    flush=True,
                )
    print(f"\nnon-training seconds per smoke cell ({' '.join(only) or 'all cells'}, {rounds} rounds):")
    for name, values in per_cell.items():
        print(
            f"  {name:17} median {statistics.median(values):5.2f} (min {min(values):.2f}, max {max(values):.2f})"
        )
    ratios = [f / s for f, s in zip(per_cell["fork server"], per_cell["fresh interpreter"])]
    print(
        f"  fork server ÷ fresh interpreter: median {statistics.median(ratios):.2f} "
        f"(min {min(ratios):.2f}, max {max(ratios):.2f}); command: python benchmarks/overhead.py "
        f"--rounds {rounds} {' '.join('--only ' + f for f in only)}"
    )


def fresh_clone(rounds: int, baseline: str) -> None:
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    walls: dict[str, list[float]] = {baseline: [], head[:7]: []}
    with tempfile.TemporaryDirectory(prefix="medtl-fresh-") as tmp:
        for sha in walls:
            code = Path(tmp) / sha
            subprocess.run(["git", "clone", "-q", "--no-checkout", str(REPO), str(code)], check=True)
            subprocess.run(["git", "checkout", "-q", sha if sha == baseline else head], cwd=code, check=True)
        for r in range(rounds):
            for sha in walls:
                code = Path(tmp) / sha
                results, cache = Path(tmp) / f"results-{sha}-{r}", Path(tmp) / f"cache-{sha}-{r}"
                wall = run_matrix(code, results, cache, [], {})
                walls[sha].append(wall)
                print(f"round {r + 1} {sha}: `run smoke` from scratch {wall:6.1f} s ({_load()})", flush=True)
    old, new = walls[baseline], walls[head[:7]]
    ratios = [n / o for n, o in zip(new, old)]
    print(
        f"\nsmoke from scratch, {rounds} rounds: {baseline} median {statistics.median(old):.0f} s, {head[:7]} median "
        f"{statistics.median(new):.0f} s; new ÷ old median {statistics.median(ratios):.2f} (min {min(ratios):.2f}, "
        f"max {max(ratios):.2f}), i.e. {1 - statistics.median(ratios):.0%} faster; command: python "
        f"benchmarks/overhead.py --fresh-clone --baseline {baseline} --rounds {rounds}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--only", action="append", default=None, help="cell filters (default: seed=0)")
    parser.add_argument("--fresh-clone", action="store_true")
    parser.add_argument("--baseline", default="8d6bdd4", help="the commit before this wave's changes")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, {_load()} at start")
    if args.fresh_clone:
        fresh_clone(args.rounds, args.baseline)
    else:
        launchers(args.rounds, args.only if args.only is not None else ["seed=0"])


if __name__ == "__main__":
    main()
