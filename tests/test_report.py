"""The leaderboard from result files with known values: golden markdown, selection on validation, SE arithmetic,
NaN handling, incomplete-cell flags, valid and deterministic plots.

Golden files live in tests/golden/; after an intended format change, regenerate them with
`MEDTL_UPDATE_GOLDEN=1 python -m pytest tests/test_report.py` and review the diff.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import matplotlib.image
import pytest
from report_fixtures import load, write_results

from suite.catalog import SuiteCatalog
from suite.errors import UserError
from suite.matrix import load_matrix
from suite.report.leaderboard import write_report
from suite.report.stats import mean_se
from suite.report.tables import TABLES

GOLDEN = Path(__file__).parent / "golden"
PNG = b"\x89PNG\r\n\x1a\n"

MAIN = """
name: golden
description: Fixture matrix for the report's golden tests.
datasets: [synthetic-vessels]
architectures: [resnet50, densenet121]
seeds: 3
grids:
  - strategies: [ft]
    sweep: {lr: [1.0e-3, 1.0e-4]}
  - strategies: [lp, lp-ft, "ttl@*"]
report:
  tables: [davila, relative, best, effectiveness, efficiency]
"""

# (validation, test) accuracy of seed 0 per row and architecture; seed s adds 0.01·s, so every complete row has
# mean = value + 0.01 and SE = 0.01/√3 = 0.0058 ("(0.58)" in %). Traps: ft lr=1e-3 and ttl@block3 are best on
# test but not on validation; ttl@layer4.1 is best on validation but outside TTL-2's neighbourhood of block2.
VALUES = {
    ("ft", "lr=1e-3"): {"resnet50": (0.80, 0.86), "densenet121": (0.78, 0.84)},
    ("ft", "lr=1e-4"): {"resnet50": (0.82, 0.80), "densenet121": (0.80, 0.79)},
    ("lp", ""): {"resnet50": (0.70, 0.70), "densenet121": (0.72, 0.71)},
    ("lp-ft", ""): {"resnet50": (0.83, 0.82), "densenet121": (0.81, 0.80)},
    ("ttl@block1", ""): {"resnet50": (0.70, 0.70), "densenet121": (0.70, 0.70)},
    ("ttl@block2", ""): {"resnet50": (0.84, 0.81), "densenet121": (0.82, 0.79)},
    ("ttl@block3", ""): {"resnet50": (0.83, 0.88), "densenet121": (0.81, 0.86)},
    ("ttl@layer2.1", ""): {"resnet50": (0.80, 0.80), "densenet121": (0.80, 0.80)},
    ("ttl@layer3.1", ""): {"resnet50": (0.86, 0.83), "densenet121": (0.79, 0.78)},
    ("ttl@layer3.2", ""): {"resnet50": (0.85, 0.84), "densenet121": (0.83, 0.77)},
    ("ttl@layer4.1", ""): {"resnet50": (0.95, 0.95), "densenet121": (0.95, 0.95)},
}
PARAMS = {"ft": 23.5e6, "lp": 23.5e6, "lp-ft": 23.5e6, "block1": 0.3e6, "block2": 1.5e6, "block3": 8.55e6}


def main_spec(cell) -> dict | None:
    k = cell.key
    arch, seed, variant = k["architecture"], k["seed"], cell.config.strategy.variant or ""
    if (k["strategy"], arch, seed) == ("lp", "densenet121", 2):
        return {"status": "failed", "error": "CUDA out of memory"}
    if (k["strategy"], arch, seed) == ("ttl@layer2.1", "densenet121", 1):
        return None  # never ran
    sweep = {"0.001": "lr=1e-3", "0.0001": "lr=1e-4"}.get(k.get("lr", ""), "")
    val, test = VALUES[(k["strategy"], sweep)][arch]
    params = PARAMS.get(variant or k["strategy"], 6.31e6) * (0.3 if arch == "densenet121" else 1.0)
    return {
        "val": val + 0.01 * seed,
        "test": test + 0.01 * seed,
        "auroc_nan": (k["strategy"], arch, seed) == ("lp-ft", "resnet50", 1),
        "params": int(params),
        "trainable": int(params if k["strategy"] != "lp" else 4098),
        "macs": round(params / 23.5e6 * 4.12, 3),
        "latency_ms": round(params / 23.5e6 * 3.59 + 0.01 * seed, 4),
    }


FANG = """
name: golden-fang
datasets: [synthetic-vessels]
architectures: [resnet18, vgg19]
seeds: 2
grids:
  - {sources: [imagenet, scratch], strategies: [ft, lp]}
  - {sources: ["imagenet>synthetic-fundus"], strategies: [lp, "swft@*"]}
