"""The matrix file's schema. Unknown keys are errors; every field has the default a user would expect.

A matrix is datasets × architectures × sources × strategies × sweep points × seeds, optionally as a union of
`grids` (each overriding some axes) minus `exclude` patterns. Training settings merge in this order, later wins:
`train:` → the dataset entry's `train:` → the architecture entry's → the strategy entry's → the sweep point.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from suite.errors import UserError
from suite.matrix.executor import ExecutorSettings
from suite.matrix.report import ReportConfig
from suite.paths import check_name

MAX_SEED_COUNT = 10_000
"""The largest `seeds: N`; a list of seeds may name any seeds in the range below."""
MAX_SEED = 2**32 - 1
"""Seeds are used as given by Python, NumPy and torch; NumPy's generator takes at most 32 bits."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Scheduler(Strict):
    """`step`: StepLR (Fang: every 5 epochs ×0.5). `plateau`: ReduceLROnPlateau on the monitor (Peng)."""

    name: Literal["step", "plateau", "none"] = "step"
    step_size: int = Field(5, ge=1)
    gamma: float = Field(0.5, gt=0, le=1)
    factor: float = Field(0.1, gt=0, lt=1)
    patience: int = Field(2, ge=0)
    min_lr: float = Field(1e-7, ge=0, description="plateau: stop training once the LR falls below this floor")


class EarlyStopping(Strict):
    patience: int | None = Field(10, ge=1, description="epochs without improvement; null disables")
    delta: float = Field(0.0, ge=0)


class Augment(Strict):
    """Augmentations run on cached uint8 tensors: Fang uses hflip; Peng random crop and slight rotation."""

    hflip: bool = False
    vflip: bool = False
    rotate: float = Field(0.0, ge=0, le=180, description="max degrees, uniform in ±rotate")
    crop_padding: int = Field(0, ge=0, description="pad then random-crop back to size")


class Profile(Strict):
    """Per-cell profiling after training (suite/profiling): MACs at the cell's image size (fvcore and thop), then
    inference latency in eval mode without grad, on the cell's device, threads, AMP and channels_last settings.

    The defaults are the issue's (10 warm-up and 30 timed calls, batch 1 and 32). `max_seconds` bounds a slow CPU
    cell: a batch size stops warming up after a quarter of it and stops timing after all of it (at least 3 timed
    calls), and the result's `n` and warnings say so. Null times everything.
    """

    macs: bool = True
    latency: bool = True
    batch_sizes: list[int] = Field([1, 32], min_length=1)
    warmup: int = Field(10, ge=0)
    iterations: int = Field(30, ge=3)
    max_seconds: float | None = Field(30.0, gt=0, description="time budget per batch size; null: none")

    @field_validator("batch_sizes")
    @classmethod
    def _positive(cls, value: list[int]) -> list[int]:
        if any(b < 1 for b in value) or len(set(value)) != len(value):
            raise ValueError(f"batch sizes must be distinct and ≥ 1, got {value}")
        return value


