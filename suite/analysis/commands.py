"""`medtl-bench analyze cam | svcca`: the two analyses of finished cells, from the command line.

The parser is defined here (and hooked into suite/cli.py with one call) so that the analysis options live beside the
code that reads them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from suite.analysis import MEDIUM_EFFECT
from suite.errors import UserError

LAYERS_HELP = (
    "blocks (every block but the stem and head; layer1..layer4 on ResNet), all (with the stem), or a comma list"
    " of block names (block2) or module names (layer3)"
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `analyze cam` and `analyze svcca` under the top-level parser."""
    analyze = sub.add_parser(
        "analyze", help="class-activation maps and SVCCA truncation points of finished cells"
    )
    asub = analyze.add_subparsers(dest="action", required=True)
    cam = asub.add_parser("cam", help="LayerCAM / Grad-CAM per block on test images (Fang et al.)")
    cam.add_argument("results_dir", help="a matrix's results folder, e.g. results/cpu-two-step")
    cam.add_argument(
        "--cells",
        nargs="+",
        required=True,
        metavar="CELL",
        help="id, slug or 'key=value ...' each; two or more compare side by side",
    )
    cam.add_argument("--images", type=int, default=4, help="test images drawn with --seed, classes in turn")
    cam.add_argument("--ids", help="comma-separated test image ids instead of a draw")
    cam.add_argument("--seed", type=int, default=0)
    cam.add_argument("--layers", default="blocks", help=LAYERS_HELP)
    cam.add_argument("--method", choices=["layercam", "gradcam"], default="layercam")
    cam.add_argument(
        "--target", default="true", help="class each map explains: true (default), pred, or a name"
    )
    cam.add_argument("--out", type=Path, help="PNG path (default: RESULTS_DIR/analysis/cam/...)")
    cam.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    sv = asub.add_parser("svcca", help="Peng's SVCCA truncation-point detection on a fine-tuned cell")
    sv.add_argument("results_dir")
    sv.add_argument("--cell", required=True, help="the fine-tuned (ft) cell: id, slug or 'key=value ...'")
    sv.add_argument(
        "--cutoffs",
        choices=["blocks", "layers"],
        default="blocks",
        help="TTL's block cuts (blockK), or also its layer cuts inside stages (layerK.J, Peng's stage 2)",
    )
    sv.add_argument("--splits", default="val,test", help="held-out splits whose images are used")
    sv.add_argument(
        "--max-samples", type=int, default=5000, help="data points (image × position) per cut point"
    )
    sv.add_argument("--draws", type=int, default=10, help="random-baseline draws")
    sv.add_argument("--baseline", choices=["gaussian", "shuffle"], default="gaussian")
    sv.add_argument(
        "--max-effect",
        type=float,
        default=MEDIUM_EFFECT,
        help="overlap when A = P(real > random) is at most this",
    )
    sv.add_argument("--variance", type=float, default=0.99, help="variance kept by the PCA step")
    sv.add_argument("--seed", type=int, default=0)
    sv.add_argument("--emit-ttl", action="store_true", help="write the ttl@<cut point> matrix, ready to run")
    sv.add_argument("--out", type=Path, help="folder (default: RESULTS_DIR/analysis/svcca)")
    sv.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")


def _device(name: str):
    import torch

    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device here; use --device cpu")
    return torch.device("cuda" if name == "cuda" or (name == "auto" and torch.cuda.is_available()) else "cpu")


def analyze_command(args: argparse.Namespace) -> int:
    if args.action == "cam":
        from suite.analysis.cam import cam_report

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
    from suite.analysis.transfer import SvccaOptions
    from suite.analysis.truncation import svcca_report

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
