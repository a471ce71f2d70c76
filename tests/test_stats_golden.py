"""Golden markdown of the significance section. After an intended change, regenerate with
`MEDTL_UPDATE_GOLDEN=1 python -m pytest tests/test_stats_golden.py` and read the diff before committing it."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from stats_synth import metrics_of, synth_frame

from suite.matrix.report import SignificanceConfig
from suite.stats import render_significance

GOLDEN = Path(__file__).parent / "golden_stats"


def planted() -> pd.DataFrame:
    """6 datasets in two modalities, 2 backbones; `good` +0.03 everywhere, `lp` −0.04, swft in two variants."""
    return synth_frame(
        strategies=("ft", "good", "lp", "swft@1", "swft@2"),
        effect={"good": 0.03, "lp": -0.04, "swft@2": 0.005},
        noise=0.003,
    )


def little_evidence() -> pd.DataFrame:
    """3 datasets, 2 seeds, one dataset whose results have no test metric, one dataset × backbone without `ft`."""
    frame = synth_frame(datasets=4, seeds=(0, 1), effect={"lp": -0.05}, modalities=("mri",))
    frame.loc[frame["dataset"] == "ds03", "test_accuracy"] = np.nan
    no_ft = (frame["dataset"] == "ds02") & (frame["architecture"] == "resnet50") & (frame["strategy"] == "ft")
    return frame[~no_ft]


CASES = {"planted": planted, "little_evidence": little_evidence}


@pytest.mark.parametrize("name", sorted(CASES))
def test_markdown_matches_golden(name, tmp_path):
    frame = CASES[name]()
    markdown = render_significance(frame, SignificanceConfig(), tmp_path, metrics_of(frame), link="plots")
    path = GOLDEN / f"{name}.md"
    if os.environ.get("MEDTL_UPDATE_GOLDEN") == "1":
        path.write_text(markdown)
    assert markdown == path.read_text()
    linked = sorted(
        line.split("(plots/")[1].rstrip(")") for line in markdown.splitlines() if "](plots/" in line
    )
    assert linked == sorted(p.name for p in tmp_path.glob("*.png"))
