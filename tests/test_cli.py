"""Bad input at the command line: exit code 2, one line naming the file and line, no traceback, nothing written."""

from __future__ import annotations

import pytest

from suite.cli import main

GOOD = """
datasets: [synthetic-vessels]
architectures: [tf_efficientnet_lite0]
strategies: [ft, lp]
seeds: [0]
train: {epochs: 1, image_size: 32}
"""


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (("tf_efficientnet_lite0", "resnet5"), "did you mean 'resnet50'"),
        (("synthetic-vessels", "synthetic-vessel"), "did you mean 'synthetic-vessels'"),
        (("[ft, lp]", "[ft, l2sp]"), "unknown 'l2sp'"),
        (("epochs: 1", "epochs: one"), "train.epochs"),
        (("seeds: [0]", "seeds: []"), "empty axis"),
        (("[ft, lp]", "[ft, lp"), "YAML syntax error"),
    ],
)
def test_bad_matrix_exits_2_with_one_line(tmp_path, capsys, edit, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace(*edit))
    results = tmp_path / "results"
    code = main(["run", str(path), "--results", str(results)])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err
    assert "bad.yaml:" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not results.exists()


def test_missing_matrix_lists_available(capsys):
    assert main(["run", "smok"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'smoke'" in err and len(err.strip().splitlines()) == 1


def test_dry_run_prints_cells(tmp_path, capsys):
    path = tmp_path / "good.yaml"
    path.write_text(GOOD)
    assert main(["run", str(path), "--dry-run", "--results", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "2 cells in matrix 'good'" in out
    assert not (tmp_path / "r").exists()


def test_list_shows_registries(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("synthetic-vessels", "tf_efficientnet_lite0", "resnet50.tv_in1k", "lp"):
        assert name in out
