"""Where the analyses write, and how the report finds them.

results/<matrix>/analysis/cam/<name>.png      a CAM grid, with <name>.json describing it
results/<matrix>/analysis/svcca/<slug>.png    SVCCA curves of one cell, with <slug>.json (every number) and,
                                              with --emit-ttl, <slug>.ttl.yaml (the TTL cell at the found cut point)

The leaderboard calls `analysis_markdown(results_dir)` and appends what it returns (nothing when no analysis ran).
The output depends only on the manifests, in file-name order, so the leaderboard stays a pure function of its inputs.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from suite.results import atomic_write_bytes

ANALYSIS = "analysis"
KINDS = ("cam", "svcca")


def analysis_dir(results_dir: Path, kind: str) -> Path:
    return Path(results_dir) / ANALYSIS / kind


def write_manifest(figure: Path, manifest: dict[str, Any]) -> Path:
    """`<figure>.json` beside the figure; `figure` is stored by name so the folder can move."""
    path = figure.with_suffix(".json")
    text = json.dumps({**manifest, "figure": figure.name}, indent=1, allow_nan=False, default=str)
    atomic_write_bytes(path, (text + "\n").encode())
    return path


@dataclass(frozen=True)
class Artifact:
    """One analysis figure of a matrix, as the report links it."""

    kind: str  # "cam" | "svcca"
    title: str
    figure: Path
    manifest: dict[str, Any]


def list_artifacts(results_dir: str | Path) -> list[Artifact]:
    """Every CAM and SVCCA figure under results_dir/analysis/ whose manifest and PNG both exist."""
    found = []
    for kind in KINDS:
        for path in sorted(analysis_dir(Path(results_dir), kind).glob("*.json")):
            try:
                manifest = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            figure = path.parent / manifest.get("figure", "")
            if manifest.get("kind") == kind and figure.is_file():
                found.append(Artifact(kind, manifest.get("title", figure.stem), figure, manifest))
    return found


def _link(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path, base)).as_posix()


def _svcca_row(a: Artifact, base: Path) -> str:
    m = a.manifest
    ttl = m.get("ttl_matrix")
    suggested = f"`{m['suggested']}`" if m.get("suggested") else "none"
    if ttl:
        suggested += f" ([matrix]({_link(a.figure.parent / ttl, base)}))"
    first = m.get("first_overlap") or "none"
    return (
        f"| {m['cell']['dataset']}: {m['cell']['label']} | {len(m['places'])} {m['cutoffs']} | {first} | {suggested} |"
        f" [plot]({_link(a.figure, base)}) |"
    )


def analysis_markdown(results_dir: str | Path, base: str | Path | None = None) -> str:
    """The leaderboard's analysis section: links relative to `base` (default: results_dir); "" when none."""
    artifacts = list_artifacts(results_dir)
    if not artifacts:
        return ""
    base = Path(base if base is not None else results_dir)
    lines = ["## Analysis", ""]
    cams = [a for a in artifacts if a.kind == "cam"]
    if cams:
        lines += ["### Class-activation maps per block", ""]
        lines += [f"- [{a.title}]({_link(a.figure, base)})" for a in cams]
        lines.append("")
    svccas = [a for a in artifacts if a.kind == "svcca"]
    if svccas:
        criterion = svccas[0].manifest.get("criterion", "")
        lines += [
            "### SVCCA truncation points (Peng et al. 2023, App. C.1)",
            "",
            f"Overlap criterion: {criterion}.",
            "",
            "| cell | cut points | first overlap with random | suggested TTL | figure |",
            "|---|---|---|---|---|",
            *[_svcca_row(a, base) for a in svccas],
            "",
        ]
    return "\n".join(lines)
