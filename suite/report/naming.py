"""How the leaderboard names things: the papers' strategy labels, sources, variants, metric headers.

Labels live where the things are defined (a strategy's `label`, a metric's `MetricInfo.label`); this module only
reads them, and parses variant names (`block3`, `layer3.2`, a step number) for the search rows."""

from __future__ import annotations

import re

from suite.metrics import METRICS
from suite.strategies import STRATEGIES

_BLOCK = re.compile(r"block(\d+)$")
_LAYER = re.compile(r"layer(\d+)[._](\d+)$")
_STEP = re.compile(r"\d+$")


def strategy_label(base: str) -> str:
    """The paper's label of a strategy (its class's `label`); a name no strategy has is shown upper-cased."""
    return STRATEGIES.get(base).label if base in STRATEGIES else base.upper()


def source_label(source: str) -> str:
    """`imagenet>synthetic-fundus` → `imagenet → synthetic-fundus`."""
    return source.replace(">", " → ")


def variant_text(variant: str) -> str:
    """`3` → `step 3` (SWFT steps); anything else as written (`block3`, `layer3.2`)."""
    return f"step {variant}" if _STEP.fullmatch(variant) else variant


def block_of(variant: str) -> int | None:
    """The block number of a block-level cut (`block3` → 3), else None."""
    m = _BLOCK.fullmatch(variant)
    return int(m.group(1)) if m else None


def layer_of(variant: str) -> tuple[int, int] | None:
    """(block, layer) of a layer-level cut (`layer3.2` → (3, 2)), else None."""
    m = _LAYER.fullmatch(variant)
    return (int(m.group(1)), int(m.group(2))) if m else None


def metric_label(metric: str) -> str:
    return METRICS[metric].label if metric in METRICS else metric


def higher_is_better(metric: str) -> bool:
    return METRICS[metric].higher_is_better if metric in METRICS else True


def arrow(metric: str) -> str:
    return "↑" if higher_is_better(metric) else "↓"