report:
  tables: [davila, per_class, roc]
"""


def fang_spec(cell) -> dict:
    k = cell.key
    base = {"imagenet": 0.90, "scratch": 0.80, "imagenet>synthetic-fundus": 0.75}[k["source"]]
    step = int(cell.config.strategy.variant or 0)
    acc = base - (0.10 if k["strategy"] == "lp" else 0.0) + 0.04 * step + 0.02 * k["seed"]
    acc += 0.01 if k["architecture"] == "vgg19" else 0.0
    if k["dataset"] == "synthetic-fundus":  # the intermediate stage: no test split, as in datasets.lock
        return {"val": 0.6 + 0.02 * k["seed"], "test": None, "epochs": 20}
    val = acc - 0.01
    if (step, k["architecture"]) == (3, "resnet18"):
        val -= 0.10  # trap: resnet18's best SWFT step on test (3) is not the best on validation (2)
    return {"val": val, "test": acc, "epochs": 12 + 3 * k["seed"]}


def build(tmp_path: Path, text: str, spec, name: str = "m.yaml"):
    path = tmp_path / name
    path.write_text(text)
    matrix = load(path)
    paths = write_results(matrix, tmp_path / "results", spec)
    return matrix, paths


def make_board(tmp: Path, text: str, spec):
    """(matrix, paths, report outcome, LEADERBOARD.md text) of a fixture matrix whose results `spec` writes."""
    matrix, paths = build(tmp, text, spec)
    outcome = write_report(matrix, paths)
    return matrix, paths, outcome, outcome.path.read_text()


@pytest.fixture(scope="module")
def main_board(tmp_path_factory):
    return make_board(tmp_path_factory.mktemp("main"), MAIN, main_spec)


@pytest.fixture(scope="module")
def fang_board(tmp_path_factory):
    return make_board(tmp_path_factory.mktemp("fang"), FANG, fang_spec)


def check_golden(text: str, name: str) -> None:
    path = GOLDEN / name
    if os.environ.get("MEDTL_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.is_file(), f"no golden file {path}; run with MEDTL_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(), f"{name} differs from its golden file (MEDTL_UPDATE_GOLDEN=1 to accept)"


def test_main_leaderboard_matches_golden(main_board):
    check_golden(main_board[3], "report_main.md")


def test_fang_leaderboard_matches_golden(fang_board):
    check_golden(fang_board[3], "report_fang.md")


def table_row(board: str, first_cell: str, after: str = "### Results") -> list[str]:
    """The cells of the first markdown table row starting with `first_cell` after the heading `after`."""
    section = board[board.index(after) :]
    line = next(ln for ln in section.splitlines() if ln.startswith(f"| {first_cell} "))
    return [c.strip() for c in line.strip("|").split("|")]


def plain(cell: str) -> str:
    """A markdown cell without its emphasis: bold, and ★ (best of the whole table)."""
    return re.sub(r"\*\*|★", "", cell)


def test_se_arithmetic():
    stat = mean_se([0.80, 0.81, 0.82])
    assert stat.mean == pytest.approx(0.81) and stat.se == pytest.approx(0.01 / math.sqrt(3))
    one = mean_se([0.5])
    assert one.mean == 0.5 and math.isnan(one.se)
    partial = mean_se([0.8, float("nan"), None])
    assert partial.mean == 0.8 and partial.n == 1 and partial.total == 3 and partial.partial
    assert not mean_se([float("nan")]).defined


def test_selection_uses_validation_not_test(main_board):
    board = main_board[3]
    # FT: lr=1e-4 wins on validation although lr=1e-3 is better on test (86 vs 80).
    assert table_row(board, "FT")[1] == "81.00 (0.58)"
    # TTL-1: block2 (val 84) beats block3 (val 83, test 88); TTL-2 for resnet50: layer3.1 (val 86); layer4.1
    # (val 95) lies outside the blocks next to block2 and is never considered.
    assert table_row(board, "TTL-1")[1] == "82.00 (0.58)"
    assert plain(table_row(board, "TTL-2")[1]) == "84.00 (0.58)"
    selection = re.sub(r" +", " ", board[board.index("Chosen on the validation") :])
    assert "| FT | lr=1e-4 (val 83.00, of 2)" in selection
    assert "layer3.1 (val 87.00, of 4)" in selection and "layer4.1" not in selection
    # densenet121: layer3.2 (val 83) beats block2 (val 82).
    assert "layer3.2 (val 84.00, of 4); 1 candidate(s) incomplete" in selection


def test_bold_per_architecture_and_underline_overall(main_board):
    board = main_board[3]
    lp_ft, ttl2 = table_row(board, "LP-FT"), table_row(board, "TTL-2")
    # resnet50 accuracy: TTL-2 (84.00) is the best of all → bold + ★ (markdown cannot underline; HTML and LaTeX
    # underline it); densenet121's best is LP-FT (81).
    assert ttl2[1] == "**84.00 (0.58)**★"
    assert lp_ft[3] == "**81.00 (0.58)**" and ttl2[3].startswith("78.00")
    assert sum("★" in c for c in table_row(board, "LP-FT") + ttl2 + table_row(board, "FT")) == 2
    assert "<u>" not in board and "**bold**★: best over all architectures" in board


def test_incomplete_and_nan_are_flagged_never_silently_averaged(main_board):
    board = main_board[3]
    lp = table_row(board, "LP")
    assert lp[3] == "71.50 (0.50)†"  # densenet121: 2 of 3 seeds, the failed one is not averaged in silently
    assert "- † densenet121 · LP (imagenet): 2 of 3 seeds finished (1 failed, 0 missing)" in board
    auroc = table_row(board, "LP-FT")[2]
    assert auroc == "91.50 (0.50)‡"  # AUROC = acc/2 + 0.5, defined in seeds 0 and 2 only: 91 and 92
    assert "undefined in 1 of 3 finished seeds; mean of the other 2" in board
    assert "Cells: 64 finished, 1 failed, 1 missing (of 66)" in board
    assert "## Failed cells" in board and "CUDA out of memory" in board
    assert "## Missing cells" in board


def test_relative_best_and_effectiveness(main_board):
    board = main_board[3]
    # LP-FT vs FT on resnet50: (83 − 81) / 81 = +2.47 %.
    assert table_row(board, "LP-FT", "### Relative to FT")[1] == "+2.47"
    best = board[board.index("## Best per dataset") :]
    assert "| synthetic-vessels | endoscopy | resnet50       | TTL-2 (layer3.1) | Acc" in best
    assert "+3.70%" in best  # (84 − 81) / 81
    eff = board[board.index("## Effectiveness") :]
    assert table_row(eff, "LP-FT", "## Effectiveness")[1:] == ["1/1", "1/1", "2/2", "**100.0**"]
    assert table_row(eff, "LP", "## Effectiveness")[1:] == ["0/1", "0/1", "0/2", "0.0"]


def test_efficiency_layout(main_board):
    board = main_board[3]
    section = re.sub(r" +", " ", board[board.index("### Efficiency") : board.index("## Best per dataset")])
    assert "P (M) ↓ | Trainable (M) ↓ | MACs (G, fvcore) ↓ | T (ms) ↓ |" in section
    assert "T is the median batch-1 latency of each run (cpu, 2 threads)" in section  # the device, once
    ttl1 = next(ln for ln in section.splitlines() if "| TTL-1 (block2)" in ln and "resnet50" in ln)
    assert "| 1.5 " in ttl1 and "| 0.263 " in ttl1  # P (M) and MACs of the chosen block2 cut


def _latency_file(path: Path, entries: list[dict]) -> None:
    """A minimal latency.json as `make bench-latency` writes it (suite/results/latency.py)."""
    benchmarks = [
        {"extra_info": {"device": "cpu", "threads": 2, "num_classes": 2, "batch_size": 1, **e}}
        for e in entries
    ]
    path.write_text(json.dumps({"medtl": {"format": 1}, "benchmarks": benchmarks}))


def test_latency_benchmark_is_merged_into_the_efficiency_table(tmp_path):
    matrix, paths = build(tmp_path, MAIN, main_spec)
    _latency_file(
        paths.root / "latency.json",
        [
            {"architecture": "resnet50", "image_size": 224, "strategy": None, "median_ms": 41.234},
            {"architecture": "resnet50", "image_size": 224, "strategy": "ttl@block2", "median_ms": 7.5},
            {
                "architecture": "resnet50",
                "image_size": 224,
                "strategy": None,
                "median_ms": 99.0,
                "batch_size": 32,
            },
        ],
    )
    board = write_report(matrix, paths).path.read_text()
    section = re.sub(r" +", " ", board[board.index("### Efficiency") : board.index("## Best per dataset")])
    assert (
        "| T bench (ms) ↓ |" in section and "for the same network (cpu, 2 threads; latency.json)" in section
    )
    row = next(ln for ln in section.splitlines() if ln.startswith("| resnet50 | FT"))
    assert row.rstrip().endswith("| 41.23 |")  # batch 1, not the batch-32 entry; no SE for one measurement
    ttl1 = next(ln for ln in section.splitlines() if "| TTL-1 (block2)" in ln and "resnet50" in ln)
    assert ttl1.rstrip().endswith("| **7.50** |")  # the truncated network's own benchmark, the fastest
    lp = next(ln for ln in section.splitlines() if ln.startswith("| resnet50 | LP "))
    assert lp.rstrip().endswith("| 41.23 |")  # LP only freezes: the same network as FT
    dense = next(ln for ln in section.splitlines() if ln.startswith("| densenet121 | FT"))
    assert dense.rstrip().endswith("| — |")  # not benchmarked


def _efficiency(board: str) -> list[list[str]]:
    """The efficiency table's body rows, as cells."""
    section = board[board.index("### Efficiency") : board.index("## Best per dataset")]
    lines = [
        ln for ln in section.splitlines() if ln.startswith("| resnet50 ") or ln.startswith("| densenet121 ")
    ]
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]


