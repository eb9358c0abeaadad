"""Training-time augmentation: the small changes a photographed or drawn digit shows and MNIST's digits do not.

A digit that `imaging.to_mnist` cut out of a photo differs from an MNIST digit in ways MNIST's writers rarely made:
it leans a little more, is a little larger or smaller, sits a pixel or two off, has thinner or thicker strokes than
the MNIST pen, and its shape wobbles. `augment_batch` makes each training image a random variant with those changes,
so the model learns to ignore them:

- stroke thickness: a third of the images get strokes a pixel thinner (a 2x2 minimum filter; not when that would
  take away more than half of the ink), a third a pixel thicker (a 2x2 maximum filter);
- an affine warp: rotation by up to ``MAX_ROTATION`` degrees, scale within ``SCALE``, shift up to ``MAX_SHIFT`` px;
- elastic distortion (Simard et al. 2003): a random displacement field smoothed by a Gaussian of ``ELASTIC_SIGMA``
  pixels, about ``ELASTIC_PIXELS`` pixels on average.

Everything is vectorised over the batch (warp and distortion are one bilinear resampling), so it costs a few
milliseconds per batch of 128, a few seconds per epoch.
"""
from __future__ import annotations

import numpy as np

MAX_ROTATION = 12.0
SCALE = (0.85, 1.1)
MAX_SHIFT = 2.0
ELASTIC_SIGMA = 4.0
ELASTIC_PIXELS = 1.0


def augment_batch(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random variant of each uint8 image ``[N, 28, 28]`` (white on black), as uint8 ``[N, 28, 28]``."""
    n, height, width = images.shape
    # Each pixel with its right, lower and lower-right neighbours: their minimum thins strokes, their maximum thickens.
    padded = np.pad(images, ((0, 0), (0, 1), (0, 1)))
    block = np.stack([padded[:, :-1, :-1], padded[:, :-1, 1:], padded[:, 1:, :-1], padded[:, 1:, 1:]])
    thinner, thicker = block.min(axis=0), block.max(axis=0)
    kind = rng.integers(0, 3, n)
    # A digit whose strokes are already thin would all but vanish: it keeps its strokes instead.
    kind[(kind == 1) & (thinner.sum(axis=(1, 2)) < 0.5 * images.sum(axis=(1, 2)))] = 0
    kind = kind[:, None, None]
    strokes = np.where(kind == 1, thinner, np.where(kind == 2, thicker, images))

    # Where each output pixel is read from: the inverse of a rotation and scaling about the centre, then a shift,
    # then the elastic displacement.
    angle = np.deg2rad(rng.uniform(-MAX_ROTATION, MAX_ROTATION, n))[:, None, None]
    scale = rng.uniform(*SCALE, n)[:, None, None]
    shift = rng.uniform(-MAX_SHIFT, MAX_SHIFT, (2, n))[:, :, None, None]
    centre = np.array([(height - 1) / 2, (width - 1) / 2])
    rows, cols = np.mgrid[0:height, 0:width] - centre[:, None, None]
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    field = _smooth_field(rng, n, height, width)
    source_rows = cos * rows - sin * cols + centre[0] - shift[0] + field[0]
    source_cols = sin * rows + cos * cols + centre[1] - shift[1] + field[1]
    return _bilinear(strokes, source_rows, source_cols)


def _smooth_field(rng: np.random.Generator, n: int, height: int, width: int) -> np.ndarray:
    """Random displacements ``[2, N, H, W]``, smooth over about ``ELASTIC_SIGMA`` pixels, ``ELASTIC_PIXELS`` RMS.

    Gaussian-smoothed white noise, made cheaply: noise on a coarse grid of control points, spread over the pixels by
    Gaussian weights (two small matrix products instead of a wide convolution of every pixel).
    """
    def weights(size: int) -> np.ndarray:
        points = np.arange(0, size + ELASTIC_SIGMA, ELASTIC_SIGMA)
        w = np.exp(-0.5 * ((np.arange(size)[:, None] - points[None, :]) / ELASTIC_SIGMA) ** 2)
        return w / np.sqrt((w**2).sum(axis=1, keepdims=True))

    across, down = weights(height), weights(width)
    coarse = rng.normal(0.0, ELASTIC_PIXELS, (2, n, across.shape[1], down.shape[1]))
    return across @ coarse @ down.T


def _bilinear(images: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``images`` ``[N, H, W]`` read at the fractional positions ``rows``, ``cols`` ``[N, H, W]``; black outside."""
    n, height, width = images.shape
    padded = np.pad(images.astype(np.float32), ((0, 0), (1, 1), (1, 1)))  # a black border to read outside from
    rows = np.clip(rows, -1.0, height) + 1.0
    cols = np.clip(cols, -1.0, width) + 1.0
    top = np.minimum(np.floor(rows).astype(np.intp), height)
    left = np.minimum(np.floor(cols).astype(np.intp), width)
    down, right = rows - top, cols - left
    flat = padded.ravel()
    step = width + 2
    at = (np.arange(n)[:, None, None] * (height + 2) + top) * step + left

    def value(offset: int) -> np.ndarray:
        return flat[at + offset]

    upper = value(0) * (1 - right) + value(1) * right
    lower = value(step) * (1 - right) + value(step + 1) * right
    return np.clip(np.rint(upper * (1 - down) + lower * down), 0, 255).astype(np.uint8)
