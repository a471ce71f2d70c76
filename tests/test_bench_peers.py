"""benchmarks/peers.py (`make bench-peers`): timm's command line says what the cell's matrix says, and a quick run
goes through every piece (a stand-in for timm's train.py checks the ImageFolder tree and writes timm's summary)."""

from __future__ import annotations

import itertools
import json

import pytest

from benchmarks import peers

# A stand-in for timm's train.py: its options (the ones the benchmark passes, unknown ones are an error), the
# exported tree checked, and summary.csv written as timm writes it.
FAKE_TRAIN = """
import argparse, csv, pathlib, sys
from PIL import Image
p = argparse.ArgumentParser()
p.add_argument("data_dir")
for flag in ("--model", "--num-classes", "--img-size", "--crop-pct", "--batch-size", "--validation-batch-size",
             "--epochs", "--opt", "--lr", "--weight-decay", "--sched", "--decay-epochs", "--decay-rate",
             "--warmup-epochs", "--cooldown-epochs", "--smoothing", "--hflip", "--vflip", "--color-jitter",
             "--reprob", "--train-interpolation", "--interpolation", "--device", "--seed", "--eval-metric",
             "--checkpoint-hist", "--log-interval", "--output", "--experiment"):
    p.add_argument(flag)
p.add_argument("--scale", nargs=2)
p.add_argument("--ratio", nargs=2)
a = p.parse_args()
root = pathlib.Path(a.data_dir)
for split in ("train", "validation"):
    files = sorted((root / split / "malignant").glob("*.png"))
    assert files and sorted(d.name for d in (root / split).iterdir()) == ["benign", "malignant"], split
    assert Image.open(files[0]).size == (int(a.img_size),) * 2
out = pathlib.Path(a.output) / a.experiment
out.mkdir(parents=True)
with (out / "summary.csv").open("w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["epoch", "train_loss", "eval_loss", "eval_top1"])
    for e in range(int(a.epochs)):
        w.writerow([e, 0.7, 0.6 - e / 100, 60.0 + e])
"""


def _flags(argv: list[str]) -> dict[str, str]:
    return {k: v for k, v in itertools.pairwise(argv) if k.startswith("--")}


def test_timm_command_says_what_the_cell_matrix_says(tmp_path):
    from suite.catalog import SuiteCatalog
    from suite.matrix import load_matrix

    args = peers.parser().parse_args(["--epochs", "4", "--batch", "16", "--lr", "3e-4", "--step", "3"])
    matrix = tmp_path / "peers.yaml"
    matrix.write_text(peers.MATRIX.format(**vars(args), seed=0))
    cfg = load_matrix(str(matrix), SuiteCatalog()).cells[0].config.train
    flags = _flags(peers.timm_args(args, tmp_path, tmp_path, 0))
    assert int(flags["--epochs"]) == cfg.epochs == 4
    assert int(flags["--batch-size"]) == cfg.batch_size == 16
    assert float(flags["--lr"]) == cfg.lr == 3e-4
    assert flags["--opt"] == cfg.optimizer == "adam"
    assert float(flags["--weight-decay"]) == cfg.weight_decay == 0
    assert flags["--sched"] == cfg.scheduler.name == "step"
    assert int(flags["--decay-epochs"]) == cfg.scheduler.step_size == 3
    assert float(flags["--decay-rate"]) == cfg.scheduler.gamma
    assert int(flags["--img-size"]) == cfg.image_size
    assert cfg.augment.hflip and float(flags["--hflip"]) == 0.5 and float(flags["--vflip"]) == 0
    assert not (cfg.augment.crop_padding or cfg.augment.rotate)
    for off in ("--warmup-epochs", "--cooldown-epochs", "--smoothing", "--color-jitter", "--reprob"):
        assert float(flags[off]) == 0, off
    assert flags["--eval-metric"] == cfg.monitor == "loss"


@pytest.mark.slow
def test_quick_run_prints_every_ratio(tmp_path, monkeypatch, capsys):
    for var in ("MEDTL_CACHE", "MEDTL_LOCK"):  # the benchmark points them at its private copy; restored after
        monkeypatch.setenv(var, str(tmp_path / var))
    fake = tmp_path / "train.py"
    fake.write_text(FAKE_TRAIN)
    out = tmp_path / "peers.json"
    peers.main(["--quick", "--timm-train", str(fake), "--out", str(out)])
    printed = capsys.readouterr().out
    for line in ("suite loop / bare loop", "deterministic", "1 thread", "suite cell / timm", "load average"):
        assert line in printed, line
    saved = json.loads(out.read_text())
    assert set(saved["ratios"]) == {"loop", "loop_1thread", "deterministic", "one_thread", "cell_wall"}
    assert all(v > 0 for values in saved["ratios"].values() for v in values)
    assert saved["rows"][0]["timm"][1] == 60.0  # top-1 at the fake's lowest eval loss (its last epoch)