def test_overlapping_latency_intervals_mark_no_winner(tmp_path):
    """Issue 16.5: 7.95 vs 14.00 ms for one network was bolded as "best". Rows whose interquartile intervals
    overlap are not told apart: no bold in either latency column; a clear gap still gets its mark."""

    def spec(cell):
        out = main_spec(cell)
        if out and "latency_ms" in out:  # every row within 0.05 ms of the others, IQR 0.1 ms
            out["latency_ms"] = 5.0 if cell.key["strategy"] == "ft" else 5.04
        return out

    matrix, paths = build(tmp_path, MAIN, spec)
    entry = {"architecture": "resnet50", "image_size": 224}
    _latency_file(
        paths.root / "latency.json",
        [
            {**entry, "strategy": None, "median_ms": 8.0, "iqr_ms": 2.0},
            {**entry, "strategy": "ttl@block2", "median_ms": 7.5, "iqr_ms": 2.0},
        ],
    )
    rows = _efficiency(write_report(matrix, paths).path.read_text())
    assert rows and all("**" not in r[-1] and "**" not in r[-2] for r in rows), rows

    _latency_file(  # the same medians, intervals apart: the faster network is marked
        paths.root / "latency.json",
        [
            {**entry, "strategy": None, "median_ms": 8.0, "iqr_ms": 0.2},
            {**entry, "strategy": "ttl@block2", "median_ms": 7.5, "iqr_ms": 0.2},
        ],
    )
    rows = _efficiency(write_report(matrix, paths).path.read_text())
    assert [r[1] for r in rows if "**" in r[-1]] == ["TTL-1 (block2)"]


