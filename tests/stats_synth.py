"""Synthetic result frames for the significance tests: known dataset levels, seed noise and planted effects.

score = dataset level + backbone offset + seed effect shared by all strategies (what makes pairing by seed useful)
        + the strategy's planted effect + independent noise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def synth_frame(
    *,
    datasets: int = 6,
    backbones: tuple[str, ...] = ("resnet50", "densenet121"),
    strategies: tuple[str, ...] = ("ft", "lp", "l2-sp"),
    seeds: tuple[int, ...] = (0, 1, 2),
    effect: dict[str, float] | None = None,
    noise: float = 0.004,
    shared: float = 0.004,
    modalities: tuple[str, ...] = ("x-ray", "histology"),
    metric: str = "accuracy",
    rng: int = 0,
) -> pd.DataFrame:
    """One row per cell, in the report's frame layout (test_<metric>, val_<metric>, modality, ...)."""
    gen = np.random.default_rng(rng)
    effect = effect or {}
    rows = []
    for d in range(datasets):
        level = gen.uniform(0.6, 0.9)
        for arch in backbones:
            offset = gen.normal(0.0, 0.02)
            seed_effect = gen.normal(0.0, shared, size=len(seeds))
            for strategy in strategies:
                for i, seed in enumerate(seeds):
                    value = (
                        level + offset + seed_effect[i] + effect.get(strategy, 0.0) + gen.normal(0.0, noise)
                    )
                    rows.append(
                        {
                            "dataset": f"ds{d:02d}",
                            "architecture": arch,
                            "source": "imagenet",
                            "strategy": strategy,
                            "seed": seed,
                            "modality": modalities[d % len(modalities)],
                            "status": "ok",
                            f"test_{metric}": value,
                            f"val_{metric}": value + gen.normal(0.0, noise),
                        }
                    )
    return pd.DataFrame(rows)


def metrics_of(frame: pd.DataFrame, metric: str = "accuracy") -> dict[str, str]:
    return dict.fromkeys(sorted(frame["dataset"].unique()), metric)
