"""What the report passes in besides its frame: each dataset's ranking metric and modality.

Both come from where the rest of the report gets them: the metric from the cells' resolved configs (the matrix may
override the lock's primary metrics), the modality from the dataset's `datasets.lock` entry.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from suite.data.lock import lock_entry


def ranking_metrics(cells: Iterable[Any]) -> dict[str, str]:
    """dataset → its first primary metric, from `Cell.config["dataset"]["metrics"]`."""
    return {c.config["dataset"]["name"]: c.config["dataset"]["metrics"][0] for c in cells}


def with_modality(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with a `modality` column from each dataset's datasets.lock entry."""
    if frame.empty:
        return frame.assign(modality=pd.Series(dtype=str))
    modality = {d: lock_entry(d).modality for d in frame["dataset"].unique()}
    return frame.assign(modality=frame["dataset"].map(modality))
