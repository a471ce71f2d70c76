"""Drawing helpers shared by the procedural datasets.

Everything is deterministic from a numpy `Generator`: shapes are drawn with PIL on a 2x supersampled canvas (integer
rasterisation), and colour composition runs in float64 so that a last-bit difference in a vectorised `exp` cannot
flip a uint8 after rounding. No library renders vessel trees, so these few functions are written by hand.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SUPERSAMPLE = 2


def rng_for(seed: int, *keys: int) -> np.random.Generator:
    """An independent stream per (dataset seed, patient, image): generation order never matters."""
    return np.random.default_rng([seed, *keys])


def walk(
    rng: np.random.Generator,
    start: tuple[float, float],
    heading: float,
    steps: int,
    step_len: float,
    turn_sd: float,
    drift: float = 0.0,
) -> list[tuple[float, float]]:
    """A 2-D path whose heading changes by `drift` plus Gaussian noise of `turn_sd` radians per step.

    Low `turn_sd` gives smooth vessels; high `turn_sd` gives tortuous, tangled ones.
    """
    turns = drift + rng.normal(0.0, turn_sd, size=steps)
    headings = heading + np.cumsum(turns)
    xs = start[0] + np.cumsum(step_len * np.cos(headings))
    ys = start[1] + np.cumsum(step_len * np.sin(headings))
    return [start, *zip(xs.tolist(), ys.tolist())]


def draw_path(
    draw: ImageDraw.ImageDraw, path: Sequence[tuple[float, float]], width: float, value: int
) -> None:
    px = max(1, round(width))
    # Round joints only where a corner gap would show; they cost a pie slice per vertex.
    draw.line(list(path), fill=value, width=px, joint="curve" if px > 4 else None)


def draw_disc(draw: ImageDraw.ImageDraw, centre: tuple[float, float], radius: float, value: int) -> None:
    x, y = centre
    draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=value)


def new_mask(size: int) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    mask = Image.new("L", (size * SUPERSAMPLE, size * SUPERSAMPLE), 0)
    return mask, ImageDraw.Draw(mask)


def mask_to_array(mask: Image.Image, size: int, blur: float = 0.0) -> np.ndarray:
    """Downsample a supersampled mask to `size` (antialiasing) and return it in [0, 1] as float64."""
    small = mask.resize((size, size), Image.Resampling.BOX)
    if blur > 0:
        small = small.filter(ImageFilter.GaussianBlur(blur))
    return np.asarray(small, dtype=np.float64) / 255.0


def smooth_field(rng: np.random.Generator, size: int, cells: int, channels: int = 1) -> np.ndarray:
    """Low-frequency noise in [0, 1]: a coarse random grid upsampled bicubically (texture and mottling)."""
    grid = (rng.random((cells, cells, channels)) * 255).astype(np.uint8)
    mode = "RGB" if channels == 3 else "L"
    img = Image.fromarray(grid if channels == 3 else grid[..., 0], mode=mode)
    up = np.asarray(img.resize((size, size), Image.Resampling.BICUBIC), dtype=np.float64) / 255.0
    return up if channels == 3 else up[..., None]


@functools.lru_cache(maxsize=8)
def radial_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates in [-1, 1] (cached: callers must not modify them)."""
    axis = (np.arange(size, dtype=np.float64) + 0.5) / size * 2.0 - 1.0
    return np.meshgrid(axis, axis)


def illumination(rng: np.random.Generator, size: int, strength: float) -> np.ndarray:
    """Uneven, off-centre light falloff, as an endoscope or fundus camera gives."""
    xx, yy = radial_grid(size)
    cx, cy = rng.uniform(-0.35, 0.35, size=2)
    r2 = (xx - cx) ** 2 + (yy - cy) ** 2
    return (1.0 - strength * np.clip(r2 / 2.0, 0.0, 1.0))[..., None]


def finish(rng: np.random.Generator, image: np.ndarray, blur: float, noise_sd: float) -> np.ndarray:
    """Defocus blur and sensor noise, then quantise to uint8 HxWx3."""
    img = np.clip(image, 0.0, 1.0)
    if blur > 0:
        pil = Image.fromarray(np.rint(img * 255).astype(np.uint8))
        img = np.asarray(pil.filter(ImageFilter.GaussianBlur(blur)), dtype=np.float64) / 255.0
    img = img + rng.normal(0.0, noise_sd, size=img.shape)
    return np.rint(np.clip(img, 0.0, 1.0) * 255.0).astype(np.uint8)
