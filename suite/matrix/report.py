"""The `report:` section of a matrix: which tables the leaderboard holds, how rows are chosen, significance tests
and the regression check. Schemas only (pydantic); the code that reads them is in suite/report and suite/stats.

Names that other registries own are checked when the matrix is loaded, at the file and line they were written
(suite/matrix/expand.py asks the catalog): metric names (`metrics`, `select_on`, `significance.metric`) and table
names (`tables`, against suite/report/tables' registry). So this module imports only pydantic.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

VariantMode = Literal["search", "best", "each", "each+best"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
    memory_pct: float = Field(
        10.0, gt=0, description="flag peak-memory changes beyond this many percent (same kind of memory)"
    )


class SignificanceConfig(BaseModel):
    """Which baseline, which level, how many resamples, and when there is too little evidence to test."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    baseline: str = Field("ft", description="strategy every other strategy is compared with, per dataset")
    alpha: float = Field(0.05, gt=0.0, lt=0.5, description="significance level of every test")
    bootstrap: int = Field(10_000, ge=1_000, description="bootstrap resamples for the 95% CI of Δ")
    seed: int = Field(0, description="seed of the bootstrap, so the same results give the same markdown")
    min_seeds: int = Field(
        3, ge=2, description="paired seeds needed before a per-dataset test is run (a t-test needs ≥ 2)"
    )
    min_datasets: int = Field(
        5, ge=5, description="datasets needed before a Friedman test is run (autorank refuses fewer than 5)"
    )
    adjust: Literal["holm", "none"] = Field(
        "holm", description="multiplicity correction over the strategies compared on one dataset"
    )
    variants: Literal["best-on-val", "separate"] = Field(
        "best-on-val",
        description="best-on-val: one entry per strategy family, its variant chosen on the validation metric",
    )
    metric: str | None = Field(None, description="rank every dataset on this metric instead of its first")
    threshold_pct: float = Field(
        0.1, ge=0.0, description="Davila's Table 12 rule: beats the baseline by > x%"
    )


class ReportConfig(_Strict):
    """What `medtl-bench report` writes. The selection rules are in suite/report/select.py."""

    tables: list[str] | None = Field(
        None,
        description="tables and plots, in this order (each dataset's section, then the matrix-wide tables); "
        "null: every table suite/report/tables registers, in its order",
    )
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

    @field_validator("tables")
    @classmethod
    def _unique(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else list(dict.fromkeys(value))

    def metric_names(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Every metric this section names, with its key path under `report:` (checked at load time)."""
        named = [(("metrics", i), m) for i, m in enumerate(self.metrics or [])]
        named += [(("select_on",), self.select_on)] if self.select_on else []
        metric = self.significance.metric
        return named + ([(("significance", "metric"), metric)] if metric else [])
