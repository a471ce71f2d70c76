"""Finished cells of a results folder, and their models: as trained (best checkpoint) and as before training.

A cell is named on the command line by its id (or a unique prefix of it), its slug (the file name in runs/), or
`--only`-style filters in one argument (`"source=imagenet strategy=ft"`); each name must match one finished cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from suite.assembly import Assembled, source_model
from suite.assembly import load_trained as load_checkpoint
from suite.data.dataset import TaskData, load_task_data
from suite.errors import UserError
from suite.matrix import Cell
from suite.matrix.select import matches, parse_filters
from suite.results import CellResult, RunPaths, load_results
from suite.train import seed_everything


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


def _matches(ref: str, finished: list[CellResult]) -> list[CellResult]:
    if "=" in ref:
        filters = parse_filters(ref.split())
        return [r for r in finished if matches(cell_of(r), filters)]  # `--only` semantics, without parents
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


def require_checkpoints(paths: RunPaths, results: list[CellResult], with_parents: bool = False) -> None:
    """Before any work: every checkpoint the analysis will read is here, else one line naming the cells and the
    command that retrains only those (results are published without work/, so a fresh clone has none)."""
    needed = {r.cell_id: r for r in results}
    if with_parents:  # the model before training of a two-step cell is its parent's checkpoint
        by_id = {r.cell_id: r for r in load_results(paths.runs)}
        needed |= {p: by_id[p] for r in results for p in r.parents if p in by_id}
    missing = [cid for cid, r in needed.items() if not paths.checkpoint(cell_of(r)).is_file()]
    if missing:
        raise UserError(
            f"{len(missing)} cell(s) have no best checkpoint here ({paths.work} is not published with results): "
            f"retrain only those with `medtl-bench run {paths.root.name} --only id={','.join(missing)} "
            f"--recompute --results {paths.root.parent}`, then run this again"
        )


def checkpoint(paths: RunPaths, result: CellResult) -> Path:
    path = paths.checkpoint(cell_of(result))
    if not path.is_file():
        raise UserError(
            f"{result.slug}: its best checkpoint {path} is missing (work/ is not published); rerun the cell"
            f" on this machine: delete {paths.result(cell_of(result))} and run the matrix again"
        )
    return path


@dataclass
class TrainedCell:
    """A finished cell's model, rebuilt as the strategy prepared it and loaded with its best weights (eval mode)."""

    result: CellResult
    built: Assembled

    @property
    def model(self) -> nn.Module:
        return self.built.model

    @property
    def norm(self) -> nn.Module:
        return self.built.norm

    @property
    def image_size(self) -> int:
        return self.result.config.train.image_size


def load_trained(paths: RunPaths, result: CellResult) -> TrainedCell:
    """Random weights of the right structure (no download), the strategy's surgery, then the checkpoint."""
    return TrainedCell(result, load_checkpoint(result.config, checkpoint(paths, result)))


def load_source(paths: RunPaths, result: CellResult) -> nn.Module:
    """The cell's model before training: its source weights (ImageNet, the parent's checkpoint, or the seeded init)."""
    by_id = {r.cell_id: r for r in load_results(paths.runs)}
    parents = {}
    for pid in result.parents:
        if pid not in by_id:
            raise UserError(f"{result.slug}: its parent cell {pid} has no result in {paths.runs}")
        parents[pid] = str(checkpoint(paths, by_id[pid]))
    seed_everything(result.seed)  # as run_cell does, so a scratch source gets the cell's own initial weights
    saved = torch.load(checkpoint(paths, result), map_location="cpu", weights_only=True)
    return source_model(result.config, saved["num_classes"], parents).eval()


def load_data(result: CellResult) -> TaskData:
    """The cell's dataset at the cell's image size."""
    train = result.config.train
    return load_task_data(result.config.dataset.name, train.image_size, train.resize, train.allow_unverified)
