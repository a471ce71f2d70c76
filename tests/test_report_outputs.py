"""The report's paper-ready outputs: LEADERBOARD.html and tables.tex from the same document as LEADERBOARD.md, one
unit per table, figures as PNG and PDF, error bars, the Pareto and learning-curve figures, ROC over seeds, the CAM
colormap, and bad inputs (one line, exit 2, nothing half-written). The browser and LaTeX checks are slow tests
(tests/test_report_browser.py)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from report_fixtures import write_results
from test_report import FANG, MAIN, fang_spec, main_spec, make_board

from suite.catalog import SuiteCatalog
from suite.cli import main
from suite.errors import UserError
from suite.matrix import load_matrix
from suite.report import curves, plots
from suite.report.changes import changes
from suite.report.collect import collect
from suite.report.latex import escape
from suite.report.leaderboard import write_report
from suite.report.select import select
from suite.stats.render import render_significance

ALL_TABLES = MAIN.replace(
    "  tables: [davila, relative, best, effectiveness, efficiency]\n", "  significance: {bootstrap: 1000}\n"
)
TABLE_SEPARATOR = re.compile(r"^\|(-+\|)+$")


@pytest.fixture(scope="module")
def full_board(tmp_path_factory):
    """Every registered table (no `report: tables:`), so every kind of block and figure is in the page."""
    return make_board(tmp_path_factory.mktemp("full"), ALL_TABLES, main_spec)


def markdown_tables(board: str) -> list[list[str]]:
    """The header cells of every markdown table of a board."""
    lines = board.splitlines()
    return [
        [c.strip() for c in lines[i - 1].strip("|").split("|")]
        for i, line in enumerate(lines)
        if TABLE_SEPARATOR.match(line)
    ]


def test_html_and_tex_hold_the_same_tables_as_the_markdown(full_board):
    _, paths, outcome, board = full_board
    html = (paths.root / "LEADERBOARD.html").read_text()
    tex = (paths.root / "tables.tex").read_text()
    count = len(markdown_tables(board))
    assert count >= 10
    assert html.count("<table") == count == tex.count("\\begin{table}")
    assert tex.count("\\toprule") == count == tex.count("\\bottomrule")
    assert {paths.root / "LEADERBOARD.html", paths.root / "tables.tex"} <= set(outcome.files)
    # the same numbers: TTL-2 on resnet50 is the best accuracy of the table, underlined where that is possible
    assert "**84.00 (0.58)**★" in board
    assert re.search(r'class="data row\d+ col1 best" >84\.00 \(0\.58\)<', html)
    assert "\\underline{\\textbf{84.00 (0.58)}}" in tex


def test_the_page_is_self_contained_and_sortable(full_board):
    _, paths, _, board = full_board
    html = (paths.root / "LEADERBOARD.html").read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html) and "<link" not in html
    images = re.findall(r'<img alt="[^"]*" src="([^"]*)"', html)
    shown = re.findall(r"!\[[^]]*\]\(([^)]*)\)", board)
    assert len(images) == len(shown) >= 4 and all(i.startswith("data:image/png;base64,") for i in images)
    assert html.count('class="sortable"') == len(markdown_tables(board)) and "addEventListener" in html
    assert "<u>" not in board  # markdown cannot underline: ★ marks the best of a table


def test_every_figure_is_png_and_pdf_and_deterministic(full_board):
    matrix, paths, outcome, _ = full_board
    names = sorted(p.name for p in (paths.root / "plots").iterdir())
    stems = {n.rsplit(".", 1)[0] for n in names}
    assert names == sorted(f"{s}.{ext}" for s in stems for ext in ("pdf", "png"))
    assert {"relative", "pareto", "learning", "roc"} <= {s.split("-")[0] for s in stems}
    for pdf in (paths.root / "plots").glob("*.pdf"):
        data = pdf.read_bytes()
        assert data.startswith(b"%PDF") and b"CreationDate" not in data and b"Matplotlib" not in data
    before = {p: p.read_bytes() for p in outcome.files}
    again = write_report(matrix, paths)
    assert {p: p.read_bytes() for p in again.files} == before


def test_one_unit_per_table_and_it_is_stated(tmp_path):
    (tmp_path / "pct").mkdir()
    (tmp_path / "frac").mkdir()
    percent = make_board(tmp_path / "pct", FANG, fang_spec)[3]
    fraction = make_board(tmp_path / "frac", FANG + "  scale: fraction\n", fang_spec)[3]
    for board, acc, unit in ((percent, "91.00", "in %"), (fraction, "0.910", "as fractions (0–1)")):
        results = board[board.index("### Results") : board.index("### Per class")]
        per_class = board[board.index("### Per class") : board.index("### ROC")]
        assert f"| {acc} (" in results and f"| {acc} " in per_class
        assert f"over seeds, {unit}." in results and f"test split, {unit};" in per_class


def test_no_table_repeats_a_header():
    """The significance section's per-dataset table had `strategy` twice (the row's name and its mean)."""
    from test_stats_golden import CASES, metrics_of

    frame = CASES["little_evidence"]()
    text = render_significance(frame, _config(), Path("/nonexistent"), metrics_of(frame), link="plots")
    headers = markdown_tables(text)
    assert headers and all(len(set(h)) == len(h) for h in headers)
    assert headers[-1][:5] == ["backbone", "strategy", "paired seeds", "ft mean", "strategy mean"]
    # long evidence texts are numbered notes below the table, so no table line runs past 190 characters
    assert max(len(line) for line in text.splitlines() if line.startswith("|")) < 190


def _config():
    from suite.matrix.report import SignificanceConfig

    return SignificanceConfig(bootstrap=1000)


def test_relative_change_has_a_delta_method_se_drawn_as_error_bars(tmp_path, monkeypatch):
    matrix, paths, _, _ = make_board(tmp_path, MAIN, main_spec)
    rows = select(collect(matrix.cells, paths).frame, matrix.spec.report)
    lp = next(
        c for c in changes(rows, "accuracy", "ft") if c.row.label == "LP" and c.row.architecture == "resnet50"
    )
    m, b, se = 0.71, 0.81, 0.01 / math.sqrt(3)  # LP and FT (lr=1e-4): three seeds 0.01 apart each
    assert lp.percent == pytest.approx((m - b) / b * 100)
    assert lp.se == pytest.approx(100 * math.sqrt(se**2 / b**2 + m**2 * se**2 / b**4))
    figures = []
    monkeypatch.setattr(plots, "render", lambda fig: figures.append(fig) or {"png": b""})
    plots.relative_plot(changes(rows, "accuracy", "ft"), "d", "ft")
    bars = [c for c in figures[0].axes[0].containers if getattr(c, "errorbar", None)]
    segments = [s for c in bars for s in c.errorbar.lines[2][0].get_segments()]
    assert any(abs(seg[1][1] - seg[0][1]) == pytest.approx(2 * lp.se) for seg in segments)


def test_pareto_front_is_the_non_dominated_rows():
    point = curves.Point
    pts = [
        point(None, v, 0.0, c) for v, c in ((80, 1.0), (85, 2.0), (84, 3.0), (90, 4.0), (90, 5.0), (70, 0.5))
    ]
    assert [(p.value, p.cost) for p in curves.front(pts, higher=True)] == [
        (70, 0.5),
        (80, 1.0),
        (85, 2.0),
        (90, 4.0),
    ]
    assert [(p.value, p.cost) for p in curves.front(pts, higher=False)] == [(70, 0.5)]


def test_pareto_and_learning_curves_are_tables_a_matrix_can_choose(tmp_path):
    text = MAIN.replace("[davila, relative, best, effectiveness, efficiency]", "[learning_curves, pareto]")
    _, _, outcome, board = make_board(tmp_path, text, main_spec)
    heads = [line for line in board.splitlines() if line.startswith("### ")]
    assert heads == ["### Learning curves", "### Accuracy against cost (Pareto)"]
    assert "on MACs: densenet121 · TTL-1 (block2)" in board  # the cheapest row is always on the front
    assert "validation Acc per epoch" in board  # the fixture's histories record val_accuracy
    assert sorted(p.name for p in outcome.plots) == [
        "learning-synthetic-vessels.png",
        "pareto-synthetic-vessels.png",
    ]


def test_learning_curve_band_covers_seeds_that_stopped_early():
    mean, low, high = curves.band([np.array([3.0, 2.0, 1.0]), np.array([5.0, 4.0])])
    assert (
        mean.tolist() == [4.0, 3.0, 1.0]
        and low.tolist() == [3.0, 2.0, 1.0]
        and high.tolist() == [5.0, 4.0, 1.0]
    )


def test_roc_is_the_mean_over_seeds_with_a_band(tmp_path, monkeypatch):
    matrix, paths, _, _ = make_board(tmp_path, FANG, fang_spec)
    rows = [r for r in select(collect(matrix.cells, paths).frame, matrix.spec.report) if r.split == "test"]
    curve = plots.mean_curve(rows[0], paths.runs, "x")
    assert curve.tpr.shape == (2, len(plots.FPR_GRID)) and len(curve.areas) == 2  # both seeds, not one
    assert "2 seeds" in curve.label and " ± " in curve.label
    figures = []
    monkeypatch.setattr(plots, "render", lambda fig: figures.append(fig) or {"png": b""})
    plots.roc_plot([("panel", [curve])], "t")
    assert len(figures[0].axes[0].collections) == 1  # the ±1 SD band


def test_cam_grid_uses_a_perceptually_uniform_colormap_and_writes_png_and_pdf(tmp_path):
    from suite.analysis import plots as analysis_plots

    assert analysis_plots.CMAP in {"viridis", "magma", "inferno", "plasma", "cividis"}
    rng = np.random.default_rng(0)
    row = analysis_plots.CamRow(rng.random((8, 8, 3)), rng.random((2, 8, 8)), ["a", "b"], "img", "cell")
    first = analysis_plots.cam_figure([row], tmp_path / "a" / "cam.png", "heading")
    second = analysis_plots.cam_figure([row], tmp_path / "b" / "cam.png", "heading")
    for suffix in (".png", ".pdf"):
        assert first.with_suffix(suffix).read_bytes() == second.with_suffix(suffix).read_bytes()


def test_latex_escapes_specials_and_symbols():
    assert escape("a_b & 50% #1 {x} ~^\\") == (
        r"a\_b \& 50\% \#1 \{x\} \textasciitilde{}\textasciicircum{}\textbackslash{}"
    )
    assert escape("Δ Acc ↑ · κ † ★ — ✂") == r"$\Delta$ Acc $\uparrow$ $\cdot$ $\kappa$ \dag{} $\star$ --- ?"


def _state(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and "runs" not in p.parts}


@pytest.mark.parametrize("damage", ["predictions", "history", "latency"])
def test_a_bad_input_is_one_line_and_nothing_is_half_written(tmp_path, damage):
    matrix, paths, _, _ = make_board(tmp_path, ALL_TABLES.replace("seeds: 3", "seeds: 2"), main_spec)
    if damage == "latency":
        (paths.root / "latency.json").write_text("{not json")
    before = _state(paths.root)
    for npz in sorted(paths.runs.glob("*.npz")):  # every file, so whichever the tables read is damaged
        result = npz.with_suffix(".json")
        if damage == "predictions":
            npz.write_bytes(npz.read_bytes()[:40])
        elif damage == "history":
            result.write_text(result.read_text().replace('"train_loss": ', '"train_loss": "x", "was": ', 1))
    with pytest.raises(UserError) as caught:
        write_report(matrix, paths)
    assert "\n" not in str(caught.value)
    assert {"predictions": ".npz", "history": ".json", "latency": "latency.json"}[damage] in str(caught.value)
    assert _state(paths.root) == before  # the previous report's files untouched, no new ones


def test_an_unreadable_result_is_listed_and_its_cell_counts_as_missing(tmp_path):
    """A truncated result file (a crash of an old version, a bad copy) does not stop the board: the file is named
    with why, its cell is missing (so `run` computes it again), and every other cell is reported."""
    matrix, paths, _, _ = make_board(tmp_path, MAIN, main_spec)
    damaged = sorted(paths.runs.glob("*.json"))[0]
    damaged.write_text(damaged.read_text()[:200])
    outcome = write_report(matrix, paths)
    board = outcome.path.read_text()
    assert outcome.unreadable == 1 and "1 unreadable result file(s), listed below" in board
    section = board.split("## Unreadable result files", 1)[1]
    assert f"`runs/{damaged.name}`: not a valid result file" in section
    assert f"`medtl-bench run {matrix.name}` computes them again" in section


def test_a_failed_write_leaves_the_previous_report(tmp_path, monkeypatch):
    """A disk that fills up halfway: every file is staged before any replaces its target, so none is replaced."""
    from suite.results import store

    matrix, paths, _, _ = make_board(tmp_path, MAIN, main_spec)
    before = _state(paths.root)
    staged, real = [], store._staged

    def filling(path, payload, mode):
        if len(staged) == 3:
            raise OSError(28, "No space left on device")
        staged.append(path)
        return real(path, payload, mode)

    monkeypatch.setattr(store, "_staged", filling)
    with pytest.raises(UserError, match=r"cannot write the report there \(No space left on device\)"):
        write_report(matrix, paths)
    assert _state(paths.root) == before and not list(paths.root.rglob("*.tmp"))


def test_the_cli_says_one_line_and_exits_2(tmp_path, capsys):
    """Through `medtl-bench report`, with the real catalog: a damaged predictions file is named, exit code 2."""
    path = tmp_path / "cli.yaml"
    path.write_text(
        "name: cli\ndatasets: [synthetic-vessels]\narchitectures: [resnet18]\nstrategies: [ft, lp]\nseeds: 2\n"
    )
    matrix = load_matrix(str(path), SuiteCatalog())
    paths = write_results(matrix, tmp_path / "results", lambda c: {"val": 0.8, "test": 0.8})
    npz = sorted(paths.runs.glob("*.npz"))[0]
    npz.write_bytes(b"not a zip")
    assert main(["report", str(path), "--results", str(tmp_path / "results")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and npz.name in err and "not a readable predictions file" in err
    assert not (paths.root / "LEADERBOARD.md").exists() and not (paths.root / "plots").exists()
