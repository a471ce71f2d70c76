"""Decoded-image cache vs decoding the files every epoch, on synthetic-vessels (`make bench-data-cache`).

Measures, per image size (the PNGs are generated at that size, so 224 px means decoding 224 px PNGs):
  1. building the cache once (decode + resize every image into the uint8 memmap);
  2. training-loader throughput (images/s over shuffled batches of the train split): slicing the cached tensor,
     as suite/train.py does, vs a torch DataLoader that decodes each PNG in `__getitem__` (0 and N workers);
  3. one epoch of `ft` (every parameter trained, Adam) on tf_efficientnet_lite0 at that size, fed from the cache
     vs from the decoding DataLoader.

    python benchmarks/data_cache.py [--sizes 64 224] [--count 400] [--workers 0 2] [--threads N]
                                    [--repeats 3] [--ft-repeats 1] [--out FILE]

Everything runs in a private MEDTL_CACHE/MEDTL_LOCK under a temp folder. CPU timings on a shared machine move with
the load: the script records the load average next to every number, and the ratios matter more than the rates.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _setup(work: Path, size: int, count: int) -> str:
    """A private lock holding synthetic-vessels generated at `size`, locked (generates the PNGs)."""
    raw = yaml.safe_load((REPO / "datasets.lock").read_text())
    entry = raw["datasets"]["synthetic-vessels"]
    entry["source"]["params"] = {**entry["source"]["params"], "size": size, "count": count}
    entry["counts"] = {"total": count, "per_class": {"benign": count // 2, "malignant": count - count // 2}}
    entry.pop("digest", None)
    lock = work / f"lock-{size}.yaml"
    lock.write_text(yaml.safe_dump({"version": 1, "datasets": {"synthetic-vessels": entry}}))
    os.environ["MEDTL_LOCK"] = str(lock)
    os.environ["MEDTL_CACHE"] = str(work / f"cache-{size}")
    from suite.commands.data import lock as lock_dataset

    lock_dataset("synthetic-vessels")
    return "synthetic-vessels"


class DecodingDataset:
    """The baseline: open, decode and resize the PNG at every access (what a cache-less loader does)."""

    def __init__(self, root: Path, paths: list[str], targets, geometry) -> None:
        self.root, self.paths, self.targets, self.g = root, paths, targets, geometry

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        import torch

        from suite.data.images import read_file

        return torch.from_numpy(read_file(self.root / self.paths[i], self.g)), self.targets[i]


def _cached_batches(split, batch_size: int):
    import torch

    order = torch.randperm(len(split))
    for idx in order.split(batch_size):
        yield split.images[idx], split.targets[idx]


def _decoding_loader(prepared, size: int, batch_size: int, workers: int):
    import torch

    from suite.data.dataset import targets_of
    from suite.data.images import Geometry

    train = prepared.index[prepared.index["split"] == "train"]
    g = Geometry(3, size, None, "uint8")
    dataset = DecodingDataset(
        prepared.root, train["path"].tolist(), targets_of(train["label"], prepared.entry), g
    )
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers)


def _rate(make_batches, min_seconds: float = 2.0) -> float:
    """Images/s over whole epochs (a fresh iterator each, as training does), for at least `min_seconds`."""
    start, seen = time.perf_counter(), 0
    while seen == 0 or time.perf_counter() - start < min_seconds:
        for x, _ in make_batches():
            seen += len(x)
    return seen / (time.perf_counter() - start)


def _ft_epoch(batches, size: int, threads: int) -> float:
    """Seconds for one epoch of full fine-tuning of tf_efficientnet_lite0 (2-class head) over `batches`."""
    import timm
    import torch
    import torch.nn.functional as F

    from suite.models.normalise import Normalise

    torch.manual_seed(0)
    torch.set_num_threads(threads)
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=2)
    norm = Normalise((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    warm = torch.zeros(8, 3, size, size, dtype=torch.uint8)  # oneDNN builds its kernels on the first batches
    for _ in range(2):
        F.cross_entropy(model(norm(warm)), torch.zeros(8, dtype=torch.long)).backward()
    optimizer.zero_grad(set_to_none=True)
    start = time.perf_counter()
    for x, y in batches:
        loss = F.cross_entropy(model(norm(x)), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def measure(
    size: int, count: int, workers: list[int], threads: int, repeats: int, ft_repeats: int, work: Path
) -> dict:
    import torch

    torch.set_num_threads(threads)
    name = _setup(work, size, count)
    from suite.data.dataset import load_task_data, prepare

    prepared = prepare(name)
    start = time.perf_counter()
    data = load_task_data(name, size)  # builds the cache
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    data = load_task_data(name, size)  # opens it
    open_s = time.perf_counter() - start
    train = data.splits["train"]
    out = {"size": size, "train_images": len(train), "cache_build_s": build_s, "cache_open_s": open_s}
    out["loader_cached_img_s"] = statistics.median(
        _rate(lambda: _cached_batches(train, 32)) for _ in range(repeats)
    )
    for w in workers:
        rates = [_rate(lambda w=w: _decoding_loader(prepared, size, 32, w)) for _ in range(repeats)]
        out[f"loader_decode_w{w}_img_s"] = statistics.median(rates)
        out[f"loader_ratio_w{w}"] = out["loader_cached_img_s"] / out[f"loader_decode_w{w}_img_s"]
    sources = {"cached": lambda: _cached_batches(train, 32)}
    sources.update({f"decode_w{w}": (lambda w=w: _decoding_loader(prepared, size, 32, w)) for w in workers})
    epochs: dict[str, list[float]] = {k: [] for k in sources}
    for _ in range(ft_repeats):  # interleaved, so a change in the machine's load hits every source alike
        for key, make in sources.items():
            epochs[key].append(_ft_epoch(make(), size, threads))
    out["ft_epoch_cached_s"] = statistics.median(epochs["cached"])
    for w in workers:
        out[f"ft_epoch_decode_w{w}_s"] = statistics.median(epochs[f"decode_w{w}"])
        out[f"ft_epoch_ratio_w{w}"] = out[f"ft_epoch_decode_w{w}_s"] / out["ft_epoch_cached_s"]
    out["ft_epochs_s"] = epochs
    out["load_average"] = os.getloadavg()
    return out


def _table(rows: list[dict], workers: list[int]) -> str:
    lines = [
        "| measure | " + " | ".join(f"{r['size']} px" for r in rows) + " |",
        "|---|" + "---|" * len(rows),
    ]

    def line(label: str, key: str, fmt: str) -> None:
        lines.append(f"| {label} | " + " | ".join(format(r[key], fmt) for r in rows) + " |")

    line("train images", "train_images", "d")
    line("cache build (s, once)", "cache_build_s", ".2f")
    line("cache open (s)", "cache_open_s", ".2f")
    line("loader, cached (img/s)", "loader_cached_img_s", ",.0f")
    for w in workers:
        line(f"loader, decode, {w} workers (img/s)", f"loader_decode_w{w}_img_s", ",.0f")
        line(f"loader ratio cached / decode ({w} workers)", f"loader_ratio_w{w}", ".1f")
    line("ft epoch lite0, cached (s)", "ft_epoch_cached_s", ".1f")
    for w in workers:
        line(f"ft epoch lite0, decode, {w} workers (s)", f"ft_epoch_decode_w{w}_s", ".1f")
        line(f"ft epoch ratio decode / cached ({w} workers)", f"ft_epoch_ratio_w{w}", ".2f")
    lines.append(
        "| load average (1/5/15 min) | "
        + " | ".join("/".join(f"{v:.1f}" for v in r["load_average"]) for r in rows)
        + " |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 224])
    p.add_argument("--count", type=int, default=400, help="images generated per size (70%% are train)")
    p.add_argument(
        "--workers", type=int, nargs="+", default=[0, 2], help="DataLoader workers for the baseline"
    )
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads")
    p.add_argument("--repeats", type=int, default=3, help="loader measures per source (median)")
    p.add_argument("--ft-repeats", type=int, default=1, help="ft epochs per source, interleaved (median)")
    p.add_argument("--out", type=Path, default=REPO / ".cache" / "bench" / "data_cache.json")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="medtl-bench-cache-") as tmp:
        rows = [
            measure(s, args.count, args.workers, args.threads, args.repeats, args.ft_repeats, Path(tmp))
            for s in args.sizes
        ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {k: v for k, v in vars(args).items() if k != "out"} | {"cpus": os.cpu_count()}
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(_table(rows, args.workers))
    print(f"\n{meta}; written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
