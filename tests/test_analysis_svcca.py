"""SVCCA and the truncation-point detector on constructed representations whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cross_decomposition import CCA

from suite.analysis.svcca import (
    Detection,
    cca_coefficients,
    compare,
    detect,
    principal_basis,
    random_coefficients,
    svcca,
)

N = 1500


def low_rank(rng: np.random.Generator, n: int = N, neurons: int = 48, rank: int = 12) -> np.ndarray:
    """Features with a rank-`rank` signal and a little noise, like a conv layer's channels."""
    signal = rng.standard_normal((n, rank)) @ rng.standard_normal((rank, neurons))
    return signal + 0.01 * rng.standard_normal((n, neurons))


def baseline_for(x: np.ndarray, y: np.ndarray, draws: int = 4, seed: int = 0) -> np.ndarray:
    """Step 3 for x and y: random features with the shapes the CCA step sees."""
    shapes = (len(x), principal_basis(x).k, principal_basis(y).k)
    return random_coefficients(shapes, draws, seed)


def test_pca_keeps_the_variance_asked_for():
    rng = np.random.default_rng(0)
    x = low_rank(rng, rank=7)
    assert principal_basis(x, 0.99).k == 7
    basis = principal_basis(rng.standard_normal((N, 20)), 0.5)
    assert 5 <= basis.k < 20
    assert np.allclose(basis.u.T @ basis.u, np.eye(basis.k), atol=1e-8)


@pytest.mark.parametrize("seed", [0, 1])
def test_svcca_of_a_representation_with_itself_is_one(seed):
    x = low_rank(np.random.default_rng(seed))
    rho = svcca(x, x)
    assert rho.size == principal_basis(x).k and rho.min() > 0.999


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_svcca_is_invariant_to_an_invertible_linear_map(seed):
    rng = np.random.default_rng(seed)
    x = low_rank(rng)
    a = rng.standard_normal((x.shape[1], x.shape[1])) + 3 * np.eye(x.shape[1])  # invertible, well conditioned
    rho = svcca(x, x @ a)
    assert rho.min() > 0.99
    assert svcca(x, x @ a + 10.0).min() > 0.99  # and to a shift


def test_independent_noise_sits_on_the_random_baseline():
    rng = np.random.default_rng(3)
    x, noise = low_rank(rng), rng.standard_normal((N, 32))
    rho, random = svcca(x, noise), baseline_for(x, noise)
    assert abs(rho.mean() - random.mean()) < 0.02
    assert compare(rho, random).overlaps
    related = (
        x[:, :32] @ rng.standard_normal((32, 32)) + 0.5 * noise
    )  # the same test must tell real reuse apart
    assert not compare(svcca(x, related), baseline_for(x, related)).overlaps


def test_cca_matches_scikit_learn_on_a_well_posed_problem():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((400, 5))
    y = x[:, :3] @ rng.standard_normal((3, 4)) + rng.standard_normal((400, 4))
    model = CCA(n_components=4, max_iter=5000, tol=1e-12).fit(x, y)
    u, v = model.transform(x, y)
    reference = [np.corrcoef(u[:, i], v[:, i])[0, 1] for i in range(4)]
    assert np.allclose(cca_coefficients(x, y, eps=0.0), reference, atol=1e-4)


def test_regularised_cca_stays_finite_on_singular_and_wide_inputs():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((200, 6))
    singular = np.hstack([x, x[:, :3], np.zeros((200, 2))])  # duplicated and constant columns
    for rho in (cca_coefficients(singular, singular), svcca(rng.standard_normal((30, 80)), x[:30])):
        assert np.all(np.isfinite(rho)) and rho.min() >= 0.0 and rho.max() <= 1.0
    assert cca_coefficients(np.zeros((50, 3)), x[:50]).size == 0


@pytest.mark.parametrize("planted", [1, 3, 5])
def test_detector_finds_the_planted_cutoff(planted):
    """Cut points 0..planted reuse the source features (decaying, like Peng's Fig 4); the rest are re-learned."""
    rng = np.random.default_rng(planted)
    comparisons = []
    for j in range(7):
        before = low_rank(rng, n=1200, neurons=24 + 8 * j, rank=6 + j)
        fresh = low_rank(rng, n=1200, neurons=before.shape[1], rank=6 + j)
        mix = 1.0 - 0.12 * j if j <= planted else 0.0
        after = mix * before @ rng.standard_normal((before.shape[1],) * 2) + (1 - mix) * fresh
        comparisons.append(compare(svcca(before, after), baseline_for(before, after, seed=j)))
    found = detect(comparisons)
    assert (found.first_overlap, found.cutoff) == (planted + 1, planted)


def test_detector_edge_cases_are_said_plainly():
    yes, no = compare(np.full(5, 0.2), np.full(5, 0.2)), compare(np.full(5, 0.9), np.full(5, 0.1))
    assert yes.overlaps and not no.overlaps and no.effect == 1.0
    assert detect([no, no]) == Detection(None, None)
    assert "no truncation" in detect([no, no]).describe(["a", "b"])
    assert detect([yes, no]) == Detection(0, None) and "nothing is reused" in detect([yes, no]).describe(
        ["a", "b"]
    )
    assert detect([no, no, yes]).describe(["a", "b", "c"]).startswith("reuse ends at b; c is the first")
