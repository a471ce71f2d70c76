"""`medtl-bench weights fetch MATRIX`: download every pretrained weight a matrix needs (on an online machine)."""

from __future__ import annotations

from suite.commands import load_checked
from suite.models.catalog import resolve_architecture
from suite.models.weights import fetch


def fetch_weights(matrix_name: str) -> str:
    matrix = load_checked(matrix_name)
    wanted = {
        (c.config.architecture.name, c.config.architecture.weights)
        for c in matrix.cells
        if c.config.source.name != "scratch"
    }
    lines = []
    for name, weights in sorted(wanted, key=str):
        spec = resolve_architecture(name, weights=weights)
        lines.append(f"{spec.pretrained_id}: {fetch(spec)}")
    return "\n".join(lines) or "no pretrained weights needed"