def test_latency_interval_comes_from_quartiles_when_recorded():
    from suite.results.latency import interval

    assert interval({"median_ms": 10.0, "iqr_ms": 4.0, "q1_ms": 9.5, "q3_ms": 13.5}) == (9.5, 13.5)
    assert interval({"median_ms": 10.0, "iqr_ms": 4.0}) == (8.0, 12.0)
    assert interval({"median_ms": 10.0}) == (10.0, 10.0)


def test_no_latency_file_no_bench_column(main_board):
    assert "T bench" not in main_board[3]


PARAMS_MATRIX = """
name: params
datasets: [synthetic-vessels]
architectures: [resnet18]
seeds: 3
strategies: [ft, l2-sp, {name: l2-sp, params: {alpha: 0.5}}]
report:
  tables: [davila, significance]
"""


def test_cells_differing_only_in_strategy_params_are_separate_rows(tmp_path):
    def spec(cell):
        alpha = cell.config.strategy.params.get("alpha")
        acc = {"ft": 0.80, "l2-sp": 0.90}[cell.key["strategy"]] - (0.20 if alpha == 0.5 else 0.0)
        return {"val": acc + 0.01 * cell.key["seed"], "test": acc + 0.01 * cell.key["seed"]}

    board = make_board(tmp_path, PARAMS_MATRIX, spec)[3]
    results = board[board.index("### Results") : board.index("## Significance")]
    rows = {r[0]: r[1] for r in (table_row(results, name) for name in ("L2-SP", "L2-SP [alpha=0.5]"))}
    # L2-SP: the default α only (the fixture's cells carry no resolved defaults); [alpha=0.5]: the ablation alone
    assert rows == {"L2-SP": "**91.00 (0.58)**★", "L2-SP [alpha=0.5]": "71.00 (0.58)"}
    assert "| FT [" not in results  # strategies whose cells share their parameters keep their plain names
    assert "L2-SP [alpha=0.5]" in board[board.index("## Significance") :]


