"""Steps 2–4 of Peng's truncation-point search (Appendix C.1) on two models: features, SVCCA, baseline, detection.

Features are read at each place's output (`suite.analysis.features`); for a conv map every spatial position of
every image is a data point (Raghu et al. 2017), sub-sampled at random positions (the same ones in both models)
down to about `max_samples` rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn

from suite.analysis import MEDIUM_EFFECT
from suite.analysis.features import Place, spatial_reshape
from suite.analysis.svcca import (
    Baseline,
    Basis,
    Comparison,
    Detection,
    cca_from_bases,
    compare,
    detect,
    principal_basis,
    random_coefficients,
    shuffled_coefficients,
)
from suite.models.normalise import Normalise


@dataclass(frozen=True)
class SvccaOptions:
    """Settings of one SVCCA analysis; every one is a command-line option and is stored in the manifest."""

    cutoffs: Literal["blocks", "layers"] = "blocks"
    splits: tuple[str, ...] = ("val", "test")
    max_samples: int = 5000
    draws: int = 10
    baseline: Baseline = "gaussian"
    max_effect: float = MEDIUM_EFFECT
    variance: float = 0.99
    eps: float = 1e-6
    seed: int = 0
    batch_size: int = 64


@dataclass
class PlaceResult:
    """SVCCA at one cut point."""

    place: Place
    samples: int
    neurons: int
    kept: tuple[int, int]  # principal directions kept before / after fine-tuning
    real: np.ndarray
    random: np.ndarray
    comparison: Comparison
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "label": self.place.label,
            "module": self.place.module,
            "block": self.place.block,
            "samples": self.samples,
            "neurons": self.neurons,
            "kept": list(self.kept),
            "mean_real": float(self.real.mean()) if self.real.size else None,
            "mean_random": float(self.random.mean()) if self.random.size else None,
            **self.comparison.as_dict(),
            "real": [round(float(v), 5) for v in self.real],
            "random_mean_curve": [round(float(v), 5) for v in self.random.mean(axis=0)],
            "warnings": self.warnings,
        }


def _capture(model: nn.Module, x: torch.Tensor, modules: list[str]) -> list[torch.Tensor]:
    """The outputs of `modules` for one batch."""
    seen: dict[str, torch.Tensor] = {}
    handles = [
        model.get_submodule(name).register_forward_hook(
            lambda _m, _i, out, name=name: seen.__setitem__(name, out)
        )
        for name in modules
    ]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return [seen[name] for name in modules]


def collect(
    models: list[nn.Module], norm: Normalise, images: torch.Tensor, modules: list[str], opts: SvccaOptions
) -> list[list[np.ndarray]]:
    """features[m][j]: rows = (image, position) pairs, the same pairs for every model; columns = channels."""
    device = next(models[0].parameters()).device
    norm = norm.to(device)
    reshapes = [spatial_reshape(m) for m in models]
    per_image = max(1, math.ceil(opts.max_samples / len(images)))
    parts: list[list[list[np.ndarray]]] = [[[] for _ in modules] for _ in models]
    for start in range(0, len(images), opts.batch_size):
        x = norm(images[start : start + opts.batch_size].to(device))
        outputs = [[r(t) for t in _capture(m, x, modules)] for m, r in zip(models, reshapes)]
        for j in range(len(modules)):
            n, c, h, w = outputs[0][j].shape
            rng = np.random.default_rng([opts.seed, j, start])
            pos = np.stack([rng.choice(h * w, min(h * w, per_image), replace=False) for _ in range(n)])
            index = torch.from_numpy(pos).to(device)
            for m in range(len(models)):
                flat = outputs[m][j].flatten(2).transpose(1, 2)  # n × hw × c
                picked = torch.gather(flat, 1, index[..., None].expand(-1, -1, c))
                parts[m][j].append(picked.reshape(-1, c).float().cpu().numpy())
    return [[np.concatenate(p) for p in model_parts] for model_parts in parts]


def _random(bx: Basis, by: Basis, opts: SvccaOptions, j: int) -> np.ndarray:
    """Step 3: random features shaped as CCA sees the real ones (or the real ones with rows shuffled)."""
    if opts.baseline == "shuffle":
        return shuffled_coefficients(bx, by, opts.draws, opts.seed + j, opts.eps)
    return random_coefficients((len(bx.u), bx.k, by.k), opts.draws, opts.seed + j, opts.eps)


def compare_place(
    place: Place, before: np.ndarray, after: np.ndarray, opts: SvccaOptions, j: int
) -> PlaceResult:
    """Steps 2–4 at one cut point."""
    bx, by = principal_basis(before, opts.variance), principal_basis(after, opts.variance)
    real = cca_from_bases(bx, by, opts.eps)
    random = _random(bx, by, opts, j)
    warnings = []
    if len(before) < 2 * (bx.k + by.k):
        warnings.append(
            f"{len(before)} data points for {bx.k}+{by.k} directions: coefficients are inflated towards 1 on both"
            " sides; more held-out images (or a larger --max-samples) sharpen the comparison"
        )
    return PlaceResult(
        place,
        len(before),
        before.shape[1],
        (bx.k, by.k),
        real,
        random,
        compare(real, random, opts.max_effect),
        warnings,
    )


def run_svcca(
    trained: nn.Module,
    source: nn.Module,
    norm: Normalise,
    images: torch.Tensor,
    places: list[Place],
    opts: SvccaOptions,
) -> tuple[list[PlaceResult], Detection]:
    """SVCCA before vs after fine-tuning at every place, the random baseline, and the detection."""
    features = collect([source, trained], norm, images, [p.module for p in places], opts)
    results = [compare_place(p, features[0][j], features[1][j], opts, j) for j, p in enumerate(places)]
    return results, detect([r.comparison for r in results])
