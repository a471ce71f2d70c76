"""The command line: `medtl-bench run | report | list | data | weights | profile | analyze`. Parsing and calling only."""

from __future__ import annotations

import argparse
import errno
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from suite.analysis import MEDIUM_EFFECT
from suite.argtypes import at_least, batch_sizes, positive
from suite.errors import UserError
from suite.matrix.expand import DEFAULT_MAX_CELLS


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as the one line every other user mistake gets (argparse prints the usage first);
    `--help` still prints the usage."""

    def error(self, message: str) -> NoReturn:
        verb = self.prog.removeprefix("medtl-bench").strip()
        self.exit(
            2, f"medtl-bench: error: {verb + ': ' if verb else ''}{_one_line(message)} (see {self.prog} -h)\n"
        )


def _one_line(text: str) -> str:
    """`text` with every line break (any that `str.splitlines` knows) replaced by a space."""
    return " ".join(text.splitlines())


def _max_cells(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-cells",
        type=at_least(1),
        default=DEFAULT_MAX_CELLS,
        metavar="N",
        help=f"refuse a matrix of more cells than this (default {DEFAULT_MAX_CELLS:,})",
    )


class _Version(argparse.Action):
    """argparse's `version` action wraps long lines; a path must stay on one line."""

    def __call__(self, parser, namespace, values, option_string=None) -> NoReturn:
        print(_version())
        parser.exit()


