"""Peng's cheap truncation-point search (Appendix C.1) on a finished fine-tuning cell, from the command line.

1. take the cell's fine-tuned model (its best checkpoint);
2. SVCCA between its features and the features of its source weights (before fine-tuning: ImageNet, the parent
   cell's checkpoint, or the seeded initialisation) at every candidate cut point, on held-out images;
3. SVCCA between random features of the same shapes at the same cut points;
4. the first cut point where the two coefficient distributions overlap (`suite.analysis.svcca.compare`);
5. a `ttl@<cut point>` matrix, ready to run, at the cut point before it.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch
import yaml
from tabulate import tabulate
from torch import nn

from suite.analysis.cells import (
    find_cell,
    label,
    load_data,
    load_source,
    load_trained,
    require_checkpoints,
    results_paths,
)
from suite.analysis.features import FeatureMap, Place
from suite.analysis.plots import SvccaCurve, svcca_figure
from suite.analysis.svcca import Detection
from suite.analysis.transfer import PlaceResult, SvccaOptions, run_svcca
from suite.catalog import SuiteCatalog
from suite.errors import UserError
from suite.matrix import load_matrix
from suite.paths import inside
from suite.results import CellResult, RunPaths, atomic_write_bytes, write_manifest

CRITERION = (
    "at each cut point, the SVCCA coefficients before vs after fine-tuning overlap the random baseline when the"
    " Vargha–Delaney A = P(real > random) is at most {max_effect} (from the Mann–Whitney U); the truncation"
    " point is the cut point before the first overlap"
)


def _held_out(result: CellResult, splits: tuple[str, ...]) -> torch.Tensor:
    data = load_data(result)
    found = [data.splits[s].images for s in splits if s in data.splits]
    if not found:
        raise UserError(f"{data.name} has none of the splits {list(splits)}; it has {list(data.splits)}")
    return torch.cat(found)


def _places(model: nn.Module, source: nn.Module, image_size: int, cutoffs: str) -> list[Place]:
    """TTL's cut points (layer cuts too with `layers`); block outputs for a model without timm feature taps."""
    fm = FeatureMap(model, image_size)
    places = fm.cut_outputs(layers=cutoffs == "layers") or fm.block_outputs()
    names = dict(source.named_modules())
    missing = [p.module for p in places if p.module not in names]
    if missing or sum(1 for _ in source.parameters()) != sum(1 for _ in model.parameters()):
        raise UserError(
            f"the fine-tuned model no longer has the source's structure (e.g. {missing[:1]}): SVCCA compares the"
            " same places before and after fine-tuning, so pick an `ft` cell"
        )
    return places


def ttl_matrix(result: CellResult, parent: CellResult | None, variant: str, note: str) -> str:
    """A one-cell matrix: the same dataset, architecture, source, seed and training, with `ttl@<variant>`."""
    c = result.config
    arch = {"name": c.architecture.name}
    if c.architecture.weights:
        arch["weights"] = c.architecture.weights
    source: dict = {"name": c.source.name}
    if parent is not None:
        source["train"] = parent.config.train.model_dump()  # the intermediate stage exactly as it ran
    doc = {
        "name": f"{result.matrix}-svcca-ttl",
        "description": f"TTL at the SVCCA truncation point of {result.slug} (Peng et al. 2023, App. C.1, step 5)",
        "datasets": [{"name": c.dataset.name, "metrics": c.dataset.metrics}],
        "architectures": [arch],
        "sources": [source],
        "strategies": [f"ttl@{variant}"],
        "seeds": [c.seed],
        "train": c.train.model_dump(),
    }
    header = "".join(f"# {line}\n" for line in note.splitlines())
    return header + yaml.safe_dump(doc, sort_keys=False, width=110)


def _write_ttl(path: Path, paths: RunPaths, result: CellResult, variant: str, reason: str) -> Path:
    """Write the TTL matrix; if this build cannot expand it (no `ttl` yet, unknown variant), say so in it."""
    parent = find_cell(paths, result.parents[-1]) if result.parents else None
    note = f"{reason}.\nRun: medtl-bench run {path}"
    atomic_write_bytes(path, ttl_matrix(result, parent, variant, note).encode())
    try:
        load_matrix(str(path), SuiteCatalog())
    except UserError as exc:
        note += f"\nNOTE: this build cannot expand it yet: {exc}"
        atomic_write_bytes(path, ttl_matrix(result, parent, variant, note).encode())
    return path


