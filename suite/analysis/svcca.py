"""SVCCA (Raghu et al. 2017) and Peng et al.'s truncation-point detector (Peng 2023, Appendix C.1).

SVCCA of two representations of the same inputs (rows = data points, columns = neurons): PCA on each side keeps the
fewest principal directions that explain 99% of the variance, then CCA between the two reduced matrices; the
canonical correlations, in descending order, are the SVCCA coefficients.

Both steps are written out (about thirty lines, numpy/scipy) because one eigendecomposition per side serves both:
it gives the principal directions to keep and, since those are orthogonal, the whitening the CCA step needs.
scikit-learn's `PCA` would redo that decomposition, its `CCA` fits components iteratively (NIPALS) and returns no
canonical correlations, and the CCA packages on PyPI (cca-zoo, pyrcca) are large dependencies for this. The
covariances are regularised (a ridge of `eps` × their mean eigenvalue) so that near-singular feature matrices give
finite, stable coefficients in [0, 1].

The detector (Appendix C.1, steps 2–4) compares, at each candidate cut point, the coefficients between the features
before and after fine-tuning with the coefficients between random features of the same shapes:

- random features: independent standard-normal matrices with the shapes CCA sees (n × k_before, n × k_after after
  the PCA step), so both sides have the same number of coefficients and the same chance level; `draws` of them are
  pooled. (`shuffle` is offered as a stricter null: the same real matrices with their rows paired at random.)
- overlap criterion: the Vargha–Delaney effect size A = P(ρ_real > ρ_random) (ties count ½), computed from the
  Mann–Whitney U statistic. The distributions "substantially overlap" when A ≤ 0.64, Vargha and Delaney's (2000)
  boundary of a medium effect; for two normals this is Cohen's d ≈ 0.5, about 80% shared mass. A p-value is not the
  criterion because the number of coefficients (hundreds) makes any small difference significant; it is reported.
- the truncation point is the last cut point before the first overlap: the features there are still reused, the
  ones above are re-learned ("TTLx: the transition between block x and x+1", Peng Fig 8).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
from scipy import linalg, stats

from suite.analysis import MEDIUM_EFFECT

Baseline = Literal["gaussian", "shuffle"]


@dataclass(frozen=True)
class Basis:
    """An orthonormal basis of a centred data matrix's top principal directions: x_c ≈ u · diag(s) · vᵀ."""

    u: np.ndarray  # n × k, orthonormal columns (the PCA scores divided by their singular values)
    s: np.ndarray  # k singular values, descending

    @property
    def k(self) -> int:
        return len(self.s)


def principal_basis(x: np.ndarray, variance: float = 0.99) -> Basis:
    """The SV step: the fewest principal directions of the centred x that explain `variance` of its variance.

    Computed from the eigendecomposition of the smaller Gram matrix (xᵀx or xxᵀ) rather than an SVD of x: it is
    several times faster for the tall matrices used here (thousands of positions × hundreds of channels), and the
    precision it loses is in the smallest directions, which the 99% cut discards anyway.
    """
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=0)
    tall = x.shape[0] >= x.shape[1]
    values, vectors = linalg.eigh(x.T @ x if tall else x @ x.T)
    values, vectors = values[::-1], vectors[:, ::-1]
    tol = max(values[0], 0.0) * max(x.shape) * np.finfo(np.float64).eps if values.size else 0.0
    rank = int(np.sum(values > tol))
    if rank == 0:
        return Basis(np.zeros((x.shape[0], 0)), np.zeros(0))
    share = np.cumsum(values[:rank]) / values[:rank].sum()
    k = min(rank, int(np.searchsorted(share, variance - 1e-12)) + 1)
    s = np.sqrt(values[:k])
    u = (x @ vectors[:, :k]) / s if tall else vectors[:, :k]
    return Basis(u, s)


