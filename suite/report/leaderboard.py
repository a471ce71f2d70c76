"""LEADERBOARD.md, LEADERBOARD.html, tables.tex, results.csv, summary.csv and plots/*.png|pdf from a matrix's
result files.

The leaderboard is a pure function of the matrix and its result files (plus `--compare`'s old folder): no clock,
everything in matrix order or sorted, so the same inputs give byte-identical files. The tables build one document
(suite/document.py) that renders to markdown, HTML and LaTeX, so the three cannot disagree. Every file is
rendered in memory first and written (each atomically) only when all of them rendered: a bad input stops the
report with one line (exit 2) before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from suite.document import Block, Bullets, Heading, Para, to_markdown
from suite.errors import UserError, did_you_mean
from suite.matrix import LoadedMatrix
from suite.matrix.report import CompareConfig, ReportConfig
from suite.report.analysis import analysis_section
from suite.report.collect import KEY, Collected, collect, collect_folder
from suite.report.compare import compare, regression_section
from suite.report.context import ReportContext, lock_modalities
from suite.report.header import header
from suite.report.html import html_page
from suite.report.latex import latex_tables
from suite.report.select import dataset_metrics, select
from suite.report.tables import chosen
from suite.results import RunPaths, atomic_write_many
from suite.results.latency import BatchOneLatency

LIST_CAP = 50  # failed / missing cells listed in the markdown; results.csv has every cell


@dataclass
class ReportOutcome:
    path: Path
    flagged: int = 0  # regressions against --compare: changes for the worse
    improved: int = 0  # changes for the better: listed, never a failure
    plots: list[Path] = field(default_factory=list)
    """The figures as PNG (each has a PDF beside it, in `files`)."""
    summary: str = ""
    files: list[Path] = field(default_factory=list)
    """Every file the report wrote."""
    unreadable: int = 0
    """Result files that could not be read (their cells count as missing; the board lists them)."""


def _check(config: ReportConfig, frame: pd.DataFrame) -> None:
    """Names in `report:` must be strategies of this matrix (a typo would silently select nothing)."""
    present = set(frame["base"]) if not frame.empty else set()
    named = [config.baseline] if "baseline" in config.model_fields_set else []
    for name in [*named, *config.variants]:
        if present and name not in present:
            raise UserError(f"report: strategy {did_you_mean(name, present)} (strategies of this matrix)")


def read_latency(path: Path) -> BatchOneLatency:
    """The matrix's latency.json, or one line naming it when it is damaged or of another format."""
    try:
        return BatchOneLatency.read(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        why = str(exc).removeprefix(f"{path}: ")
        raise UserError(
            f"{path}: not a usable latency file ({why}); rerun `make bench-latency` or remove it"
        ) from None


def context(matrix: LoadedMatrix, collected: Collected, paths: RunPaths) -> ReportContext:
    """Everything the tables read, with the rows chosen on validation."""
    config = matrix.spec.report
    return ReportContext(
        config=config,
        frame=collected.frame,
        all_rows=select(collected.frame, config),
        results=collected.results,
        paths=paths,
        runs_dir=collected.runs_dir or paths.runs,
        bench=read_latency(paths.latency),
        modalities=lock_modalities(),
    )


def dataset_section(ctx: ReportContext) -> list[Block]:
    """One dataset's heading and its per-dataset tables, in the order `report: tables:` gives."""
    dataset = ctx.dataset
    seeds = sorted(ctx.frame.loc[ctx.frame["dataset"] == dataset, "seed"].unique())
    blocks: list[Block] = [
        Heading(2, str(dataset)),
        Para(f"Seeds asked: {', '.join(map(str, seeds))}. Main metric: {ctx.metrics[0]}."),
    ]
    if not any(r.n_ok for r in ctx.rows):
        return [*blocks, Para("No finished cell yet.")]
    blocks += split_line(ctx)
    for table in chosen(ctx.config.tables, "dataset"):
        blocks += table.render(ctx)
    return blocks


def split_line(ctx: ReportContext) -> list[Block]:
    """The split the dataset's results were trained and reported on, beside the paper's published sizes when the
    lock has them, and whether any patient has images in two splits (from the first finished result's record)."""
    record = next(
        (r.data for r in ctx.results.values() if r.status == "ok" and r.config.dataset.name == ctx.dataset),
        None,
    )
    if not record or not record.get("split_sizes"):
        return []
    sizes = record["split_sizes"]
    text = "Split: " + " / ".join(f"{k} {v:,}" for k, v in sizes.items()) + " images"
    published = record.get("published_split_sizes") or {}
    if published and set(published) == set(sizes):
        deltas = " / ".join(f"{sizes[k] - published[k]:+d}" for k in sizes)
        text += f" (published {' / '.join(f'{published[k]:,}' for k in sizes)}: Δ {deltas})"
    if "test" not in sizes:
        text += "; no test split, so the numbers below are validation, not held out"
    leaked = record.get("patients_in_two_splits") or 0
    if leaked:
        text += f"; {leaked:,} patient(s) have images in more than one split (not leakage-free)"
    return [Para(text + ".")]


def tail(frame: pd.DataFrame, unreadable: dict[str, str] | None = None, matrix: str = "") -> list[Block]:
    """Failed cells with their reasons, result files that could not be read, and missing cells grouped over seeds
    (each list capped)."""
    damaged = [f"`runs/{name}`: {why}" for name, why in (unreadable or {}).items()]
    if damaged:
        damaged.append(f"their cells count as missing; `medtl-bench run {matrix}` computes them again")
    if frame.empty:
        return _listing("Unreadable result files", damaged)
    failed = [
        f"`{r.id}` {r.dataset} / {r.architecture} / {r.source} / {r.strategy}"
        f"{' / ' + r.sweep if r.sweep else ''} / seed {r.seed}: {r.error}"
        for r in frame[frame["status"] == "failed"].itertuples()
    ]
    groups = frame[frame["status"] == "missing"].groupby(
        ["dataset", "architecture", "source", "strategy", "sweep"], sort=False
    )
    missing = [
        f"{d} / {a} / {s} / {st}{' / ' + sw if sw else ''}: {len(g)} seed(s)"
        for (d, a, s, st, sw), g in groups
    ]
    return (
        _listing("Failed cells", failed)
        + _listing("Unreadable result files", damaged, cap=LIST_CAP + 1)
        + _listing("Missing cells", missing)
    )


def _listing(title: str, items: list[str], cap: int = LIST_CAP) -> list[Block]:
    if not items:
        return []
    more = [f"… and {len(items) - cap} more (all are in results.csv)"] if len(items) > cap else []
    return [Heading(2, title), Bullets(tuple([*items[:cap], *more]))]


def _csvs(ctx: ReportContext) -> dict[str, bytes]:
    """results.csv (one row per cell) and summary.csv (one row per table row × metric), as bytes."""
    frame = ctx.frame.drop(columns=["order"], errors="ignore")
    if not frame.empty:
        frame = frame.assign(metrics=frame["metrics"].map(";".join)).sort_values(KEY, kind="stable")
    out = {"results.csv": frame.to_csv(index=False, lineterminator="\n").encode()}
    records = []
    for row in ctx.all_rows:
        metrics = dataset_metrics(ctx.frame, row.dataset, ctx.config)
        for m in metrics:
            s = row.metric(m)
            records.append(
                {
                    "dataset": row.dataset,
                    "source": row.source,
                    "architecture": row.architecture,
                    "row": row.label,
                    "choice": row.choice,
                    "split": row.split,
                    "metric": m,
                    "mean": s.mean,
                    "se": s.se,
                    "n_defined": s.n,
                    "seeds_finished": row.n_ok,
                    "seeds_asked": row.expected,
                }
            )
    out["summary.csv"] = pd.DataFrame(records).to_csv(index=False, lineterminator="\n").encode()
    return out


def write_report(
    matrix: LoadedMatrix,
    paths: RunPaths,
    compare_dir: Path | None = None,
    compare_cfg: CompareConfig | None = None,
) -> ReportOutcome:
    """Write the leaderboard; with `compare_dir`, add the regression section and count what it flags."""
    collected = collect(matrix.cells, paths)
    _check(matrix.spec.report, collected.frame)
    ctx = context(matrix, collected, paths)
    body: list[Block] = []
    for dataset in ctx.datasets:
        body += dataset_section(ctx.for_dataset(dataset))
    for table in chosen(ctx.config.tables, "matrix"):
        body += table.render(ctx)
    body += tail(ctx.frame, collected.unreadable, matrix.name)
    body += analysis_section(paths)
    outcome = ReportOutcome(paths.root / "LEADERBOARD.md", unreadable=len(collected.unreadable))
    if compare_dir is not None:
        cfg = compare_cfg or ctx.config.compare
        cmp = compare(collected, collect_folder(resolve_old(compare_dir, matrix.name)), cfg)
        body += regression_section(cmp, str(compare_dir), cfg)
        outcome.flagged, outcome.improved = cmp.flagged, len(cmp.better)
        outcome.summary = "\n".join(
            f"  {' / '.join(f[:4])}: {f[4]} {f[5]} → {f[6]} ({f[7]})" for f in cmp.flags
        )
    document = [*header(matrix, collected, ctx.all_rows), *body]
    files = rendered_files(document, ctx, f"Leaderboard: {matrix.name}")
    write_all(files)
    _prune_plots(paths.plots, list(ctx.files))
    outcome.plots, outcome.files = ctx.pngs, list(files)
    return outcome


def rendered_files(document: list[Block], ctx: ReportContext, title: str) -> dict[Path, bytes]:
    """Every file of the report, in memory: the three renderings of the document, the CSVs and the figures."""
    root = ctx.paths.root
    files = {
        root / "LEADERBOARD.md": to_markdown(document).encode(),
        root / "LEADERBOARD.html": html_page(document, title, root, ctx.files).encode(),
        root / "tables.tex": latex_tables(document, title).encode(),
        **{root / name: data for name, data in _csvs(ctx).items()},
    }
    return {**files, **ctx.files}


def write_all(files: dict[Path, bytes]) -> None:
    """Write every file of the report as one step (suite/results/store.py: all staged before any is renamed into
    place); a folder that cannot be written is one line, and the previous report stays as it was."""
    try:
        atomic_write_many(files)
    except OSError as exc:
        folder = next(iter(files)).parent
        raise UserError(f"{folder}: cannot write the report there ({exc.strerror or exc})") from None


def resolve_old(folder: Path, matrix_name: str) -> Path:
    """Accept results/<matrix>, its runs/ folder, or a results root that holds <matrix>/runs."""
    for candidate in (folder / "runs", folder, folder / matrix_name / "runs"):
        if candidate.is_dir() and any(candidate.glob("*.json")):
            return candidate
    raise UserError(
        f"--compare {folder}: no result files there (give results/{matrix_name}, its runs/ folder, or a results root)"
    )


def _prune_plots(folder: Path, written: list[Path]) -> None:
    """Remove figures (PNG and PDF) a previous report wrote that this one did not, so plots/ matches it."""
    keep = {p.name for p in written}
    if folder.is_dir():
        for figure in sorted([*folder.glob("*.png"), *folder.glob("*.pdf")]):
            if figure.name not in keep:
                figure.unlink()