def _version() -> str:
    """`medtl-bench 0.1.0 (checkout /path, git abc1234)` or `(installed package /path)`: which code and files."""
    import suite
    from suite.environment import git_state
    from suite.paths import CHECKOUT, PACKAGED

    if PACKAGED.is_dir():
        return f"medtl-bench {suite.__version__} (installed package {PACKAGED.parent})"
    git = git_state()
    dirty = ", uncommitted changes" if git["git_dirty"] else ""
    return f"medtl-bench {suite.__version__} (checkout {CHECKOUT}, git {git['git_sha'][:12]}{dirty})"


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="medtl-bench", description=__doc__)
    p.add_argument("--version", action=_Version, nargs=0, help="which code and files this is, and exit")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run", help="run a matrix (resumes: finished cells are skipped), then write its report"
    )
    run.add_argument("matrix", help="a name in benchmarks/ or a path to a YAML file")
    run.add_argument("--results", default="results", help="results root (default: results)")
    run.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="keep cells matching, e.g. strategy=ft,lp arch=resnet18 (repeatable, globs allowed)",
    )
    run.add_argument("--shard", help="run shard i of n (i/n), deterministic")
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="print the cells, counts per axis, what is missing and the estimated cost; run nothing",
    )
    run.add_argument(
        "--list", action="store_true", help="with --dry-run: list every cell (default: the first 40)"
    )
    run.add_argument(
        "--throughput",
        type=Path,
        metavar="FILE",
        help="with --dry-run: YAML `gmacs_per_s: N` of the machine that will run (default: calibrated here)",
    )
    run.add_argument("--executor", default="local", choices=["local", "docker", "slurm"])
    run.add_argument(
        "--jobs",
        type=at_least(1),
        help="cells at a time (local: 1 on the CPU; local and docker: GPUs × --cells-per-gpu; slurm: array"
        " parallelism)",
    )
    run.add_argument(
        "--cells-per-gpu",
        type=at_least(1),
        metavar="N",
        help="local and docker: cells sharing one GPU (default: what fits the free memory, from the GPU peak"
        " finished cells recorded; 1 until one has)",
    )
    ex = run.add_argument_group("docker and slurm executors (override the matrix's executor: section)")
    ex.add_argument("--image", help="docker image (default medtl-bench:latest)")
    ex.add_argument("--gpus", help="docker: all (default; the CPU if none), none, or ids such as 0,1")
    ex.add_argument(
        "--memory",
        help="memory limit per cell, e.g. 16g (docker: the container's; slurm: the task's; local: address space "
        "beyond the imports, RLIMIT_AS)",
    )
    ex.add_argument("--cpus", type=positive, help="CPU cores per cell")
    ex.add_argument("--partition", help="slurm partition")
    ex.add_argument("--account", help="slurm account")
    ex.add_argument(
        "--time",
        type=at_least(1),
        metavar="MIN",
        help="slurm time limit per task (default: train.timeout_min)",
    )
    run.add_argument(
        "--no-retry-failed", action="store_true", help="keep failed results instead of rerunning"
    )
    run.add_argument(
        "--recompute",
        action="store_true",
        help="run the chosen cells (--only) again even if they finished, e.g. to rebuild the checkpoints an "
        "analysis reads; a finished result is replaced only by a finished one",
    )
    run.add_argument("--no-report", action="store_true")
    _max_cells(run)
    run.add_argument(
        "--allow-unverified",
        action="store_true",
        help="train on data that does not match datasets.lock; each result records it",
    )

    rep = sub.add_parser("report", help="write LEADERBOARD.md, results.csv and plots/ from the result files")
    rep.add_argument("matrix")
    rep.add_argument("--results", default="results")
    rep.add_argument(
        "--compare",
        metavar="OLD_RESULTS_DIR",
        help="add a regression section against older results; exit 1 on a change for the worse (improvements never fail)",
    )
    rep.add_argument(
        "--k", type=positive, help="flag metric changes beyond k·SE (default: report.compare.k, 2)"
    )
    rep.add_argument(
        "--latency-pct",
        type=positive,
        help="flag latency changes beyond this %% (default: report.compare, 10)",
    )
    _max_cells(rep)

    lst = sub.add_parser("list", help="what is registered")
    lst.add_argument("what", nargs="?", choices=["datasets", "architectures", "strategies"])

    data = sub.add_parser("data", help="make, lock, verify, add and inspect datasets")
    dsub = data.add_subparsers(dest="action", required=True)
    dsub.add_parser("make", help="materialise an embedded synthetic dataset").add_argument("name")
    lock = dsub.add_parser("lock", help="compute digests and write them into datasets.lock")
    lock.add_argument("name")
    lock.add_argument(
        "--root", help="where the data is (default: $MEDTL_DATA/<root or name>); recorded in the lock"
    )
    fetch = dsub.add_parser(
        "fetch", help="download a dataset with a public URL and checksum (MedMNIST), check it and lock it"
    )
    fetch.add_argument("name")
    verify = dsub.add_parser(
        "verify",
        help="check files against datasets.lock: exit 2 when one is changed or incomplete, or a named one missing",
    )
    verify.add_argument(
        "names", nargs="*", metavar="NAME", help="datasets to check (default: every one installed)"
    )
    verify.add_argument(
        "--strict", action="store_true", help="without names: also fail when a dataset is not installed"
    )
    dsub.add_parser("splits", help="counts per split and class, and leakage").add_argument("name")
    add = dsub.add_parser(
        "add", help="add your own class-folder dataset (<folder>/<class>/<image>) and lock it"
    )
    add.add_argument("name")
    add.add_argument("--folder", required=True, help="the folder holding one sub-folder per class")
    add.add_argument("--modality", default="other", help="x-ray, mri, histology, dermoscopy, endoscopy, ...")
    add.add_argument("--patient-pattern", help="regex on file names; its first group is the patient id")

    weights = sub.add_parser("weights", help="pretrained weights")
    wsub = weights.add_subparsers(dest="action", required=True)
    wfetch = wsub.add_parser(
        "fetch", help="download the weights a matrix or --arch needs into the local cache"
    )
    wfetch.add_argument("matrix", nargs="?", help="a matrix: every pretrained weight its cells need")
    wfetch.add_argument(
        "--arch",
        action="append",
        default=[],
        metavar="NAME[.TAG]",
        help="an architecture's weights (repeatable): resnet18, resnet18.a1_in1k or timm:<model>[.<tag>]",
    )
    _profile_parser(sub)
    _analyze_parser(sub)
    return p


def _profile_parser(sub) -> None:
    prof = sub.add_parser(
        "profile", help="params, MACs (fvcore and thop), latency, peak memory and throughput of one model"
    )
    prof.add_argument(
        "architecture", help="a suite architecture (medtl-bench list architectures) or timm:<model>"
    )
    prof.add_argument(
        "--strategy", default="ft", help="prepare the model as this strategy does, e.g. ttl@block3"
    )
    prof.add_argument(
        "--image-size", type=at_least(8), help="input side in pixels (default: the architecture's)"
    )
    prof.add_argument("--num-classes", type=at_least(2), default=1000, help="head size (default: 1000)")
    prof.add_argument("--pretrained", action="store_true", help="load the ImageNet weights (default: random)")
    prof.add_argument("--json", action="store_true", help="print the result fields as JSON")
    prof.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    prof.add_argument(
        "--batch-sizes", type=batch_sizes, default=(1, 32), help="latency batches (default: 1,32)"
    )
    prof.add_argument("--warmup", type=int, default=10, help="untimed calls per batch size (default: 10)")
    prof.add_argument("--iterations", type=int, default=30, help="timed calls per batch size (default: 30)")
    prof.add_argument("--threads", type=at_least(1), help="torch CPU threads (default: torch's)")
    prof.add_argument("--amp", action="store_true", help="bf16 autocast (GPU only)")
    prof.add_argument("--channels-last", action="store_true", help="channels_last memory format (GPU only)")
    prof.add_argument("--no-latency", dest="latency", action="store_false", help="skip latency")
    prof.add_argument("--no-train", dest="train", action="store_false", help="skip memory and throughput")
    prof.add_argument(
        "--train-batch-size", type=int, default=32, help="synthetic training batch (default: 32)"
    )
    prof.add_argument(
        "--train-steps", type=int, default=3, help="timed synthetic training steps (default: 3)"
    )