def cca_from_bases(bx: Basis, by: Basis, eps: float = 1e-6) -> np.ndarray:
    """Canonical correlations of the two bases' spans, descending, min(k_x, k_y) of them, each in [0, 1].

    With covariances Σ + r·I (r = eps × the mean eigenvalue of Σ), whitening a side is a shrink of its basis by
    s / sqrt(s² + eps·mean(s²)); the coefficients are the singular values of the whitened cross-product
    (Björck & Golub's method, regularised). eps = 0 gives plain CCA.
    """
    if bx.k == 0 or by.k == 0:
        return np.zeros(0)
    if bx.u.shape[0] != by.u.shape[0]:
        raise ValueError(f"x and y must have the same rows, got {bx.u.shape[0]} and {by.u.shape[0]}")
    shrink_x = bx.s / np.sqrt(bx.s**2 + eps * np.mean(bx.s**2))
    shrink_y = by.s / np.sqrt(by.s**2 + eps * np.mean(by.s**2))
    rho = linalg.svd((bx.u * shrink_x).T @ (by.u * shrink_y), compute_uv=False)
    return np.clip(rho[: min(bx.k, by.k)], 0.0, 1.0)


def cca_coefficients(x: np.ndarray, y: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Plain (regularised) CCA of x (n × p) and y (n × q): every direction kept."""
    return cca_from_bases(principal_basis(x, 1.0), principal_basis(y, 1.0), eps)


def svcca(x: np.ndarray, y: np.ndarray, variance: float = 0.99, eps: float = 1e-6) -> np.ndarray:
    """SVCCA coefficients between two representations of the same data points (rows)."""
    return cca_from_bases(principal_basis(x, variance), principal_basis(y, variance), eps)


def random_coefficients(shapes: tuple[int, int, int], draws: int, seed: int, eps: float = 1e-6) -> np.ndarray:
    """CCA coefficients between independent Gaussian matrices n × p and n × q: `draws` rows, sorted descending."""
    n, p, q = shapes
    rng = np.random.default_rng(seed)
    return np.stack(
        [
            cca_coefficients(rng.standard_normal((n, p)), rng.standard_normal((n, q)), eps)
            for _ in range(draws)
        ]
    )


def shuffled_coefficients(bx: Basis, by: Basis, draws: int, seed: int, eps: float = 1e-6) -> np.ndarray:
    """SVCCA with the rows of one side permuted: correspondence broken, each side's spectrum kept."""
    rng = np.random.default_rng(seed)
    return np.stack(
        [cca_from_bases(bx, Basis(by.u[rng.permutation(len(by.u))], by.s), eps) for _ in range(draws)]
    )


@dataclass(frozen=True)
class Comparison:
    """Real against random coefficients at one cut point."""

    effect: float  # Vargha–Delaney A = P(real > random) + ½ P(tie)
    p_value: float  # one-sided Mann–Whitney U (real > random); reported, not the criterion
    area: float  # mean(real) − mean(random): the area between the two curves on a 0–1 index (Peng Fig 4)
    overlaps: bool

    def as_dict(self) -> dict:
        return asdict(self)


def compare(real: np.ndarray, random: np.ndarray, max_effect: float = MEDIUM_EFFECT) -> Comparison:
    """Do the real and random coefficient distributions substantially overlap (A ≤ max_effect)?"""
    real, random = np.ravel(real), np.ravel(random)
    if real.size == 0 or random.size == 0:
        return Comparison(float("nan"), float("nan"), float("nan"), False)
    u, p = stats.mannwhitneyu(real, random, alternative="greater")
    effect = float(u) / (real.size * random.size)
    return Comparison(effect, float(p), float(real.mean() - random.mean()), effect <= max_effect)


@dataclass(frozen=True)
class Detection:
    """Step 4: where reuse stops. Indices refer to the cut points in order, stem first."""

    first_overlap: int | None  # first cut point whose coefficients overlap the random ones
    cutoff: int | None  # the truncation point: the cut point just before first_overlap

    def describe(self, labels: list[str]) -> str:
        """The decision in words, with the cut points named."""
        if self.first_overlap is None:
            return "no cut point overlaps the random baseline: features are reused throughout, no truncation"
        if self.cutoff is None:
            return f"{labels[0]} already overlaps the random baseline: nothing is reused, no truncation point"
        return (
            f"reuse ends at {labels[self.cutoff]}; {labels[self.first_overlap]} is the first cut point"
            " whose coefficients overlap the random baseline"
        )


def detect(comparisons: list[Comparison]) -> Detection:
    """The first overlapping cut point, and the one before it as the truncation point (none if it is the first)."""
    first = next((i for i, c in enumerate(comparisons) if c.overlaps), None)
    return Detection(first, first - 1 if first else None)