class TrainConfig(Strict):
    NOT_IN_ID: ClassVar[tuple[str, ...]] = ("timeout_min", "log")
    """Settings that change how a cell is run or watched, never what it computes: left out of the cell id, so
    raising a timeout or turning on TensorBoard reuses finished results."""

    epochs: int = Field(50, ge=1)
    batch_size: int = Field(32, ge=1)
    eval_batch_size: int = Field(128, ge=1)
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float | None = Field(None, gt=0, description="null: the architecture's default LR")
    weight_decay: float = Field(0.0, ge=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    scheduler: Scheduler = Scheduler()
    early_stopping: EarlyStopping = EarlyStopping()
    monitor: str = Field("loss", description="validation metric for early stopping and the best checkpoint")
    checkpoint: Literal["final-phase", "any-phase"] = Field(
        "final-phase",
        description="final-phase: a multi-phase strategy (G-LF, G-FL, LP-FT) keeps the best validation state of its "
        "last phase, and early stopping cannot end the run before that phase starts; any-phase: the best state "
        "of any epoch",
    )
    image_size: int | None = Field(None, ge=8, description="null: the architecture's input size")
    resize: int | None = Field(None, ge=8, description="shorter side before a centre crop to image_size")
    augment: Augment = Augment()
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: bool | None = Field(None, description="bf16 autocast; null: on for CUDA, off on the CPU")
    channels_last: bool | None = Field(None, description="channels_last memory format; null: on for CUDA")
    threads: int | None = Field(None, ge=1, description="torch CPU threads; null: torch's default")
    feature_cache: bool = Field(
        True,
        description="while only the head trains on a frozen backbone (LP, LP-FT's probe phase), train it on the "
        "backbone's features computed once and shared across seeds and cells (suite/train/features.py)",
    )
    timeout_min: float = Field(
        180.0,
        gt=0,
        description="the executor kills a cell whose work (data, training, evaluation) takes longer",
    )
    allow_unverified: bool = Field(False, description="train on data that does not match datasets.lock")
    profile: Profile = Profile()
    log: list[Literal["tensorboard"]] = Field(
        [], description="also write TensorBoard event files to work/<slug>/tensorboard (metrics.csv always)"
    )

    def uses_amp(self, device_type: str) -> bool:
        return device_type == "cuda" and self.amp is not False

    def uses_channels_last(self, device_type: str) -> bool:
        return device_type == "cuda" and self.channels_last is not False


class DatasetEntry(Strict):
    name: str
    metrics: list[str] | None = Field(None, min_length=1, description="override the lock's primary metrics")
    train: TrainConfig = TrainConfig()


class ArchitectureEntry(Strict):
    name: str
    weights: str | None = Field(None, description="timm pretrained tag, e.g. tv_in1k")
    image_size: int | None = Field(None, ge=8)
    lr: float | None = Field(None, gt=0)
    train: TrainConfig = TrainConfig()


class SourceEntry(Strict):
    """`imagenet`, `scratch`, or a chain such as `imagenet>synthetic-fundus` (train on the middle dataset first)."""

    name: str
    train: TrainConfig = Field(TrainConfig(), description="training settings of the intermediate stage")


class StrategyEntry(Strict):
    name: str
    params: dict[str, Any] = {}
    train: TrainConfig = TrainConfig()


def _entries(value: Any) -> Any:
    """Axis values may be plain names; turn them into `{name: ...}` mappings."""
    if isinstance(value, list):
        return [{"name": v} if isinstance(v, str) else v for v in value]
    return value


class Axes(Strict):
    datasets: list[DatasetEntry] | None = Field(None, min_length=1)
    architectures: list[ArchitectureEntry] | None = Field(None, min_length=1)
    sources: list[SourceEntry] | None = Field(None, min_length=1)
    strategies: list[StrategyEntry] | None = Field(None, min_length=1)
    seeds: list[int] | None = Field(None, min_length=1)
    sweep: dict[str, list[Any]] | None = None

    @field_validator("datasets", "architectures", "sources", "strategies", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        return _entries(value)

    @field_validator("seeds", mode="before")
    @classmethod
    def _seed_count(cls, value: Any) -> Any:
        """`seeds: 3` means seeds 0, 1, 2; the count is bounded before the list is built (`seeds: 10**12` would
        otherwise exhaust memory here, before the cell count is ever checked)."""
        if isinstance(value, int) and not isinstance(value, bool):
            if not 1 <= value <= MAX_SEED_COUNT:
                raise ValueError(
                    f"`seeds: N` means seeds 0 to N-1; N must be 1 to {MAX_SEED_COUNT:,}, not {value}"
                )
            return list(range(value))
        return value

    @field_validator("seeds")
    @classmethod
    def _seed_values(cls, value: list[int] | None) -> list[int] | None:
        bad = [s for s in value or [] if not 0 <= s <= MAX_SEED]
        if bad:
            raise ValueError(f"a seed is an integer from 0 to 2**32-1 (NumPy's range), not {bad[0]}")
        return value

    @field_validator("sweep")
    @classmethod
    def _sweep_keys(cls, value: dict[str, list[Any]] | None) -> dict[str, list[Any]] | None:
        for key, values in (value or {}).items():
            if key.split(".")[0] not in TrainConfig.model_fields:
                raise ValueError(
                    f"sweep key {key!r} is not a train setting; valid: {sorted(TrainConfig.model_fields)}"
                )
            if not values:
                raise ValueError(f"sweep {key!r} is empty")
        return value


class Matrix(Axes):
    name: str | None = Field(None, description="the results folder's name; default: the file's name")
    description: str = ""
    train: TrainConfig = TrainConfig()
    grids: list[Axes] = []
    exclude: list[dict[str, str | int]] = []
    report: ReportConfig = ReportConfig()
    executor: ExecutorSettings = ExecutorSettings()
    union: list[str] = Field(
        [], description="matrix files (beside this one) whose cells run together as this matrix; no axes then"
    )

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str | None) -> str | None:
        """The name becomes `results/<name>/`: one safe path component, never `../x` or `/abs`."""
        if value is not None:
            try:
                check_name("matrix name", value)
            except UserError as exc:  # as a ValueError, so the loader reports it at the `name:` line
                raise ValueError(exc.message) from None
        return value

    @model_validator(mode="after")
    def _axes_present(self) -> Matrix:
        if self.union:
            own = ("datasets", "architectures", "sources", "strategies", "seeds", "sweep", "grids", "train")
            if any(a in self.model_fields_set for a in own):
                raise ValueError(
                    "a matrix with `union:` takes its cells from those files; give it no axes or grids"
                )
            return self
        for axis in ("datasets", "architectures", "strategies", "seeds"):
            grids = self.grids or [Axes()]
            if getattr(self, axis) is None and any(getattr(g, axis) is None for g in grids):
                raise ValueError(f"axis {axis!r} is missing: give it at the top level or in every grid")
        return self
