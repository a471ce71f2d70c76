"""The `report:` section of a matrix: which tables and plots the leaderboard holds, and how rows are chosen.

Every key has the default a user of the three papers would expect, so a matrix without `report:` gets every table.
This module imports only pydantic (the matrix schema imports it, and matrix loading never imports torch).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from suite.stats.config import SignificanceConfig

TableName = Literal[
    "davila", "relative", "best", "effectiveness", "significance", "efficiency", "per_class", "roc"
]
ALL_TABLES: tuple[TableName, ...] = (
    "davila",
    "relative",
    "best",
    "effectiveness",
    "significance",
    "efficiency",
    "per_class",
    "roc",
)
VariantMode = Literal["search", "best", "each", "each+best"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_metrics(names: list[str] | None) -> list[str] | None:
    """Metric names must be known to suite.metrics (imported lazily: it pulls in scikit-learn)."""
    if names:
        from suite.errors import did_you_mean
        from suite.metrics import METRICS

        for name in names:
            if name not in METRICS:
                raise ValueError(f"metric {did_you_mean(name, METRICS)}")
    return names


class CompareConfig(_Strict):
    """Thresholds of `medtl-bench report MATRIX --compare OLD` (the nightly regression check)."""

    k: float = Field(
        2.0, gt=0, description="flag a metric whose mean moved by more than k·SE of the difference"
    )
    abs_tol: float = Field(
        0.01,
        ge=0,
        description="the limit instead of k·SE when that SE is unavailable (one seed) or zero",
    )
    latency_pct: float = Field(
        10.0, gt=0, description="flag batch-1 latency changes beyond this many percent"
    )


class ReportConfig(_Strict):
    """What `medtl-bench report` writes. The selection rules are in suite/report/select.py."""

    tables: list[TableName] = Field(list(ALL_TABLES), description="tables and plots, in this order")
    significance: SignificanceConfig = Field(
        SignificanceConfig(),
        description="paired tests over seeds, Friedman/Nemenyi across datasets (suite/stats)",
    )
    baseline: str = Field(
        "ft", description="strategy that relative change, best and effectiveness compare to"
    )
    metrics: list[str] | None = Field(
        None, min_length=1, description="override every dataset's primary metrics (the first is the main one)"
    )
    select_on: str | None = Field(
        None, description="validation metric that picks variants and sweep points; default: the main metric"
    )
    variants: dict[str, VariantMode] = Field(
        {},
        description="per strategy: search (-1/-2 rows), best (one row), each (one row per variant), each+best "
        "(one row per variant and one for the variant validation picks); default: search for block/layer "
        "variants, each+best for steps, best otherwise",
    )
    sweeps: Literal["best", "each"] = Field(
        "best", description="pick one sweep point on validation, or show all"
    )
    best_by: Literal["val", "test"] = Field(
        "val", description="Table 11 picks the best architecture + strategy on this split (Davila used test)"
    )
    effectiveness_pct: float = Field(0.1, ge=0, description="Table 12: a win is a relative gain above this %")
    macs_counter: Literal["fvcore", "thop"] = "fvcore"
    scale: Literal["percent", "fraction"] = Field("percent", description="Davila-style tables in % or as 0-1")
    per_class_max_classes: int = Field(6, ge=2, description="skip the per-class table for wider label sets")
    compare: CompareConfig = CompareConfig()

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: list[str] | None) -> list[str] | None:
        return _check_metrics(value)

    @field_validator("select_on")
    @classmethod
    def _known_select_metric(cls, value: str | None) -> str | None:
        _check_metrics([value] if value else None)
        return value

    @field_validator("tables")
    @classmethod
    def _unique(cls, value: list[TableName]) -> list[TableName]:
        return list(dict.fromkeys(value))
