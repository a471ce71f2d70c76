"""`medtl-bench weights fetch [MATRIX] [--arch NAME ...]`: download pretrained weights on an online machine.

Every weight is reported on its own line: where it is now, or (on stderr) why it could not be fetched and the command
to run again where the hub can be reached. Any weight left missing makes the exit code 2.
"""

from __future__ import annotations

import argparse
import sys

from suite.errors import MissingWeightsError, UserError
from suite.models.catalog import TIMM_PREFIX, ArchSpec, resolve_architecture
from suite.models.weights import fetch


def arch_spec(text: str) -> ArchSpec:
    """`resnet18`, `resnet18.a1_in1k` (other weights of a suite architecture) or `timm:<model>[.<tag>]`."""
    if text.startswith(TIMM_PREFIX):
        return resolve_architecture(text)
    name, _, tag = text.partition(".")
    return resolve_architecture(name, weights=tag or None)


def _matrix_specs(matrix_name: str) -> list[ArchSpec]:
    from suite.commands import load_checked

    matrix = load_checked(matrix_name)
    wanted = {
        (c.config.architecture.name, c.config.architecture.weights)
        for c in matrix.cells
        if c.config.source.name != "scratch"
    }
    return [resolve_architecture(name, weights=weights) for name, weights in sorted(wanted, key=str)]


def wanted(matrix: str | None, archs: list[str]) -> list[tuple[ArchSpec, str]]:
    """Each weight asked for, once, with the command that asked for it (named again when it fails)."""
    if not matrix and not archs:
        raise UserError("weights fetch: name a matrix, or architectures with --arch NAME (repeatable)")
    asked = (
        [(spec, f"medtl-bench weights fetch {matrix}") for spec in _matrix_specs(matrix)] if matrix else []
    )
    asked += [(arch_spec(a), f"medtl-bench weights fetch --arch {a}") for a in archs]
    seen, out = set(), []
    for spec, command in asked:
        if spec.pretrained_id not in seen:
            seen.add(spec.pretrained_id)
            out.append((spec, command))
    return out


def fetch_weights(matrix: str | None, archs: list[str]) -> tuple[list[str], list[str]]:
    """(lines for what is now cached, one error line per weight still missing)."""
    done, missing, unreachable = [], [], {}
    for spec, command in wanted(matrix, archs):
        try:
            done.append(f"{spec.pretrained_id}: {fetch(spec, unreachable)}")
        except MissingWeightsError as exc:
            missing.append(f"{exc.reason}; run `{command}` again where the hub can be reached")
    return done, missing


def weights_command(args: argparse.Namespace) -> int:
    done, missing = fetch_weights(args.matrix, args.arch)
    if done or not missing:
        print("\n".join(done) or "no pretrained weights needed")
    for line in missing:
        print(f"medtl-bench: error: {line}", file=sys.stderr)
    return 2 if missing else 0
