"""The significance section: "which strategy should I use, and is it real?" (suite/stats does the statistics).

It takes the rows `suite.report.select.select` chose (variants and sweep points picked on validation, labelled as
in the tables: `FT`, `TTL-2`, `SWFT step 3`), so the section talks about exactly the rows the leaderboard shows. The
dataset's modality comes from its datasets.lock entry; the ranking metric is the dataset's main metric (or
`report.metrics[0]`, or `significance.metric`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from suite.document import Block, Heading, Para
from suite.lazy import lazy_module
from suite.matrix.report import ReportConfig, SignificanceConfig
from suite.report.changes import baselines
from suite.report.context import ReportContext, lock_modalities
from suite.report.naming import strategy_label
from suite.report.select import Row
from suite.report.tables.registry import table

stats = lazy_module("suite.stats")  # scipy, autorank and matplotlib: loaded when the section is rendered

UNKNOWN = "unknown"


@table("significance", scope="matrix", order=30)
def significance_table(ctx: ReportContext) -> list[Block]:
    config = ctx.config
    plots_dir = ctx.paths.plots
    return significance_section(
        ctx.all_rows, config, config.significance, plots_dir, ctx.modalities, files=ctx.files
    )


def with_modality(frame: pd.DataFrame, modalities: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The frame with a `modality` column (default: from datasets.lock); `unknown` for a dataset it does not hold."""
    modalities = lock_modalities() if modalities is None else modalities
    found = {d: modalities.get(d, UNKNOWN) for d in frame["dataset"].unique()} if not frame.empty else {}
    return frame.assign(modality=frame["dataset"].map(found).astype(object))


def frame_from_rows(rows: list[Row], baseline: str) -> pd.DataFrame:
    """One line per finished seed of every chosen test-split row, `strategy` = the row's label.

    The baseline row of each dataset × source × architecture (found as the report's relative tables find it) is
    labelled `strategy_label(baseline)`, so sweeps shown as rows (`FT (lr=1e-4)`) still have one baseline.
    Rows reported on validation (datasets without a test split) and rows with nothing chosen are left out.
    """
    base = {id(r) for r in baselines(rows, baseline).values()}
    parts = []
    for row in rows:
        if row.split != "test" or not row.chosen or row.n_ok == 0:
            continue
        label = strategy_label(baseline) if id(row) in base else row.label
        parts.append(row.ok.assign(strategy=label, choice=row.choice, sweep=""))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def ranking_metrics(frame: pd.DataFrame, override: str | None = None) -> dict[str, str]:
    """dataset → its main metric: `override`, else the first of the cell's resolved `metrics`."""
    if frame.empty:
        return {}
    first = frame.groupby("dataset", sort=True)["metrics"].first()
    return {d: override or m[0] for d, m in first.items()}


def significance_section(
    rows: list[Row],
    report: ReportConfig,
    config: SignificanceConfig,
    plots_dir: Path,
    modalities: Mapping[str, str] | None = None,
    *,
    files: dict[Path, bytes] | None = None,
) -> list[Block]:
    """The section for the report's chosen rows, its CD diagrams' bytes into `files`; unset settings follow the
    report's own (`baseline`, `effectiveness_pct`, `metrics[0]`, `scale`), so both Table 12s count the same
    experiments and every table shows the same unit."""
    given = config.model_fields_set
    baseline = config.baseline if "baseline" in given else report.baseline
    explicit = "baseline" in given or "baseline" in report.model_fields_set
    update = {
        "baseline": strategy_label(baseline),
        "threshold_pct": config.threshold_pct if "threshold_pct" in given else report.effectiveness_pct,
        "variants": "separate",  # the report has chosen; its labels are the strategies
    }
    frame = frame_from_rows(rows, baseline)
    if frame.empty:
        return [
            Heading(2, "Significance: which strategy should I use?"),
            Para("No finished test-split results to compare."),
        ]
    override = config.metric or (report.metrics[0] if report.metrics else None)
    metrics = ranking_metrics(frame, override)
    return stats.significance_blocks(
        with_modality(frame, modalities),
        config.model_copy(update=update),
        plots_dir,
        metrics,
        link=Path(plots_dir).name,
        files=files,
        require_baseline=explicit,
        percent=report.scale == "percent",
    )