def test_fang_markers_and_per_class(fang_board):
    board = fang_board[3]
    vessels = board[board.index("## synthetic-vessels") : board.index("## synthetic-fundus")]
    for marker in ("`resnet18**`", "`resnet18^`", "`resnet18*`", "`resnet18++`", "`vgg19**`"):
        assert marker in vessels
    fundus = board[board.index("## synthetic-fundus") :]
    assert "`resnet18+`" in fundus and "validation split (the dataset has no test split)" in fundus
    swft = [ln for ln in vessels.splitlines() if "SWFT step" in ln]
    assert len(swft) >= 6  # one row per step and architecture, none collapsed


def test_swft_steps_get_a_row_for_the_step_validation_picks(fang_board):
    board = fang_board[3]
    results = board[board.index("### Results") : board.index("### Per class")]
    row = next(
        ln for ln in results.splitlines() if ln.startswith("| imagenet → synthetic-fundus | SWFT (val)")
    )
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == "84.00 (1.00)"  # resnet18: step 2, chosen on validation, not step 3 (88.00 on test)
    assert cells[4] == "89.00 (1.00)"  # vgg19: step 3 is best on both
    assert "step 2 (val" in results and "step 3 (val" in results  # what validation chose, per architecture


def test_plots_are_valid_pngs_and_deterministic(main_board, fang_board, tmp_path):
    for matrix, paths, outcome, board in (main_board, fang_board):
        assert outcome.plots, "no plots written"
        for png in outcome.plots:
            assert png.read_bytes()[:8] == PNG
            assert matrix and matplotlib.image.imread(png).ndim == 3
            assert f"(plots/{png.name})" in board
        files = [outcome.path, *outcome.plots, paths.root / "results.csv", paths.root / "summary.csv"]
        before = {p: p.read_bytes() for p in files}
        again = write_report(matrix, paths)
        assert {p: p.read_bytes() for p in before} == before and again.plots == outcome.plots
    assert [p.name for p in fang_board[2].plots] == ["roc-synthetic-vessels.png"]