LAYERS_HELP = (
    "blocks (every block but the stem and head; layer1..layer4 on ResNet), all (with the stem), or a comma list"
    " of block names (block2) or module names (layer3)"
)


def _analyze_parser(sub) -> None:
    """`analyze cam` and `analyze svcca`."""
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
    cam.add_argument(
        "--images", type=at_least(1), default=4, help="test images drawn with --seed, classes in turn"
    )
    cam.add_argument("--ids", help="comma-separated test image ids instead of a draw")
    cam.add_argument("--seed", type=at_least(0), default=0)
    cam.add_argument("--layers", default="blocks", help=LAYERS_HELP)
    cam.add_argument("--method", choices=["layercam", "gradcam"], default="layercam")
    cam.add_argument(
        "--target", default="true", help="class each map explains: true (default), pred, or a name"
    )
    cam.add_argument(
        "--out", type=Path, help="PNG path inside RESULTS_DIR (default: RESULTS_DIR/analysis/cam/...)"
    )
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
        "--max-samples", type=at_least(2), default=5000, help="data points (image × position) per cut point"
    )
    sv.add_argument("--draws", type=at_least(1), default=10, help="random-baseline draws")
    sv.add_argument("--baseline", choices=["gaussian", "shuffle"], default="gaussian")
    sv.add_argument(
        "--max-effect",
        type=float,
        default=MEDIUM_EFFECT,
        help="overlap when A = P(real > random) is at most this",
    )
    sv.add_argument("--variance", type=float, default=0.99, help="variance kept by the PCA step")
    sv.add_argument("--seed", type=at_least(0), default=0)
    sv.add_argument("--emit-ttl", action="store_true", help="write the ttl@<cut point> matrix, ready to run")
    sv.add_argument(
        "--out", type=Path, help="folder inside RESULTS_DIR (default: RESULTS_DIR/analysis/svcca)"
    )
    sv.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")


def _dispatch(args: argparse.Namespace) -> int:
    """Import only the verb's module: `list` and `report` never load torch."""
    if args.command == "run":
        from suite.commands.run import run_command

        return run_command(args)
    if args.command == "report":
        from suite.commands.report import report_command

        return report_command(args)
    if args.command == "list":
        from suite.commands.listing import list_command

        print(list_command(args.what))
        return 0
    if args.command == "data":
        from suite.commands.data import dispatch

        return dispatch(args)
    if args.command == "profile":
        from suite.commands.profile import profile_command

        print(profile_command(args))
        return 0
    if args.command == "weights":
        from suite.commands.weights import weights_command

        return weights_command(args)
    if args.command == "analyze":
        from suite.commands.analyze import analyze_command

        return analyze_command(args)
    raise AssertionError(args.command)


# The disk, not the user or a cell: a full or read-only file system ends the run in one line.
_STORAGE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)


def main(argv: Sequence[str] | None = None) -> int:
    """Exit codes: 0 done, 1 some cell failed (or `report --compare` flagged a regression), 2 a user mistake (one
    line on stderr, nothing written), 130 interrupted."""
    try:
        args = _parser().parse_args(argv)
    except (
        SystemExit
    ) as exc:  # a bad argument (2) or --help (0): returned, so in-process callers get the code
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return _dispatch(args)
    except UserError as exc:
        # one line whatever the message holds (a file name or YAML key with a newline in it)
        print(f"medtl-bench: error: {_one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("medtl-bench: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        if exc.errno not in _STORAGE_ERRORS:
            raise
        where = f"cannot write {exc.filename}" if exc.filename else "cannot write"
        print(
            f"medtl-bench: error: {where}: {exc.strerror} (finished results are kept; make room and run again)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
