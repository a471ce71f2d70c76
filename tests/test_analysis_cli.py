"""`medtl-bench analyze cam | svcca` end to end on finished tiny cells, and the report's view of their figures.

The cells run in this process (`run_cell`, no subprocess, about a second each).
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import pytest
import torch
import yaml
from PIL import Image

from suite.analysis.cam import choose_images
from suite.analysis.cells import find_cell, load_data, load_source, load_trained, results_paths
from suite.analysis.features import FeatureMap
from suite.analysis.truncation import ttl_matrix
from suite.catalog import SuiteCatalog
from suite.cli import main
from suite.document import to_markdown
from suite.matrix import load_matrix
from suite.matrix.loader import Located, validate
from suite.matrix.schema import Matrix
from suite.report.analysis import analysis_section
from suite.report.html import html_page
from suite.results import RunPaths, list_artifacts
from suite.runner.cell import run_cell
from suite.runner.spec import CellSpec

# A two-step comparison in miniature: the source `scratch>synthetic-vessels` trains a parent ft cell, whose checkpoint
# its children start from: ft (all layers), lp (head only, like Fang's `++`), and two whose models differ from the
# source's: ttl@block3 (truncated) and lora (adapters injected). The intermediate dataset is synthetic-vessels itself
# because the tests' tiny synthetic-fundus (40 images) cannot fill a stratified train split.
TWO_STEP = """
name: tiny-analysis
datasets: [synthetic-vessels]
architectures: ["timm:resnet10t"]
sources: [scratch>synthetic-vessels]
strategies: [ft, lp, ttl@block3, lora]
seeds: [0]
train: {epochs: 2, batch_size: 16, image_size: 32, threads: 1, lr: 0.003}
"""


def run_in_process(matrix_path: Path, results: Path) -> RunPaths:
    """Run every cell of a matrix in this process, parents first (they come first in expansion order)."""
    matrix = load_matrix(str(matrix_path), SuiteCatalog())
    paths = RunPaths(results / matrix.name)
    by_id = {c.id: c for c in matrix.cells}
    for cell in sorted(matrix.cells, key=lambda c: len(c.parents)):
        spec = CellSpec.for_cell(cell, paths, matrix.name, {}, by_id)
        paths.cell_dir(cell).mkdir(parents=True, exist_ok=True)
        run_cell(spec)
    return paths


FT = "strategy=ft source=scratch>*"
LP = "strategy=lp"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The tiny two-step matrix, run once in this process: a parent ft cell and its ft and lp children."""
    tmp = tmp_path_factory.mktemp("analysis")
    (tmp / "m.yaml").write_text(TWO_STEP)
    return run_in_process(tmp / "m.yaml", tmp / "results")


@pytest.fixture(scope="module")
def analysed(world):
    """`analyze cam` (ft vs lp side by side) and `analyze svcca --emit-ttl` run once; what they printed."""
    outputs = []
    for args in (
        ["cam", str(world.root), "--cells", FT, LP, "--images", "2", "--seed", "5"],
        ["svcca", str(world.root), "--cell", FT, "--draws", "3", "--emit-ttl"],
    ):
        with redirect_stdout(io.StringIO()) as out:
            assert main(["analyze", *args]) == 0
        outputs.append(out.getvalue())
    return outputs


def test_cam_side_by_side_writes_a_png_and_a_manifest(world, analysed):
    png = next((world.root / "analysis" / "cam").glob("*.png"))
    assert str(png) in analysed[0]
    with Image.open(png) as image:
        assert image.format == "PNG" and image.size[0] > 500 and image.size[1] > 400
    manifest = json.loads(png.with_suffix(".json").read_text())
    test = load_data(find_cell(world, FT)).splits["test"]
    assert manifest["images"] == [test.ids[i] for i in choose_images(test, 2, seed=5)]  # the seeded test draw
    assert [c["label"].split(" · ")[2] for c in manifest["cells"]] == ["ft", "lp"]


def test_cam_follows_explicit_ids_and_an_output_path(world):
    ids = load_data(find_cell(world, LP)).splits["test"].ids[-2:]
    out = world.root / "elsewhere" / "mine.png"
    args = ["analyze", "cam", str(world.root), "--cells", LP, "--ids", ",".join(ids), "--layers", "all"]
    assert main([*args, "--method", "gradcam", "--out", str(out)]) == 0
    manifest = json.loads(out.with_suffix(".json").read_text())
    assert out.is_file() and manifest["images"] == ids and manifest["method"] == "gradcam"


def test_svcca_writes_curves_a_decision_and_a_ttl_matrix(world, analysed):
    summary = analysed[1]
    assert "block4" in summary and "layer4" in summary
    cell = find_cell(world, FT)
    manifest = json.loads((world.root / "analysis" / "svcca" / f"{cell.slug}.json").read_text())
    assert [p["label"] for p in manifest["places"]] == ["block0", "block1", "block2", "block3", "block4"]
    for place in manifest["places"]:
        assert 0.0 <= min(place["real"]) <= max(place["real"]) <= 1.0 and 0.0 <= place["effect"] <= 1.0
        assert len(place["real"]) == min(place["kept"]) == len(place["random_mean_curve"])
    assert "Vargha" in manifest["criterion"]
    written = sorted(p.name for p in (world.root / "analysis" / "svcca").glob("*.ttl.yaml"))
    assert written == ([f"{cell.slug}.ttl.yaml"] if manifest["suggested"] else [])