def test_report_config_errors_name_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(MAIN.replace("  tables:", "  tabels:"))
    with pytest.raises(
        UserError, match=r"bad.yaml:\d+:\d+: report.tabels: unknown key .*did you mean 'tables'"
    ):
        load(path)
    path.write_text(MAIN + "  metrics: [acuracy]\n")
    with pytest.raises(UserError, match=r"did you mean 'accuracy'"):
        load(path)
    path.write_text(MAIN + "  baseline: fft\n")
    matrix, paths = build(tmp_path, MAIN + "  baseline: fft\n", lambda c: None)
    with pytest.raises(UserError, match=r"report: strategy unknown 'fft'; did you mean 'ft'"):
        write_report(matrix, paths)


def test_stale_results_are_counted_not_used(tmp_path):
    matrix, paths = build(tmp_path, FANG.replace("[davila, per_class, roc]", "[davila]"), fang_spec)
    stale = next(paths.runs.glob("*.json"))
    stale.rename(stale.with_name(re.sub(r"\.[0-9a-f]{12}\.json$", ".000000000000.json", stale.name)))
    board = write_report(matrix, paths).path.read_text()
    assert "1 missing" in board and "1 stale result file(s) ignored" in board


def test_variant_and_sweep_modes_are_configurable(tmp_path):
    text = MAIN.replace(
        "  tables: [davila, relative, best, effectiveness, efficiency]",
        "  tables: [davila]\n  sweeps: each\n  variants: {ttl: best}",
    )
    matrix, paths = build(tmp_path, text, main_spec)
    board = write_report(matrix, paths).path.read_text()
    assert table_row(board, "FT (lr=1e-3)")[1] == "87.00 (0.58)"  # each sweep point is its own row
    assert table_row(board, "FT (lr=1e-4)")[1] == "81.00 (0.58)"
    assert plain(table_row(board, "TTL")[1]) == "96.00 (0.58)"  # best over every variant: layer4.1
    assert "TTL-1" not in board and "layer4.1 (val 96.00, of 7)" in board


def test_undefined_validation_chooses_nothing(tmp_path):
    """NaN validation everywhere: a row with candidates reports n/a (§), never an arbitrary candidate."""

    def nan_val(cell):
        spec = main_spec(cell)
        return spec if spec is None or "val" not in spec else {**spec, "val": math.nan}

    matrix, paths = build(
        tmp_path, MAIN.replace("davila, relative, best, effectiveness, efficiency", "davila"), nan_val
    )
    board = write_report(matrix, paths).path.read_text()
    assert table_row(board, "FT")[1:] == ["n/a§"] * 4 and table_row(board, "TTL-1")[1] == "n/a§"
    assert plain(table_row(board, "LP-FT")[1]) == "83.00 (0.58)"  # one candidate: nothing to choose
    assert "§ resnet50 · FT (imagenet): none of 2 candidates has a defined validation accuracy" in board


