"""The leaderboard's Analysis section: links to the CAM grids and SVCCA curves that `medtl-bench analyze` wrote.

The output depends only on the manifests (suite/results/layout.py), in file-name order, so the leaderboard stays a
pure function of its inputs; nothing is printed when no analysis ran.
"""

from __future__ import annotations

import os
from pathlib import Path

from suite.results import Artifact, RunPaths, list_artifacts


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


def analysis_section(paths: RunPaths, base: Path | None = None) -> list[str]:
    """The section's lines, links relative to `base` (default: the matrix's results folder); [] when none."""
    artifacts = list_artifacts(paths)
    if not artifacts:
        return []
    base = base if base is not None else paths.root
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
    return lines