def _summary(places: list[PlaceResult], decision: str) -> str:
    rows = [
        [
            p.place.label,
            p.place.module,
            p.samples,
            f"{p.kept[0]}/{p.kept[1]}",
            p.real.mean(),
            p.random.mean(),
            p.comparison.effect,
            "overlap" if p.comparison.overlaps else "",
        ]
        for p in places
    ]
    headers = ["cut point", "module", "points", "kept", "mean ρ", "random ρ", "A", ""]
    warnings = [f"warning: {p.place.label}: {w}" for p in places for w in p.warnings]
    return "\n".join([tabulate(rows, headers=headers, floatfmt=".3f"), *warnings, decision])


def _manifest(
    result: CellResult, opts: SvccaOptions, images: int, outcome: list[PlaceResult], detection: Detection
) -> dict:
    labels = [p.place.label for p in outcome]
    first, cutoff = detection.first_overlap, detection.cutoff
    return {
        "kind": "svcca",
        "title": f"SVCCA before vs after fine-tuning: {label(result)} on {result.config.dataset.name}",
        "cell": {
            "id": result.cell_id,
            "slug": result.slug,
            "label": label(result),
            "dataset": result.config.dataset.name,
            "strategy": result.config.strategy.name,
            "source": result.config.source.name,
        },
        "cutoffs": opts.cutoffs,
        "held_out": {"splits": list(opts.splits), "images": images},
        "criterion": CRITERION.format(max_effect=opts.max_effect),
        "options": asdict(opts),
        "first_overlap": labels[first] if first is not None else None,
        "cutoff": labels[cutoff] if cutoff is not None else None,
        "suggested": f"ttl@{labels[cutoff]}" if cutoff is not None else None,
        "reason": detection.describe(labels),
        "ttl_matrix": None,
        "places": [p.as_dict() for p in outcome],
    }


def svcca_report(
    results_dir: str | Path,
    cell: str,
    opts: SvccaOptions,
    emit_ttl: bool = False,
    out: Path | None = None,
    device: torch.device | None = None,
) -> tuple[str, list[Path]]:
    """Steps 1–5 on one cell: the summary table, and the files written (figure, manifest, TTL matrix)."""
    paths = results_paths(results_dir)
    result = find_cell(paths, cell)
    require_checkpoints(paths, [result], with_parents=True)
    folder = out or paths.analysis("svcca")
    figure = inside(paths.root, folder / f"{result.slug}.png")  # checked before the work: --out stays inside
    ttl = inside(paths.root, folder / f"{result.slug}.ttl.yaml")
    trained = load_trained(paths, result)
    device = device or torch.device("cpu")
    model, source = trained.model.to(device), load_source(paths, result).to(device)
    places = _places(model, source, trained.image_size, opts.cutoffs)
    images = _held_out(result, opts.splits)
    outcome, detection = run_svcca(model, source, trained.norm, images, places, opts)
    manifest = _manifest(result, opts, len(images), outcome, detection)
    curves = [
        SvccaCurve(p.place.label, p.real, p.random, p.comparison.overlaps, p.comparison.effect)
        for p in outcome
    ]
    svcca_figure(curves, detection.cutoff, figure, manifest["title"], manifest["reason"], opts.max_effect)
    written = [figure]
    if emit_ttl and manifest["cutoff"]:
        written.append(_write_ttl(ttl, paths, result, manifest["cutoff"], manifest["reason"]))
        manifest["ttl_matrix"] = ttl.name
    written.insert(1, write_manifest(figure, manifest))
    summary = _summary(outcome, manifest["reason"])
    if manifest["suggested"]:
        summary += f"\nsuggested: {manifest['suggested']}"
    if result.config.strategy.name != "ft":
        summary += (
            f"\nnote: Peng's procedure starts from an ft cell; this one is {result.config.strategy.name}"
        )
    return summary, written
