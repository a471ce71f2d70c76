"""The leaderboard's Analysis section: links to the CAM grids and SVCCA curves that `medtl-bench analyze` wrote.

The output depends only on the manifests (suite/results/layout.py), in file-name order, so the leaderboard stays a
pure function of its inputs; nothing is printed when no analysis ran. The markdown links each figure; the HTML
page also shows it inline (a Figure block with `markdown=False`).
"""

from __future__ import annotations

import os
from pathlib import Path

from suite.document import Block, Bullets, Figure, Heading, Para, table
from suite.results import Artifact, RunPaths, list_artifacts


def _link(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path, base)).as_posix()


def _svcca_row(a: Artifact, base: Path) -> list[str]:
    m = a.manifest
    ttl = m.get("ttl_matrix")
    suggested = f"`{m['suggested']}`" if m.get("suggested") else "none"
    if ttl:
        suggested += f" ([matrix]({_link(a.figure.parent / ttl, base)}))"
    first = m.get("first_overlap") or "none"
    cell = f"{m['cell']['dataset']}: {m['cell']['label']}"
    return [cell, f"{len(m['places'])} {m['cutoffs']}", first, suggested, f"[plot]({_link(a.figure, base)})"]


def _figures(artifacts: list[Artifact], base: Path) -> list[Block]:
    return [Figure(_link(a.figure, base), a.title, markdown=False) for a in artifacts]


def analysis_section(paths: RunPaths, base: Path | None = None) -> list[Block]:
    """The section's blocks, links relative to `base` (default: the matrix's results folder); [] when none."""
    artifacts = list_artifacts(paths)
    if not artifacts:
        return []
    base = base if base is not None else paths.root
    blocks: list[Block] = [Heading(2, "Analysis")]
    cams = [a for a in artifacts if a.kind == "cam"]
    if cams:
        links = Bullets(tuple(f"[{a.title}]({_link(a.figure, base)})" for a in cams))
        blocks += [Heading(3, "Class-activation maps per block"), links, *_figures(cams, base)]
    svccas = [a for a in artifacts if a.kind == "svcca"]
    if svccas:
        criterion = svccas[0].manifest.get("criterion", "")
        header = ["cell", "cut points", "first overlap with random", "suggested TTL", "figure"]
        blocks += [
            Heading(3, "SVCCA truncation points (Peng et al. 2023, App. C.1)"),
            Para(f"Overlap criterion: {criterion}."),
            table(header, [_svcca_row(a, base) for a in svccas]),
            *_figures(svccas, base),
        ]
    return blocks
