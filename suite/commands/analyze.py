"""`medtl-bench analyze cam | svcca`: the two analyses of finished cells (the options are parsed in suite/cli.py)."""

from __future__ import annotations

import argparse

import torch

from suite.analysis.cam import cam_report
from suite.analysis.transfer import SvccaOptions
from suite.analysis.truncation import svcca_report
from suite.errors import UserError


def _device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device here; use --device cpu")
    return torch.device("cuda" if name == "cuda" or (name == "auto" and torch.cuda.is_available()) else "cpu")


def analyze_command(args: argparse.Namespace) -> int:
    if args.action == "cam":
        path = cam_report(
            args.results_dir,
            args.cells,
            images=args.images,
            ids=[i.strip() for i in args.ids.split(",")] if args.ids else None,
            seed=args.seed,
            layers=args.layers,
            method=args.method,
            target=args.target,
            out=args.out,
            device=_device(args.device),
        )
        print(f"medtl-bench: wrote {path}")
        return 0
    if not 0 < args.variance <= 1 or args.draws < 1 or args.max_samples < 2:
        raise UserError("--variance must be in (0, 1], --draws ≥ 1 and --max-samples ≥ 2")
    opts = SvccaOptions(
        cutoffs=args.cutoffs,
        splits=tuple(s.strip() for s in args.splits.split(",")),
        max_samples=args.max_samples,
        draws=args.draws,
        baseline=args.baseline,
        max_effect=args.max_effect,
        variance=args.variance,
        seed=args.seed,
    )
    summary, written = svcca_report(
        args.results_dir, args.cell, opts, args.emit_ttl, args.out, _device(args.device)
    )
    print(summary)
    for path in written:
        print(f"medtl-bench: wrote {path}")
    return 0
