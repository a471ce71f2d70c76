"""The suite side by side with its peers (`make bench-peers`): a bare PyTorch loop and timm's own `train.py`.

Every round, interleaved in one invocation:
  loop   the suite's training loop (`fit`, as a cell calls it: seeded, deterministic algorithms on) against a bare
         PyTorch loop (forward, cross-entropy, backward, Adam on preloaded normalised float tensors), same model,
         batch and image size, on the same training images: the ratio of steady-state img/s (the suite's second
         epoch against the bare loop's second pass; the first is the warm-up on both sides). The bare loop also runs
         with `torch.use_deterministic_algorithms(True)` and with one thread, to see what each costs on the CPU.
  cell   one whole cell, `python -m suite run MATRIX --results DIR --no-report` (process start, data, training,
         validation, test scoring, profiling), against timm's `train.py` on the same train/val images exported as
         an ImageFolder tree: same model (random init, seeded on each side), epochs, batch, Adam and LR, StepLR,
         no label smoothing, no warm-up, no colour jitter, the same horizontal flips (random-resized-crop pinned
         to the whole image, scale 1 and ratio 1), no weight decay: the ratio of wall times, and the validation
         accuracy each reaches at its lowest validation loss (the suite's monitor; `--eval-metric loss` for timm).

The script prints the median and min/max of each ratio over the rounds, the accuracies and the load average.

    python benchmarks/peers.py [--arch resnet10t] [--size 32] [--count 480] [--epochs 3] [--batch 32]
                               [--rounds 3] [--loop-images 192] [--timm-train FILE] [--quick] [--out FILE]

timm's `train.py` is not in the timm wheel. `--timm-train` names it; by default it is read from
$MEDTL_CACHE/peers/timm-<installed version>/train.py, downloaded there (with timm's Apache-2.0 LICENSE) from the
timm release tag of the installed version on first use. Everything else runs in a private MEDTL_CACHE/MEDTL_LOCK
under a temp folder.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.data_cache import _setup  # noqa: E402  (a private, locked copy of synthetic-vessels)

TIMM_RAW = "https://raw.githubusercontent.com/huggingface/pytorch-image-models/v{version}/{name}"

MATRIX = """\
name: peers
datasets: [synthetic-vessels]
architectures: ["timm:{arch}"]
sources: [scratch]
strategies: [ft]
seeds: [{seed}]
train:
  epochs: {epochs}
  batch_size: {batch}
  image_size: {size}
  optimizer: adam
  lr: {lr}
  weight_decay: 0.0
  scheduler: {{name: step, step_size: {step}, gamma: 0.5}}
  early_stopping: {{patience: null}}
  monitor: loss
  augment: {{hflip: true}}
"""
THREADS = "  threads: {threads}\n"


def timm_args(args, data: Path, out: Path, seed: int) -> list[str]:
    """timm train.py's command line for the same cell (everything the suite's matrix says, spelled timm's way)."""
    return [
        str(data),
        *("--model", args.arch, "--num-classes", "2", "--img-size", str(args.size), "--crop-pct", "1.0"),
        *("--batch-size", str(args.batch), "--validation-batch-size", "128", "--epochs", str(args.epochs)),
        *("--opt", "adam", "--lr", str(args.lr), "--weight-decay", "0", "--sched", "step"),
        *(
            "--decay-epochs",
            str(args.step),
            "--decay-rate",
            "0.5",
            "--warmup-epochs",
            "0",
            "--cooldown-epochs",
            "0",
        ),
        *("--smoothing", "0", "--hflip", "0.5", "--vflip", "0", "--scale", "1", "1", "--ratio", "1", "1"),
        *(
            "--color-jitter",
            "0",
            "--reprob",
            "0",
            "--train-interpolation",
            "bilinear",
            "--interpolation",
            "bilinear",
        ),
        *("--device", "cpu", "--seed", str(seed), "--eval-metric", "loss", "--checkpoint-hist", "1"),
        *("--log-interval", "1000", "--output", str(out), "--experiment", "timm"),
    ]


