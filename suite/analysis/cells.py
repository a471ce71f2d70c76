"""Finished cells of a results folder, and their models: as trained (best checkpoint) and as before training.

A cell is named on the command line by its id (or a unique prefix of it), its slug (the file name in runs/), or
`--only`-style filters in one argument (`"source=imagenet strategy=ft"`); each name must match one finished cell.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from suite.data.dataset import TaskData, load_task_data
from suite.errors import UserError
from suite.matrix import Cell
from suite.matrix.select import parse_filters
from suite.models.blocks import param_blocks
from suite.models.build import build_model
from suite.models.catalog import ArchSpec, resolve_architecture
from suite.models.weights import preprocessing
from suite.results import CellResult, load_results
from suite.runner.state import RunPaths
from suite.strategies import STRATEGIES, StrategyContext
from suite.train import Normalise


def results_paths(results_dir: str | Path) -> RunPaths:
    """The RunPaths of `results/<matrix>`; a folder without runs/ is a user mistake."""
    root = Path(results_dir)
    if not (root / "runs").is_dir():
        inner = sorted(p.parent.name for p in root.glob("*/runs"))
        hint = f"; pass one matrix's folder, e.g. {root / inner[0]}" if inner else ""
        raise UserError(f"{root} has no runs/ folder of cell results{hint}")
    return RunPaths(root)


def cell_of(result: CellResult) -> Cell:
    return Cell(result.cell_id, result.config, tuple(result.parents))


def label(result: CellResult) -> str:
    """A short human name: architecture, source, strategy, seed."""
    k = cell_of(result).key
    return f"{k['architecture']} · {k['source']} · {k['strategy']} · s{k['seed']}"


def _matches_filters(result: CellResult, filters: list[tuple[str, list[str]]]) -> bool:
    """`--only` semantics (suite.matrix.select), without pulling in parents: globs, `ttl` matches `ttl@block3`."""
    key = cell_of(result).key
    for name, patterns in filters:
        value = str(key.get(name, ""))
        base = value.split("@")[0] if name == "strategy" else value
        if not any(fnmatch.fnmatchcase(value, p) or fnmatch.fnmatchcase(base, p) for p in patterns):
            return False
    return True


def _matches(ref: str, finished: list[CellResult]) -> list[CellResult]:
    if "=" in ref:
        filters = parse_filters(ref.split())
        return [r for r in finished if _matches_filters(r, filters)]
    name = ref.removesuffix(".json")
    exact = [r for r in finished if name in (r.cell_id, r.slug)]
    return exact or [r for r in finished if len(name) >= 4 and r.cell_id.startswith(name)]


def find_cell(paths: RunPaths, ref: str) -> CellResult:
    """The one finished (status ok) cell that `ref` names."""
    results = load_results(paths.runs)
    finished = [r for r in results if r.status == "ok"]
    found = _matches(ref, finished)
    if len(found) == 1:
        return found[0]
    if found:
        names = ", ".join(r.slug for r in found[:6])
        raise UserError(
            f"cell {ref!r} matches {len(found)} finished cells: {names}; add filters or give an id"
        )
    failed = _matches(ref, [r for r in results if r.status != "ok"])
    if failed:
        raise UserError(f"cell {ref!r} failed ({failed[0].error}); rerun its matrix to finish it")
    examples = ", ".join(r.cell_id for r in finished[:4])
    raise UserError(
        f"no finished cell matches {ref!r} in {paths.runs}; give an id, a slug or filters such as "
        f"'strategy=ft seed=0' (ids: {examples}{', ...' if len(finished) > 4 else ''})"
    )


def checkpoint(paths: RunPaths, result: CellResult) -> Path:
    path = paths.checkpoint(cell_of(result))
    if not path.is_file():
        raise UserError(
            f"{result.slug}: its best checkpoint {path} is missing (work/ is not published); rerun the cell"
            f" on this machine: delete {paths.result(cell_of(result))} and run the matrix again"
        )
    return path


def arch_spec(config: dict) -> ArchSpec:
    """The architecture as the cell resolved it (the same call as suite.runner.cell.build_for_cell)."""
    a, train = config["architecture"], config["train"]
    return resolve_architecture(
        a["name"], weights=a.get("weights"), input_size=train["image_size"], lr=train["lr"]
    )


@dataclass
class TrainedCell:
    """A finished cell's model, rebuilt as the strategy prepared it and loaded with its best weights (eval mode)."""

    result: CellResult
    spec: ArchSpec
    model: nn.Module
    norm: Normalise

    @property
    def image_size(self) -> int:
        return int(self.result.config["train"]["image_size"])


def load_trained(paths: RunPaths, result: CellResult) -> TrainedCell:
    """Random weights of the right structure (no download), the strategy's surgery, then the checkpoint."""
    config = result.config
    saved = torch.load(checkpoint(paths, result), map_location="cpu", weights_only=True)
    spec = arch_spec(config)
    model = build_model(spec, saved["num_classes"], "scratch")
    s = config["strategy"]
    strategy = STRATEGIES.get(s["name"])(variant=s["variant"], **s["params"])
    train = config["train"]
    ctx = StrategyContext(
        param_blocks(model), saved["num_classes"], train["epochs"], image_size=train["image_size"]
    )
    # the same surgery as run_cell (TTL's truncation, TF's halving, LoRA's adapters), on random weights
    model = strategy.prepare_model(model, ctx)
    model.load_state_dict(saved["state_dict"])
    return TrainedCell(result, spec, model.eval(), Normalise(*preprocessing(spec)))


def load_source(paths: RunPaths, result: CellResult) -> nn.Module:
    """The cell's model before training: its source weights (ImageNet, the parent's checkpoint, or the seeded init)."""
    from suite.runner.cell import build_for_cell
    from suite.train import seed_everything

    by_id = {r.cell_id: r for r in load_results(paths.runs)}
    parents = {}
    for pid in result.parents:
        if pid not in by_id:
            raise UserError(f"{result.slug}: its parent cell {pid} has no result in {paths.runs}")
        parents[pid] = str(checkpoint(paths, by_id[pid]))
    seed_everything(result.seed)  # as run_cell does, so a scratch source gets the cell's own initial weights
    saved = torch.load(checkpoint(paths, result), map_location="cpu", weights_only=True)
    _, model = build_for_cell(result.config, saved["num_classes"], parents)
    return model.eval()


def load_data(result: CellResult) -> TaskData:
    """The cell's dataset at the cell's image size."""
    train = result.config["train"]
    return load_task_data(
        result.config["dataset"]["name"], train["image_size"], train.get("resize"), train["allow_unverified"]
    )