def test_the_ttl_matrix_reproduces_the_cell_but_for_the_strategy(world, tmp_path):
    """With `ft` in place of the TTL variant, the emitted matrix expands to the very cell SVCCA looked at."""
    cell = find_cell(world, FT)
    text = ttl_matrix(cell, find_cell(world, cell.parents[0]), "block3", "a note")
    assert text.startswith("# a note\n")
    assert validate(Located(yaml.safe_load(text), {}), Matrix).strategies[0].name == "ttl@block3"
    (tmp_path / "ttl.yaml").write_text(text)
    ttl = load_matrix(str(tmp_path / "ttl.yaml"), SuiteCatalog())
    assert {c.key["strategy"] for c in ttl.cells} == {"ttl@block3", "ft"}  # the TTL cell and its parent stage
    assert set(cell.parents) <= {c.id for c in ttl.cells}  # the same intermediate stage, reused if present
    (tmp_path / "again.yaml").write_text(text.replace("ttl@block3", "ft"))
    again = load_matrix(str(tmp_path / "again.yaml"), SuiteCatalog())
    assert cell.cell_id in {c.id for c in again.cells}


def test_the_report_lists_and_links_the_figures(world, analysed):
    assert {a.kind for a in list_artifacts(world)} == {"cam", "svcca"}
    text = to_markdown(analysis_section(world))
    assert "## Analysis" in text and "](analysis/cam/" in text and "](analysis/svcca/" in text
    assert text == to_markdown(analysis_section(world))  # deterministic, for byte-identical leaderboards
    page = html_page(analysis_section(world), "t", world.root, {})  # the HTML page shows every figure inline
    assert page.count('src="data:image/png;base64,') == len(list_artifacts(world)) and "![" not in text
    assert all(a.figure.with_suffix(".pdf").is_file() for a in list_artifacts(world))  # and a PDF beside each
    assert analysis_section(RunPaths(world.root / "runs")) == []


def test_cam_reads_truncated_and_lora_models(world):
    """TTL keeps fewer blocks (its model is rebuilt by the strategy before the checkpoint loads); LoRA adds adapters."""
    out = world.root / "elsewhere" / "ttl-lora.png"
    args = ["analyze", "cam", str(world.root), "--cells", "strategy=ttl", "strategy=lora", "--images", "1"]
    assert main([*args, "--layers", "all", "--out", str(out)]) == 0
    assert out.is_file()
    ttl, lora = (load_trained(world, find_cell(world, f"strategy={s}")).model for s in ("ttl", "lora"))
    assert len(FeatureMap(ttl, 32).block_outputs()) < len(FeatureMap(lora, 32).block_outputs()) == 5


def test_source_weights_are_the_parents_checkpoint(world):
    child = find_cell(world, FT)
    parent = find_cell(world, child.parents[0])
    source = load_source(world, child).state_dict()
    trained_parent = load_trained(world, parent).model.state_dict()
    body = [k for k in trained_parent if not k.startswith("fc.")]
    assert all(torch.equal(source[k], trained_parent[k]) for k in body)
    assert not all(torch.equal(source[k], load_trained(world, child).model.state_dict()[k]) for k in body)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["cam", "{root}", "--cells", "strategy=nope"], "no finished cell matches"),
        (["cam", "{root}", "--cells", "seed=0"], "matches 5 finished cells"),
        (["svcca", "{root}", "--cell", "strategy=lora"], "pick an `ft` cell"),
        (["cam", "{root}", "--cells", LP, "--layers", "layr3"], "did you mean 'layer3'"),
        (["cam", "{root}", "--cells", LP, "--ids", "nope.png"], "ids of the test split only"),
        (["cam", "{root}", "--cells", LP, "--target", "malignnt"], "did you mean 'malignant'"),
        (["svcca", "{root}/..", "--cell", FT], "pass one matrix's folder"),
    ],
)
def test_user_mistakes_are_one_line(world, capsys, args, needle):
    assert main(["analyze", *(a.format(root=world.root) for a in args)]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1


def test_results_paths_accepts_a_matrix_folder_only(world):
    assert results_paths(world.root).runs.is_dir()


@pytest.mark.parametrize("verb", ["cam", "svcca"])
def test_analysis_outputs_stay_inside_the_results_folder(world, tmp_path, capsys, verb):
    """`--out` may move a figure within RESULTS_DIR, never out of it (issue 19.1); checked before any work."""
    out = tmp_path / "elsewhere" / ("x.png" if verb == "cam" else "svcca")
    args = ["--cells", LP, "--images", "1"] if verb == "cam" else ["--cell", FT, "--draws", "1"]
    assert main(["analyze", verb, str(world.root), *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "outside" in err and "Traceback" not in err
    assert not (tmp_path / "elsewhere").exists()


def test_missing_checkpoints_name_the_cells_and_the_command_that_retrains_only_those(world, tmp_path, capsys):
    """Results are published without work/: on a fresh clone the analysis says, in one line and before any work,
    which cells to retrain and how (their parents too, for SVCCA's before-training model)."""
    import shutil

    copy = tmp_path / world.root.name
    shutil.copytree(world.root / "runs", copy / "runs")
    child = find_cell(world, LP)
    code = main(["analyze", "svcca", str(copy), "--cell", LP, "--draws", "3"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "2 cell(s) have no best checkpoint here" in err
    assert (
        f"`medtl-bench run {world.root.name} --only id={child.cell_id},{child.parents[0]} --recompute" in err
    )
    assert not (copy / "analysis").exists()