def timm_train(path: Path | None) -> Path:
    """timm's train.py: the given file, or the installed version's from the cache (downloaded on first use)."""
    import timm

    if path is not None:
        if not path.is_file():
            sys.exit(f"--timm-train {path}: no such file")
        return path
    folder = Path(os.environ.get("MEDTL_CACHE", REPO / ".cache")) / "peers" / f"timm-{timm.__version__}"
    target = folder / "train.py"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("train.py", "LICENSE"):
        url = TIMM_RAW.format(version=timm.__version__, name=name)
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                (folder / f".{name}.part").write_bytes(response.read())
        except OSError as exc:
            sys.exit(
                f"cannot download timm's train.py ({url}: {exc}): save it as {target} or pass --timm-train FILE"
            )
        (folder / f".{name}.part").rename(folder / name)
    return target


def export_image_folder(data, root: Path) -> None:
    """The cell's decoded train and val images as PNGs in timm's ImageFolder layout (`train/`, `validation/`, one
    folder per class, named as the lock names them: the same class order on both sides)."""
    from PIL import Image

    for split, folder in (("train", "train"), ("val", "validation")):
        s = data.splits[split]
        for c in data.entry.classes:
            (root / folder / c).mkdir(parents=True, exist_ok=True)
        for image, target, ident in zip(s.images, s.targets.tolist(), s.ids, strict=True):
            name = ident.replace("/", "_")
            Image.fromarray(image.permute(1, 2, 0).numpy()).save(
                root / folder / data.entry.classes[target] / f"{name}.png"
            )


# ---------------------------------------------------------------------------------------------------- the loops


def suite_loop(config, data, n: int, threads: int | None = None) -> float:
    """Steady-state img/s of the suite's `fit` (its second epoch) on the first `n` training images, set up as a cell
    sets itself up (threads, seeds, deterministic algorithms)."""
    import torch

    from suite.assembly import assemble
    from suite.runner.cell import setup
    from suite.train import fit

    cfg = config.train.model_copy(update={"epochs": 2, **({"threads": threads} if threads else {})})
    small = dataclasses.replace(
        data, splits={"train": _head(data.splits["train"], n), "val": _head(data.splits["val"], 64)}
    )
    before = torch.get_num_threads()
    try:
        device = setup(cfg, config.seed)
        built = assemble(config, data.num_outputs, {})
        return fit(built.model, built.norm, built.strategy, built.ctx, small, cfg, device).throughput
    finally:
        torch.use_deterministic_algorithms(False)
        torch.set_num_threads(before)


def _head(split, n: int):
    return dataclasses.replace(split, images=split.images[:n], targets=split.targets[:n], ids=split.ids[:n])