def test_the_matrix_chooses_the_tables_and_their_order(tmp_path):
    """`report: tables:` is honoured in its order (within each dataset's section, then the matrix-wide tables)."""
    text = MAIN.replace(
        "[davila, relative, best, effectiveness, efficiency]", "[efficiency, effectiveness, davila]"
    )
    matrix, paths = build(tmp_path, text, main_spec)
    board = write_report(matrix, paths).path.read_text()
    heads = [line for line in board.splitlines() if line.startswith(("### ", "## "))]
    assert heads[:4] == [
        "## synthetic-vessels",
        "### Efficiency (Peng layout)",
        "### Results (Davila layout)",
        "## Effectiveness (Davila Table 12)",
    ]
    assert "Relative to" not in board and "Best per dataset" not in board


def test_an_unknown_table_is_a_matrix_error_at_its_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(MAIN.replace("[davila, relative,", "[davila, relativ,"))
    with pytest.raises(UserError, match=r"bad.yaml:\d+:\d+: report.tables.1: .*did you mean 'relative'"):
        load_matrix(str(path), SuiteCatalog(tables=TABLES.names()))


PHASED = """
name: phased
datasets: [synthetic-vessels]
architectures: [resnet50]
seeds: 3
grids:
  - {strategies: [ft], sweep: {lr: [1.0e-3, 10.0]}}
  - {strategies: [g-lf, lp-ft]}
report:
  tables: [davila, checkpoints]
"""


def phased_spec(cell) -> dict:
    k, lr = cell.key, cell.config.train.lr
    if k["strategy"] == "ft" and lr == 10.0:  # an LR far too high: finite but absurd, best on validation
        return {"val": 0.99, "test": 0.5, "diverged": True}
    phases = {"ft": 1, "g-lf": 6, "lp-ft": 2}[k["strategy"]]
    data = {"split_sizes": {"train": 7805, "val": 2227, "test": 1112}, "patients_in_two_splits": 31}
    data["published_split_sizes"] = {"train": 7803, "val": 2228, "test": 1113}
    return {"val": 0.8, "test": 0.8, "phases": phases, "best_phase": phases, "best_epoch": 7, "data": data}


def test_the_board_shows_checkpoints_divergence_and_the_split(tmp_path):
    """Multi-phase rows say where their kept weights come from; a diverged candidate is flagged and never picked
    over a sane one; the split's sizes sit beside the published ones, with the patients in two splits."""
    matrix, paths = build(tmp_path, PHASED, phased_spec)
    board = write_report(matrix, paths).path.read_text()
    assert "### Checkpoints of multi-phase strategies" in board
    assert re.search(r"\| G-LF .*epoch 7\.0 of 1\d\.0; final phase \(6 of 6\) in 3/3 seeds", board)
    assert "| FT " not in board.split("### Checkpoints")[1]  # one phase: nothing to say
    assert "3 diverged (‼)" in board  # counted in the header
    assert (
        "lr=1e-3 (val 80.00, of 2)" in board
    )  # on validation alone the diverged point (0.99) would have won
    assert (
        "Split: train 7,805 / val 2,227 / test 1,112 images (published 7,803 / 2,228 / 1,113: Δ +2 / -1 / -1)"
        in board
    )
    assert "31 patient(s) have images in more than one split" in board


def test_a_dataset_without_a_test_split_is_never_called_test(tmp_path):
    text = MAIN.replace("[davila, relative, best, effectiveness, efficiency]", "[davila, best]")
    matrix, paths = build(tmp_path, text, lambda c: {**(main_spec(c) or {"val": 0.5}), "test": None})
    board = write_report(matrix, paths).path.read_text()
    assert "validation, not held out" in board and "reported on the held-out test" not in board
    assert "Test-split" not in board and "Test mean" not in board
