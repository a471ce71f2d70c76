"""Fine-tuning strategies, one registered class each. Importing this package registers them all."""

from suite.strategies import (
    basic,  # noqa: F401  (registers ft, lp)
    gradual,  # noqa: F401  (registers g-lf, g-fl, lp-ft)
    layerwise,  # noqa: F401  (lwft, swft)
    lora,  # noqa: F401  (lora, swft-lora)
    regularised,  # noqa: F401  (registers l1-sp, l2-sp)
    rgn,  # noqa: F401  (registers auto-rgn)
    structural,  # noqa: F401  (ttl, tf)
)
from suite.strategies.base import STRATEGIES, Strategy, StrategyContext, VariantSpace, registered

__all__ = ["STRATEGIES", "Strategy", "StrategyContext", "VariantSpace", "registered"]
