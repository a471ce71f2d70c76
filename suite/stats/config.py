"""Settings of the `significance` report section: the matrix's `report: {significance: {...}}` block.

Imports only pydantic and suite.errors, so the matrix schema can embed it without pulling in pandas or sklearn.

Every default is a decision documented in `suite/stats/__init__.py`; the validators keep the thresholds at or above
the point where the tests mean anything (a t-test needs two paired seeds, autorank's Friedman needs five datasets).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from suite.errors import UserError, did_you_mean


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

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str | None) -> str | None:
        from suite.metrics import METRICS  # lazily: it pulls in scikit-learn, and matrix loading must not

        if value is not None and value not in METRICS:
            raise ValueError(f"metric: {did_you_mean(value, METRICS)}")
        return value

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None, where: str | None = None) -> SignificanceConfig:
        """Validate the matrix's `report.significance` mapping; a mistake is a one-line `UserError`."""
        try:
            return cls.model_validate(dict(section or {}))
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "significance"
            message = str(err["msg"]).removeprefix("Value error, ")
            valid = ", ".join(cls.model_fields)
            raise UserError(
                f"report.significance.{field}: {message} (settings: {valid})", where=where
            ) from None
