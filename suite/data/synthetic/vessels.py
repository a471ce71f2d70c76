"""`synthetic-vessels`: benign vs malignant vessel patterns on an NBI-like background (mirrors Fang's CE-NBI task).

Benign lesions show smooth, radially branching vessels of low tortuosity. Malignant lesions show tortuous, looped,
tangled and tadpole-shaped vessels (the intrapapillary capillary-loop changes of laryngeal cancer). Each synthetic
patient has one latent tortuosity `t` in [0, 1], drawn around 0.3 (benign) or 0.7 (malignant) with a spread that
grows with `difficulty`; every visual sign of malignancy grows with `t`, so the classes overlap by design and the
Bayes accuracy is below 100%. Images of one patient share the colour, lighting and `t` (grouped splits matter).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from suite.data.synthetic import common as c

GENERATOR_VERSION = 1
CLASSES = ("benign", "malignant")
_MUCOSA = np.array([0.60, 0.66, 0.57])
_SUPERFICIAL = np.array([0.36, 0.22, 0.14])  # brown capillaries under narrow-band light
_DEEP = np.array([0.18, 0.36, 0.42])  # cyan-green submucosal veins


@dataclass(frozen=True)
class VesselParams:
    size: int = 64
    count: int = 1200
    malignant_fraction: float = 0.5
    difficulty: float = 0.5
    images_per_patient: int = 4
    seed: int = 0


@dataclass(frozen=True)
class Patient:
    label: int
    tortuosity: float
    mucosa: np.ndarray
    light: float
    density: float


def tortuosity_spread(difficulty: float) -> float:
    """Standard deviation of the latent tortuosity within a class; the class means are 0.3 and 0.7."""
    return 0.05 + 0.25 * difficulty


def make_patient(rng: np.random.Generator, label: int, difficulty: float) -> Patient:
    mean = 0.7 if label else 0.3
    t = float(np.clip(rng.normal(mean, tortuosity_spread(difficulty)), 0.0, 1.0))
    return Patient(
        label=label,
        tortuosity=t,
        mucosa=np.clip(_MUCOSA + rng.normal(0, 0.04, 3), 0, 1),
        light=float(rng.uniform(0.25, 0.6)),
        density=float(rng.uniform(0.8, 1.25)),
    )


def _branching_tree(rng, draw, start, heading, length, width, t, depth) -> None:
    """A vessel that curls more as tortuosity rises and spawns thinner side branches."""
    steps = max(3, int(length))
    path = c.walk(rng, start, heading, steps, 4.0 * c.SUPERSAMPLE, turn_sd=0.05 + 0.55 * t)
    c.draw_path(draw, path, width * (1 + t * rng.uniform(-0.4, 0.6)), 255)
    if depth == 0:
        return
    for k in range(2, steps, 3):
        if rng.random() < 0.45:
            side = rng.choice((-1.0, 1.0)) * rng.uniform(0.35, 0.8)
            (x0, y0), (x1, y1) = path[k - 1], path[k]
            base_heading = math.atan2(y1 - y0, x1 - x0)
            _branching_tree(rng, draw, path[k], base_heading + side, length * 0.5, width * 0.7, t, depth - 1)


def _malignant_signs(rng, draw, size: int, t: float, density: float) -> None:
    """Loops, tadpoles and tangles; their expected count rises with t squared."""
    canvas = size * c.SUPERSAMPLE
    rate = 7.0 * t * t * density
    for _ in range(rng.poisson(rate)):  # loops: a walk that keeps turning one way closes on itself
        start = tuple(rng.uniform(0.1, 0.9, 2) * canvas)
        curl = rng.choice((-1.0, 1.0)) * rng.uniform(0.55, 0.9)
        path = c.walk(rng, start, rng.uniform(0, 2 * math.pi), 11, 2.2 * c.SUPERSAMPLE, 0.15, drift=curl)
        c.draw_path(draw, path, 1.4 * c.SUPERSAMPLE, 255)
    for _ in range(rng.poisson(rate * 0.7)):  # tadpoles: a short tail ending in a dilated head
        start = tuple(rng.uniform(0.1, 0.9, 2) * canvas)
        path = c.walk(rng, start, rng.uniform(0, 2 * math.pi), 4, 3.0 * c.SUPERSAMPLE, 0.5)
        c.draw_path(draw, path, 1.2 * c.SUPERSAMPLE, 255)
        c.draw_disc(draw, path[-1], rng.uniform(1.6, 2.6) * c.SUPERSAMPLE, 255)
    for _ in range(rng.poisson(rate * 0.6)):  # tangles: short, very tortuous threads
        start = tuple(rng.uniform(0.1, 0.9, 2) * canvas)
        path = c.walk(rng, start, rng.uniform(0, 2 * math.pi), 9, 2.0 * c.SUPERSAMPLE, 1.1)
        c.draw_path(draw, path, 1.0 * c.SUPERSAMPLE, 255)


def render(rng: np.random.Generator, patient: Patient, size: int) -> np.ndarray:
    """One HxWx3 uint8 image of `patient`."""
    canvas = size * c.SUPERSAMPLE
    deep, deep_draw = c.new_mask(size)
    for _ in range(rng.integers(1, 3)):  # one or two smooth submucosal veins cross every image
        start = (rng.uniform(-0.1, 0.3) * canvas, rng.uniform(0, 1) * canvas)
        path = c.walk(rng, start, rng.uniform(-0.6, 0.6), 40, 4.0 * c.SUPERSAMPLE, 0.06)
        c.draw_path(deep_draw, path, rng.uniform(2.5, 4.0) * c.SUPERSAMPLE, 255)

    surface, draw = c.new_mask(size)
    focus = rng.uniform(0.3, 0.7, 2) * canvas
    roots = rng.integers(3, 6)
    for i in range(roots):  # radial branching from a focus, as in a normal mucosal vessel network
        angle = 2 * math.pi * (i + rng.uniform(0, 0.6)) / roots
        start = (focus[0] + 6 * math.cos(angle), focus[1] + 6 * math.sin(angle))
        length = rng.uniform(9, 15) * patient.density
        _branching_tree(rng, draw, start, angle, length, 1.6 * c.SUPERSAMPLE, patient.tortuosity, depth=2)
    _malignant_signs(rng, draw, size, patient.tortuosity, patient.density)

    mottling = 0.85 + 0.15 * c.smooth_field(rng, size, 6, channels=3)
    grain = 0.94 + 0.06 * c.smooth_field(rng, size, max(8, size // 3))
    image = patient.mucosa * mottling * grain
    deep_a = 0.55 * c.mask_to_array(deep, size, blur=1.2)[..., None]
    image = image * (1 - deep_a) + _DEEP * deep_a
    surf_a = 0.85 * c.mask_to_array(surface, size, blur=0.3)[..., None]
    image = image * (1 - surf_a) + _SUPERFICIAL * surf_a
    image = image * c.illumination(rng, size, patient.light)
    return c.finish(rng, image, blur=float(rng.uniform(0.0, 0.6)), noise_sd=0.015)


def generate(params: VesselParams) -> Iterator[tuple[str, str, int, np.ndarray]]:
    """Yield (patient id, image id, label, image) for the whole dataset, deterministically."""
    n_patients = math.ceil(params.count / params.images_per_patient)
    n_malignant = round(n_patients * params.malignant_fraction)
    order = np.random.default_rng([params.seed, 0]).permutation(n_patients)
    labels = np.zeros(n_patients, dtype=int)
    labels[order[:n_malignant]] = 1
    emitted = 0
    for p in range(n_patients):
        patient = make_patient(c.rng_for(params.seed, 1, p), int(labels[p]), params.difficulty)
        for i in range(min(params.images_per_patient, params.count - emitted)):
            image = render(c.rng_for(params.seed, 2, p, i), patient, params.size)
            yield f"P{p:04d}", f"P{p:04d}_{i}", patient.label, image
            emitted += 1
