"""A linear-probe cell on cached frozen-backbone features vs on images (`make bench-feature-cache`).

One LP cell of EfficientNet-Lite0 with its ImageNet weights on synthetic-vessels (the smoke matrix's data and
model), `--epochs` epochs with a horizontal flip, trained three ways, interleaved and repeated:
  images   today's path: every epoch runs the frozen backbone over every training and validation image;
  cold     the feature cache, first use: the backbone runs once per image and view, then only the head trains;
  warm     the feature cache, another seed or cell: the features come from the store.
Each is timed over the cell's work (model assembly, `fit`, scoring val and test), the part a cell's timeout counts;
process start, imports and profiling are not part of it (`make bench-overhead` measures those). The script prints
the speed-up of warm and cold over images (median, min and max over rounds) and the test metrics of each path on the
same seed, whose difference the issue bounds at 0.5 points.

    python benchmarks/feature_cache.py [--epochs 10] [--rounds 3] [--size 64] [--count 1200] [--out FILE]

Everything runs in a private MEDTL_CACHE/MEDTL_LOCK under a temp folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.data_cache import _setup  # noqa: E402  (the private, locked copy of synthetic-vessels)


def one_cell(epochs: int, size: int, cache: bool, seed: int = 0) -> tuple[float, dict[str, float], dict]:
    """(seconds of work, test metrics, the result's feature-cache record) of one LP cell run in this process."""
    import torch

    from suite.assembly import assemble
    from suite.data.dataset import load_task_data
    from suite.matrix.cell import ArchitectureRef, CellConfig, DatasetRef, SourceRef, StrategyRef
    from suite.matrix.schema import TrainConfig
    from suite.train import evaluate, fit, seed_everything

    cfg = TrainConfig(
        epochs=epochs,
        batch_size=32,
        lr=1e-3,
        image_size=size,
        augment={"hflip": True},
        feature_cache=cache,
        early_stopping={"patience": None},
    )
    config = CellConfig(
        protocol=2,
        dataset=DatasetRef(name="synthetic-vessels", metrics=["accuracy", "auroc"]),
        architecture=ArchitectureRef(
            name="tf_efficientnet_lite0", timm="tf_efficientnet_lite0", weights="pip_in1k"
        ),
        source=SourceRef(name="imagenet"),
        strategy=StrategyRef(name="lp", variant=None, params={}),
        train=cfg,
        seed=seed,
    )
    data = load_task_data("synthetic-vessels", size)
    device = torch.device("cpu")
    t0 = time.perf_counter()
    seed_everything(seed)
    built = assemble(config, data.num_outputs, {})
    outcome = fit(built.model, built.norm, built.strategy, built.ctx, data, cfg, device)
    vectors = outcome.features.features["test"]["plain"] if outcome.features else None
    test, _ = evaluate(built.model, built.norm, data.splits["test"], data, cfg, device, vectors)
    if outcome.features is None:
        evaluate(built.model, built.norm, data.splits["val"], data, cfg, device)  # as run_cell scores val too
    return time.perf_counter() - t0, test.scalars, outcome.feature_cache


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--count", type=int, default=1200)
    parser.add_argument("--out", type=Path, default=REPO / ".cache" / "bench" / "feature_cache.json")
    args = parser.parse_args()
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp:
        _setup(Path(tmp), args.size, args.count)
        features = Path(os.environ["MEDTL_CACHE"]) / "features"
        rows = []
        for r in range(args.rounds):
            images = one_cell(args.epochs, args.size, cache=False)
            shutil.rmtree(features, ignore_errors=True)
            cold = one_cell(args.epochs, args.size, cache=True)
            warm = one_cell(args.epochs, args.size, cache=True)
            assert cold[2].get("built") and warm[2].get("used") and not warm[2].get("built"), (
                cold[2],
                warm[2],
            )
            rows.append({"images": images[:2], "cold": cold[:2], "warm": warm[:2]})
            load.append(os.getloadavg()[0])
            print(
                f"round {r + 1}: images {images[0]:.1f} s, cold {cold[0]:.1f} s, warm {warm[0]:.1f} s",
                flush=True,
            )
    report(rows, load, args)


def report(rows: list[dict], load: list[float], args) -> None:
    ratio = {k: [r["images"][0] / r[k][0] for r in rows] for k in ("cold", "warm")}
    print(
        f"\nLP cell, {args.epochs} epochs, tf_efficientnet_lite0 at {args.size} px, {args.count} images, hflip:"
    )
    for k, values in ratio.items():
        print(
            f"  {k:5s} cache: {statistics.median(values):5.1f}× faster than images (min {min(values):.1f}×, max "
            f"{max(values):.1f}×) over {len(values)} rounds"
        )
    first = rows[0]
    for metric in ("accuracy", "auroc"):
        shown = ", ".join(f"{k} {first[k][1][metric] * 100:.2f}" for k in ("images", "cold", "warm"))
        gap = max(abs(first[k][1][metric] - first["images"][1][metric]) for k in ("cold", "warm")) * 100
        print(f"  test {metric}: {shown} (largest gap {gap:.2f} pt, same seed)")
    print(f"  load average: {min(load):.2f}–{max(load):.2f} (1 min)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows, "ratios": ratio, "load": load}, indent=1))
    print(f"  wrote {args.out}")


if __name__ == "__main__":
    main()
