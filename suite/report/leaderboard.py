"""LEADERBOARD.md, results.csv, summary.csv and plots/*.png from a matrix's result files.

The leaderboard is a pure function of the matrix and its result files (plus `--compare`'s old folder): no clock,
everything in matrix order or sorted, so the same inputs give byte-identical files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from suite.errors import UserError, did_you_mean
from suite.matrix import LoadedMatrix
from suite.profiling.benchfile import BatchOneLatency
from suite.report import plots
from suite.report.collect import KEY, Collected, collect, collect_folder
from suite.report.compare import compare, regression_section
from suite.report.config import CompareConfig, ReportConfig
from suite.report.header import header
from suite.report.naming import source_label, strategy_label
from suite.report.select import Row, dataset_metrics, select
from suite.report.tables.davila import davila_table, selection_table
from suite.report.tables.efficiency import efficiency_table
from suite.report.tables.format import ordered
from suite.report.tables.per_class import per_class_table
from suite.report.tables.relative import changes, relative_table
from suite.report.tables.summary import best_table, effectiveness_table
from suite.results import atomic_write_bytes
from suite.runner.state import RunPaths

LIST_CAP = 50  # failed / missing cells listed in the markdown; results.csv has every cell


@dataclass
class ReportOutcome:
    path: Path
    flagged: int = 0
    plots: list[Path] = field(default_factory=list)
    summary: str = ""


def _slug(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(parts).replace(">", "-to-")).strip("_")


def _check(config: ReportConfig, frame: pd.DataFrame) -> None:
    """Names in `report:` must be strategies of this matrix (a typo would silently select nothing)."""
    present = set(frame["base"]) if not frame.empty else set()
    named = [config.baseline] if "baseline" in config.model_fields_set else []
    for name in [*named, *config.variants]:
        if present and name not in present:
            raise UserError(f"report: strategy {did_you_mean(name, present)} (strategies of this matrix)")


def _domains() -> dict[str, str]:
    """Modality per dataset from datasets.lock (Davila's "medical domain" column); empty if unavailable."""
    try:
        from suite.data.lock import load_lock

        return {name: entry.modality for name, entry in load_lock()[0].datasets.items()}
    except (UserError, OSError):
        return {}


class Builder:
    """Assembles the markdown, writing plots as it goes."""

    def __init__(self, matrix: LoadedMatrix, collected: Collected, paths: RunPaths) -> None:
        self.config: ReportConfig = matrix.spec.report
        self.collected, self.paths = collected, paths
        self.frame = collected.frame
        self.rows = select(self.frame, self.config)
        self.plots: list[Path] = []
        self.parents = {p for p in self.frame.get("parent", []) if p}
        self.bench = BatchOneLatency.read(paths.root / "latency.json")

    def dataset_rows(self) -> dict[str, tuple[list[Row], list[str]]]:
        datasets = dict.fromkeys(self.frame["dataset"]) if not self.frame.empty else {}
        return {
            d: ([r for r in self.rows if r.dataset == d], dataset_metrics(self.frame, d, self.config))
            for d in datasets
        }

    def dataset_section(self, dataset: str, rows: list[Row], metrics: list[str]) -> list[str]:
        seeds = sorted(self.frame.loc[self.frame["dataset"] == dataset, "seed"].unique())
        lines = [
            f"## {dataset}",
            "",
            f"Seeds asked: {', '.join(map(str, seeds))}. Main metric: {metrics[0]}.",
            "",
        ]
        if not any(r.n_ok for r in rows):
            return [*lines, "No finished cell yet.", ""]
        tables = self.config.tables
        if "davila" in tables:
            lines += ["### Results (Davila layout)", "", *davila_table(rows, metrics, self.config)]
            lines += selection_table(rows, self.config)
        if "relative" in tables:
            lines += [
                f"### Relative to {strategy_label(self.config.baseline)}",
                "",
                *relative_table(rows, metrics, self.config),
            ]
            lines += self._plot_line(
                plots.relative_plot(
                    changes(rows, metrics[0], self.config.baseline),
                    dataset,
                    self.config.baseline,
                    self.paths.root / "plots" / f"{_slug('relative', dataset)}.png",
                )
            )
        if "efficiency" in tables:
            lines += ["### Efficiency (Peng layout)", ""]
            lines += efficiency_table(rows, metrics, self.config, self.bench)
        if "per_class" in tables:
            lines += ["### Per class (Fang layout)", ""]
            lines += per_class_table(rows, self.collected.results, self.parents, self.config)
        if "roc" in tables:
            lines += self.roc_section(dataset, rows)
        return lines

    def _plot_line(self, path: Path | None) -> list[str]:
        if path is None:
            return []
        self.plots.append(path)
        return [f"![{path.stem}](plots/{path.name})", ""]

    def roc_section(self, dataset: str, rows: list[Row]) -> list[str]:
        """One ROC figure per dataset: a panel per (source, strategy row), a curve per architecture."""
        runs = self.collected.runs_dir or self.paths.runs
        panels = []
        for source, label in ordered(rows, lambda r: (r.source, r.label)):
            curves = []
            for row in [r for r in rows if (r.source, r.label) == (source, label)]:
                npz = plots.representative(row, runs)
                if npz:
                    seed = int(row.ok.loc[row.ok["predictions"] == npz, "seed"].iloc[0])
                    curve = plots.roc_curve_of(runs / npz, f"{row.architecture} s{seed}")
                    curves += [curve] if curve else []
            panels.append((f"{label} ({source_label(source)})", curves))
        path = self.paths.root / "plots" / f"{_slug('roc', dataset)}.png"
        lines = self._plot_line(plots.roc_plot(panels, f"{dataset}: test ROC", path))
        if not lines:
            return []
        return [
            "### ROC curves",
            "",
            "Test ROC of the run whose accuracy is closest to the mean over seeds (Fang), one panel per row; "
            "multi-class and multilabel curves are micro-averaged one-vs-rest.",
            "",
            *lines,
        ]

    def tail(self) -> list[str]:
        """Failed cells with their reasons, and missing cells grouped over seeds (each list capped)."""
        frame = self.frame
        if frame.empty:
            return []
        failed = [
            f"- `{r.id}` {r.dataset} / {r.architecture} / {r.source} / {r.strategy}"
            f"{' / ' + r.sweep if r.sweep else ''} / seed {r.seed}: {r.error}"
            for r in frame[frame["status"] == "failed"].itertuples()
        ]
        groups = frame[frame["status"] == "missing"].groupby(
            ["dataset", "architecture", "source", "strategy", "sweep"], sort=False
        )
        missing = [
            f"- {d} / {a} / {s} / {st}{' / ' + sw if sw else ''}: {len(g)} seed(s)"
            for (d, a, s, st, sw), g in groups
        ]
        return _listing("Failed cells", failed) + _listing("Missing cells", missing)


def _listing(title: str, items: list[str], cap: int = LIST_CAP) -> list[str]:
    if not items:
        return []
    more = [f"- … and {len(items) - cap} more (all are in results.csv)"] if len(items) > cap else []
    return [f"## {title}", "", *items[:cap], *more, ""]


def _csvs(builder: Builder, root: Path) -> None:
    frame = builder.frame.drop(columns=["order"], errors="ignore")
    if not frame.empty:
        frame = frame.assign(metrics=frame["metrics"].map(";".join)).sort_values(KEY, kind="stable")
    atomic_write_bytes(root / "results.csv", frame.to_csv(index=False, lineterminator="\n").encode())
    records = []
    for row in builder.rows:
        metrics = dataset_metrics(builder.frame, row.dataset, builder.config)
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
    atomic_write_bytes(
        root / "summary.csv", pd.DataFrame(records).to_csv(index=False, lineterminator="\n").encode()
    )


def write_report(
    matrix: LoadedMatrix,
    paths: RunPaths,
    compare_dir: Path | None = None,
    compare_cfg: CompareConfig | None = None,
) -> ReportOutcome:
    """Write the leaderboard; with `compare_dir`, add the regression section and count what it flags."""
    collected = collect(matrix.cells, paths)
    _check(matrix.spec.report, collected.frame)
    builder = Builder(matrix, collected, paths)
    by_dataset = builder.dataset_rows()
    body: list[str] = []
    for dataset, (rows, metrics) in by_dataset.items():
        body += builder.dataset_section(dataset, rows, metrics)
    if "best" in builder.config.tables:
        body += [
            "## Best per dataset (Davila Table 11)",
            "",
            *best_table(by_dataset, _domains(), builder.config),
        ]
    if "effectiveness" in builder.config.tables:
        body += ["## Effectiveness (Davila Table 12)", "", *effectiveness_table(by_dataset, builder.config)]
    if "significance" in builder.config.tables:
        from suite.stats.inputs import significance_section

        config = builder.config
        section = significance_section(
            builder.rows, config, config.significance, paths.root / "plots", written=builder.plots
        )
        body += [*section.splitlines(), ""]
    body += builder.tail()
    from suite.analysis.artifacts import analysis_markdown

    body += analysis_markdown(paths.root).splitlines()
    outcome = ReportOutcome(paths.root / "LEADERBOARD.md")
    if compare_dir is not None:
        cfg = compare_cfg or builder.config.compare
        cmp = compare(collected, collect_folder(resolve_old(compare_dir, matrix.name)), cfg)
        body += regression_section(cmp, str(compare_dir), cfg)
        outcome.flagged = cmp.flagged
        outcome.summary = "\n".join(
            f"  {' / '.join(f[:4])}: {f[4]} {f[5]} → {f[6]} ({f[7]})" for f in cmp.flags
        )
    text = "\n".join([*header(matrix, collected, builder.rows), *body]).rstrip("\n") + "\n"
    atomic_write_bytes(outcome.path, text.encode())
    _csvs(builder, paths.root)
    _prune_plots(paths.root / "plots", builder.plots)
    outcome.plots = builder.plots
    return outcome


def resolve_old(folder: Path, matrix_name: str) -> Path:
    """Accept results/<matrix>, its runs/ folder, or a results root that holds <matrix>/runs."""
    for candidate in (folder / "runs", folder, folder / matrix_name / "runs"):
        if candidate.is_dir() and any(candidate.glob("*.json")):
            return candidate
    raise UserError(
        f"--compare {folder}: no result files there (give results/{matrix_name}, its runs/ folder, or a results root)"
    )


def _prune_plots(folder: Path, written: list[Path]) -> None:
    """Remove PNGs a previous report wrote that this one did not, so plots/ matches the leaderboard."""
    keep = {p.name for p in written}
    if folder.is_dir():
        for png in sorted(folder.glob("*.png")):
            if png.name not in keep:
                png.unlink()
