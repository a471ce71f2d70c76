"""The embedded datasets, shipped as code: deterministic from (generator version, parameters, seed)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from suite.data.synthetic import fundus, vessels
from suite.errors import UserError
from suite.registry import Registry


@dataclass(frozen=True)
class Generator:
    version: int
    classes: tuple[str, ...]
    params_type: type
    generate: Callable[[Any], Iterator[tuple[str, str, int, np.ndarray]]]
    summary: str

    def params(self, overrides: dict[str, Any]) -> Any:
        names = {f.name for f in dataclasses.fields(self.params_type)}
        unknown = set(overrides) - names
        if unknown:
            raise UserError(f"unknown generator parameter(s) {sorted(unknown)}; valid: {sorted(names)}")
        return self.params_type(**overrides)


GENERATORS: Registry[Generator] = Registry("generator")
GENERATORS.add(
    "synthetic-vessels",
    Generator(
        vessels.GENERATOR_VERSION,
        vessels.CLASSES,
        vessels.VesselParams,
        vessels.generate,
        "benign vs malignant vessel patterns, NBI-like (Fang's laryngeal target task)",
    ),
)
GENERATORS.add(
    "synthetic-fundus",
    Generator(
        fundus.GENERATOR_VERSION,
        fundus.CLASSES,
        fundus.FundusParams,
        fundus.generate,
        "5-grade fundus lesions (Kaggle DR-like intermediate domain)",
    ),
)
