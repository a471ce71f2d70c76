"""The significance section on the leaderboard's own rows (tests/report_fixtures.py result files): it names rows
as the tables do, keeps the report's validation choices, and its raw counts are the report's Table 12."""

from __future__ import annotations

import pytest
from report_fixtures import load, write_results
from test_report import MAIN, main_spec

from suite.document import to_markdown
from suite.matrix.report import SignificanceConfig
from suite.report.changes import changes, improved
from suite.report.collect import collect
from suite.report.select import select
from suite.report.tables.significance import (
    frame_from_rows,
    ranking_metrics,
    significance_section,
    with_modality,
)
from suite.stats.paired import compare_to_baseline, effectiveness
from suite.stats.prepare import scores


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stats-report")
    (tmp / "m.yaml").write_text(MAIN)
    matrix = load(tmp / "m.yaml")
    paths = write_results(matrix, tmp / "results", main_spec)
    rows = select(collect(matrix.cells, paths).frame, matrix.spec.report)
    return matrix.spec.report, rows, tmp


def test_rows_keep_the_reports_labels_and_validation_choices(board):
    report, rows, _ = board
    frame = frame_from_rows(rows, report.baseline)
    table = scores(
        with_modality(frame), ranking_metrics(frame), SignificanceConfig(variants="separate")
    ).table
    assert set(table["strategy"]) == {"FT", "LP", "LP-FT", "TTL-1", "TTL-2"}
    chosen = table.drop_duplicates(["backbone", "strategy"]).set_index(["backbone", "strategy"])["choice"]
    assert chosen[("resnet50 (imagenet)", "TTL-2")] == "layer3.1"  # not layer4.1: outside TTL-2's search
    assert chosen[("resnet50 (imagenet)", "FT")] == "lr=1e-4"  # best on validation, not on test
    assert set(table["modality"]) == {"endoscopy"}


def test_raw_effectiveness_counts_are_the_reports_table_12(board):
    report, rows, _ = board
    frame = frame_from_rows(rows, report.baseline)
    config = SignificanceConfig(baseline="FT", variants="separate")
    table = scores(with_modality(frame), ranking_metrics(frame), config).table
    ours = effectiveness(compare_to_baseline(table, config), config)
    theirs: dict[tuple[str, str], int] = {}
    for change in changes(rows, "accuracy", report.baseline):
        if change.baseline is not None:
            key = (change.row.label, f"{change.row.architecture} ({change.row.source})")
            theirs[key] = theirs.get(key, 0) + improved(change, report.effectiveness_pct)
    assert dict(zip(zip(ours["strategy"], ours["backbone"]), ours["raw"].astype(int))) == theirs


def test_section_from_rows_renders_and_reports_its_plots(board):
    report, rows, tmp = board
    files = {}
    blocks = significance_section(rows, report, SignificanceConfig(), tmp / "plots", files=files)
    markdown = to_markdown(blocks)
    assert "Baseline: `FT`" in markdown and "| TTL-2 (layer3.1) |" in markdown.replace("  ", "")
    assert "same difference on every seed: no seed noise to test against" in markdown
    assert "1 dataset with every strategy" in markdown
    assert files == {}  # one dataset: no Friedman test, so no CD diagram