def bare_loop(config, data, n: int, deterministic: bool = False, threads: int | None = None) -> float:
    """img/s of a plain loop's second pass over the first `n` training images, preloaded as normalised floats."""
    import timm
    import torch
    import torch.nn.functional as F

    cfg = config.train
    before = torch.get_num_threads()
    torch.use_deterministic_algorithms(deterministic)
    if threads:
        torch.set_num_threads(threads)
    try:
        torch.manual_seed(config.seed)
        model = timm.create_model(config.architecture.timm, num_classes=data.num_outputs)
        mean = torch.tensor(model.pretrained_cfg["mean"]).view(1, 3, 1, 1)
        std = torch.tensor(model.pretrained_cfg["std"]).view(1, 3, 1, 1)
        x = (data.splits["train"].images[:n].float() / 255 - mean) / std
        y = data.splits["train"].targets[:n]
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        model.train()
        seconds = 0.0
        for _ in range(2):
            start, total = time.perf_counter(), 0.0
            for idx in torch.randperm(n).split(cfg.batch_size):
                loss = F.cross_entropy(model(x[idx]), y[idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.item()
            seconds = time.perf_counter() - start
        return n / seconds
    finally:
        torch.use_deterministic_algorithms(False)
        torch.set_num_threads(before)


# ---------------------------------------------------------------------------------------------------- the cells


def suite_cell(matrix: Path, results: Path) -> tuple[float, float, dict[str, float]]:
    """(wall seconds, val accuracy %, the cell's own timings) of `python -m suite run` on the one-cell matrix."""
    cmd = [sys.executable, "-m", "suite", "run", str(matrix), "--results", str(results), "--no-report"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    (run,) = (results / "peers" / "runs").glob("*.json")
    result = json.loads(run.read_text())
    return wall, result["metrics"]["val"]["scalars"]["accuracy"] * 100, result["timings"]


def timm_cell(train_py: Path, argv: list[str], out: Path, threads: int | None) -> tuple[float, float]:
    """(wall seconds, val top-1 % at the lowest validation loss) of timm's train.py (`threads`: OMP_NUM_THREADS,
    which torch's default thread count follows; train.py has no option for it)."""
    env = {**os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
    t0 = time.perf_counter()
    cmd = [sys.executable, str(train_py), *argv]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    wall = time.perf_counter() - t0
    with (out / "timm" / "summary.csv").open() as f:
        rows = list(csv.DictReader(f))
    best = min(rows, key=lambda r: float(r["eval_loss"]))
    return wall, float(best["eval_top1"])


def _run(what: str, fn, *args):
    try:
        return fn(*args)
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or "").strip().splitlines()[-1:] or ["(no output)"]
        sys.exit(f"{what} failed (exit {exc.returncode}): {tail[0]}")


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="resnet10t")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument(
        "--count", type=int, default=480, help="images generated (70%% train, 20%% val, 10%% test)"
    )
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--step", type=int, default=2, help="StepLR step size in epochs (gamma 0.5)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--loop-images", type=int, default=192, help="training images of the loop comparison")
    parser.add_argument("--timm-train", type=Path, help="timm's train.py (default: the installed version's)")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch threads on every side (default: torch's default, as a user gets it)",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke: tiny sizes, one round")
    parser.add_argument("--out", type=Path, default=REPO / ".cache" / "bench" / "peers.json")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.quick:
        args.size, args.count, args.epochs, args.rounds, args.loop_images, args.batch = 16, 80, 1, 1, 16, 8
    train_py = timm_train(args.timm_train).resolve()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        _setup(work, args.size, args.count)
        from suite.catalog import SuiteCatalog
        from suite.data.dataset import load_task_data
        from suite.matrix import load_matrix

        data = load_task_data("synthetic-vessels", args.size)
        export_image_folder(data, work / "images")
        n = min(args.loop_images, len(data.splits["train"]))
        rows = []
        for r in range(args.rounds):
            matrix = work / f"peers-{r}.yaml"
            matrix.write_text(
                MATRIX.format(**vars(args), seed=r) + (THREADS.format(**vars(args)) if args.threads else "")
            )
            config = load_matrix(str(matrix), SuiteCatalog()).cells[0].config
            loops = {
                "bare": partial(bare_loop, config, data, n),
                "suite_loop": partial(suite_loop, config, data, n),
                "bare_det": partial(bare_loop, config, data, n, deterministic=True),
                "bare_1thread": partial(bare_loop, config, data, n, threads=1),
                "suite_loop_1thread": partial(suite_loop, config, data, n, threads=1),
            }
            order = list(loops) if r % 2 == 0 else list(reversed(loops))  # order effects cancel over rounds
            row = {k: loops[k]() for k in order}
            load.append(os.getloadavg()[0])
            row["suite"] = _run("the suite's cell", suite_cell, matrix, work / f"results-{r}")
            load.append(os.getloadavg()[0])
            out = work / f"timm-{r}"
            row["timm"] = _run(
                "timm's train.py",
                timm_cell,
                train_py,
                timm_args(args, work / "images", out, r),
                out,
                args.threads,
            )
            load.append(os.getloadavg()[0])
            rows.append(row)
            print(
                f"round {r + 1}: loop {row['suite_loop']:.1f} vs bare {row['bare']:.1f} img/s "
                f"(bare deterministic {row['bare_det']:.1f}; 1 thread: loop "
                f"{row['suite_loop_1thread']:.1f} vs bare {row['bare_1thread']:.1f}); "
                f"cell {row['suite'][0]:.1f} s ({row['suite'][1]:.1f} %) vs timm {row['timm'][0]:.1f} s "
                f"({row['timm'][1]:.1f} %)",
                flush=True,
            )
    report(rows, load, args, train_py, n, data)


def _spread(values: list[float], unit: str = "×") -> str:
    return f"{statistics.median(values):.2f}{unit} (min {min(values):.2f}{unit}, max {max(values):.2f}{unit})"


def report(rows: list[dict], load: list[float], args, train_py: Path, n: int, data) -> None:
    import torch

    ratios = {
        "loop": [r["suite_loop"] / r["bare"] for r in rows],
        "loop_1thread": [r["suite_loop_1thread"] / r["bare_1thread"] for r in rows],
        "deterministic": [r["bare_det"] / r["bare"] for r in rows],
        "one_thread": [r["bare_1thread"] / r["bare"] for r in rows],
        "cell_wall": [r["suite"][0] / r["timm"][0] for r in rows],
    }
    gap = [r["suite"][1] - r["timm"][1] for r in rows]
    sizes = {k: len(s) for k, s in data.splits.items()}
    print(
        f"\n{args.arch}, random init, {args.size} px, batch {args.batch}, Adam lr {args.lr:g}, StepLR "
        f"{args.step}×0.5, hflip; {args.rounds} rounds; splits {sizes}; torch threads {torch.get_num_threads()}"
    )
    print(f"  suite loop / bare loop, steady img/s ({n} images):   {_spread(ratios['loop'])}   target ≥ 0.95")
    print(f"  the same at 1 thread on both sides:                 {_spread(ratios['loop_1thread'])}")
    print(f"  bare deterministic / bare default, img/s:            {_spread(ratios['deterministic'])}")
    print(
        f"  bare 1 thread / bare {torch.get_num_threads()} threads ({'--threads' if args.threads else 'default'}), "
        f"img/s:       {_spread(ratios['one_thread'])}"
    )
    print(
        f"  suite cell / timm train.py, wall ({args.epochs} epochs):        {_spread(ratios['cell_wall'])}   target ≤ 0.80"
    )
    for side in ("suite", "timm"):
        walls, accs = [r[side][0] for r in rows], [r[side][1] for r in rows]
        print(
            f"    {side:5s}: wall {_spread(walls, ' s')}; val accuracy at lowest val loss "
            f"{statistics.median(accs):.1f} % (min {min(accs):.1f}, max {max(accs):.1f})"
        )
    parts = {k: statistics.median(r["suite"][2][k] for r in rows) for k in rows[0]["suite"][2]}
    print("    suite cell's own timings (median s): " + ", ".join(f"{k} {v:.1f}" for k, v in parts.items()))
    print(f"    accuracy suite − timm: {_spread(gap, ' pt')}   target within ±1 pt")
    print(f"  timm train.py: {train_py}")
    print(f"  load average: {min(load):.2f}–{max(load):.2f} (1 min)")
    print(f"  command: {' '.join([Path(sys.executable).name, 'benchmarks/peers.py', *sys.argv[1:]])}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"rows": rows, "ratios": ratios, "accuracy_gap": gap, "load": load}, indent=1)
    )
    print(f"  wrote {args.out}")


if __name__ == "__main__":
    main()
