"""`synthetic-fundus`: a fundus-like intermediate domain in 5 diabetic-retinopathy grades (mirrors Kaggle DR).

A dark frame around an orange-red disc, a bright optic disc with an arcade of vessels leaving it, a darker fovea,
and lesions whose burden sets the grade: microaneurysms (tiny dark-red dots) from grade 1, haemorrhages (larger
red blots) and hard exudates (yellow flecks) from grade 2, cotton-wool spots from grade 3 and fine new vessels
near the disc at grade 4. Counts are Poisson, so neighbouring grades overlap as graders' labels do. Each patient
has two eyes with shared pigmentation and camera lighting and grades at most one apart.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from suite.data.synthetic import common as c

GENERATOR_VERSION = 1
CLASSES = ("grade0", "grade1", "grade2", "grade3", "grade4")
KAGGLE_DR_FRACTIONS = (0.735, 0.070, 0.151, 0.025, 0.019)
# Expected lesion counts per grade: microaneurysms, haemorrhages, exudates, cotton-wool spots, new-vessel tufts.
_RATES = np.array(
    [
        [0.2, 0.0, 0.0, 0.0, 0.0],
        [3.0, 0.4, 0.3, 0.0, 0.0],
        [6.0, 2.5, 2.5, 0.3, 0.0],
        [9.0, 6.0, 4.0, 1.5, 0.2],
        [10.0, 7.0, 5.0, 2.0, 2.0],
    ]
)
_FUNDUS = np.array([0.78, 0.36, 0.16])
_VESSEL = np.array([0.45, 0.08, 0.06])
_LESION_RED = np.array([0.40, 0.04, 0.03])
_EXUDATE = np.array([0.95, 0.85, 0.35])
_COTTON = np.array([0.93, 0.86, 0.78])


@dataclass(frozen=True)
class FundusParams:
    size: int = 64
    count: int = 1000
    grade_fractions: tuple[float, ...] = KAGGLE_DR_FRACTIONS
    lesion_scale: float = 1.0
    seed: int = 0


def _arcades(rng, draw, disc: tuple[float, float], side: float, canvas: int) -> None:
    """Four main vessels leave the disc and arc around the macula, branching as they go."""
    for base in (-1.1, -0.5, 0.5, 1.1):
        heading = (0.0 if side < 0 else math.pi) + base * side * -1
        drift = -0.05 * math.copysign(1, base) * (1 if side < 0 else -1)
        path = c.walk(rng, disc, heading, 22, 0.045 * canvas, 0.05, drift=drift)
        c.draw_path(draw, path, 0.022 * canvas, 255)
        for k in range(4, 20, 5):
            branch_heading = heading + rng.uniform(-1.0, 1.0)
            twig = c.walk(rng, path[k], branch_heading, 7, 0.035 * canvas, 0.12)
            c.draw_path(draw, twig, 0.012 * canvas, 255)


def _spots(rng, draw, count: int, radius: tuple[float, float], canvas: int, within: float = 0.42) -> None:
    for _ in range(count):
        r = within * math.sqrt(rng.random()) * canvas
        a = rng.uniform(0, 2 * math.pi)
        centre = (canvas / 2 + r * math.cos(a), canvas / 2 + r * math.sin(a))
        c.draw_disc(draw, centre, rng.uniform(*radius) * canvas, 255)


def render(rng: np.random.Generator, grade: int, look: dict, size: int, lesion_scale: float) -> np.ndarray:
    canvas = size * c.SUPERSAMPLE
    side = look["side"]
    disc = (canvas / 2 + side * 0.22 * canvas, canvas / 2 + rng.normal(0, 0.02) * canvas)
    vessels, vdraw = c.new_mask(size)
    _arcades(rng, vdraw, disc, side, canvas)
    counts = rng.poisson(_RATES[grade] * lesion_scale)
    red, rdraw = c.new_mask(size)
    _spots(rng, rdraw, counts[0], (0.006, 0.010), canvas)  # microaneurysms
    _spots(rng, rdraw, counts[1], (0.018, 0.035), canvas)  # haemorrhages
    yellow, ydraw = c.new_mask(size)
    _spots(rng, ydraw, counts[2], (0.008, 0.016), canvas, within=0.3)  # hard exudates near the macula
    pale, pdraw = c.new_mask(size)
    _spots(rng, pdraw, counts[3], (0.025, 0.04), canvas)  # cotton-wool spots
    for _ in range(counts[4]):  # neovascular tufts: tangled fine vessels at the disc
        tuft = c.walk(rng, disc, rng.uniform(0, 2 * math.pi), 10, 0.02 * canvas, 1.2)
        c.draw_path(vdraw, tuft, 0.008 * canvas, 255)

    xx, yy = c.radial_grid(size)
    fx, fy = -side * 0.1, 0.0
    r2 = xx**2 + yy**2
    fundus = look["colour"] * (0.9 + 0.1 * c.smooth_field(rng, size, 5, channels=3))
    fundus = fundus * (1.05 - 0.35 * r2[..., None])
    fovea = np.exp(-((xx - fx) ** 2 + (yy - fy) ** 2) / 0.02)[..., None]
    fundus = fundus * (1 - 0.35 * fovea)
    dx, dy = disc[0] / canvas * 2 - 1, disc[1] / canvas * 2 - 1
    disc_glow = np.exp(-((xx - dx) ** 2 + (yy - dy) ** 2) / 0.012)[..., None]
    image = fundus * (1 - disc_glow) + np.array([1.0, 0.9, 0.6]) * disc_glow
    for mask, colour, alpha, blur in (
        (vessels, _VESSEL, 0.8, 0.4),
        (red, _LESION_RED, 0.85, 0.3),
        (yellow, _EXUDATE, 0.9, 0.2),
        (pale, _COTTON, 0.6, 0.8),
    ):
        a = alpha * c.mask_to_array(mask, size, blur=blur)[..., None]
        image = image * (1 - a) + colour * a
    frame = (r2 < 0.92**2)[..., None]
    image = image * look["light"] * frame
    return c.finish(rng, image, blur=float(rng.uniform(0.0, 0.5)), noise_sd=0.012)


def generate(params: FundusParams) -> Iterator[tuple[str, str, int, np.ndarray]]:
    """Yield (patient id, image id, grade, image): two eyes per patient, deterministically."""
    fractions = np.asarray(params.grade_fractions, dtype=np.float64)
    fractions = fractions / fractions.sum()
    n_patients = math.ceil(params.count / 2)
    emitted = 0
    for p in range(n_patients):
        rng = c.rng_for(params.seed, 1, p)
        grade = int(rng.choice(len(CLASSES), p=fractions))
        look = {"colour": np.clip(_FUNDUS + rng.normal(0, 0.05, 3), 0, 1), "light": rng.uniform(0.8, 1.1)}
        for eye, side in enumerate((-1.0, 1.0)):
            if emitted == params.count:
                return
            eye_grade = (
                grade if eye == 0 or rng.random() < 0.7 else int(np.clip(grade + rng.choice((-1, 1)), 0, 4))
            )
            image = render(
                c.rng_for(params.seed, 2, p, eye),
                eye_grade,
                {**look, "side": side},
                params.size,
                params.lesion_scale,
            )
            yield f"F{p:04d}", f"F{p:04d}_{'LR'[eye]}", eye_grade, image
            emitted += 1
