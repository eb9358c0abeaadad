"""Reproducible evaluation sets of photographed and drawn digits, made from MNIST test digits.

The course promises to read a student's own photo or drawing of a digit (`course_utils.imaging.to_mnist`). Measuring
that needs many such pictures whose right answer is known, so this module makes them: each picture is an MNIST
**test** digit (never a training digit) written again as a pen or a brush would, then photographed or exported.

How a digit is written: the 28x28 digit is enlarged smoothly to paper resolution, thresholded, thinned to its centre
line (`skimage.morphology.skeletonize`) and inked again along that line with the condition's pen width (a distance
transform, with a one-pixel soft edge). Stroke width therefore really changes from condition to condition, from a
hair-thin fine liner to a fat marker, instead of being the MNIST writer's.

``photo_set`` renders dark ink on paper, 600-800 px, with a paper tint, uneven light, paper grain, camera noise, a
slight lens blur and JPEG compression (decoded again, as a user's file would be), and one condition on top:

- ``plain``: only that; a ballpoint or felt pen, the digit large and near the centre;
- ``squared``, ``ruled``: grid paper or ruled lines, printed in light ink under the digit;
- ``shadow``: a sharp shadow edge across the page (a hand or a phone held over it);
- ``blur``: out of focus and low contrast (a faint pencil-like grey);
- ``thin_pen``: hair-thin strokes (about 1 % of the digit's height);
- ``marker``: very thick strokes (15-20 % of the digit's height), loops nearly closed;
- ``small_offset``: the digit small (10-16 % of the page) and far from the centre;
- ``rotated``: the digit turned by 4 to 10 degrees, either way;
- ``coloured``: coloured paper (sticky notes) and coloured ink.

``drawing_set`` renders what a mouse or tablet drawing on a 400x400 canvas exports: strokes along the same centre
lines with a thin (1-3 px) or a normal (8-16 px) brush, antialiased, black on white, white on black, or dark ink on a
transparent RGBA background (transparent pixels stored as transparent black, as canvases do).

Each condition renders digits of its own (`digit_indices`), so that a set of 50 pictures in each of the 16
conditions holds 800 different digits: a few hard digits (a writer's 7 that looks like a 2) then weigh on one
condition, not on all of them at once, and the overall figure measures the preprocessing rather than the luck of the
draw. Everything is generated on the fly from the seed, without the network; the same seed gives the same pixels, and
a smaller set is the start of a larger one.
"""
from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage
from skimage.morphology import skeletonize

from .mnist import Split, load_mnist

PHOTO_CONDITIONS = ("plain", "squared", "ruled", "shadow", "blur", "thin_pen", "marker", "small_offset", "rotated",
                    "coloured")
DRAWING_CONDITIONS = ("thin_on_white", "brush_on_white", "thin_on_black", "brush_on_black", "thin_transparent",
                      "brush_transparent")
ALL_CONDITIONS = PHOTO_CONDITIONS + DRAWING_CONDITIONS
SOURCE_INDICES = range(0, 10_000)
"""The digits come from these indices of the MNIST **test** split (all of it): no set ever holds a training digit."""
MAX_PER_CONDITION = len(SOURCE_INDICES) // len(ALL_CONDITIONS)
"""The most pictures a condition can have: `digit_indices` deals the test digits out without repeating one."""

_PAGES = ((800, 600), (600, 800), (700, 700))
_PAPERS = ((238, 234, 224), (244, 242, 236), (232, 230, 226), (240, 236, 218))
_PENS = ((30, 32, 40), (40, 50, 95), (25, 35, 120), (55, 55, 60))
_COLOURED = (  # (paper, ink): sticky notes and coloured ink, the ink clearly darker than the paper
    ((250, 236, 120), (30, 60, 160)),
    ((250, 200, 215), (150, 20, 40)),
    ((190, 225, 245), (120, 20, 120)),
    ((200, 240, 190), (20, 90, 40)),
    ((255, 215, 160), (170, 30, 20)),
)


@dataclass(frozen=True)
class Sample:
    """One picture: ``image`` as a user's file would decode, the digit's true ``label``, its ``condition``, and
    ``index``, the MNIST test image it was drawn from."""

    image: Image.Image
    label: int
    condition: str
    index: int


def digit_indices(count: int, condition: str, seed: int = 0) -> np.ndarray:
    """The MNIST test indices of the ``count`` digits that ``condition``'s pictures show.

    One seeded order of `SOURCE_INDICES` is dealt out like cards, one digit to each of `ALL_CONDITIONS` in turn: no
    two conditions share a digit, and a larger ``count`` only adds digits at the end.
    """
    if condition not in ALL_CONDITIONS:
        raise ValueError(f"unknown condition {condition!r}; choose from {', '.join(ALL_CONDITIONS)}")
    if not 0 < count <= MAX_PER_CONDITION:
        raise ValueError(f"count must be between 1 and {MAX_PER_CONDITION}, got {count}")
    order = np.random.default_rng(seed).permutation(len(SOURCE_INDICES))
    dealt = order[ALL_CONDITIONS.index(condition) :: len(ALL_CONDITIONS)]
    return np.asarray(SOURCE_INDICES)[dealt[:count]]


def photo_set(per_condition: int = 50, seed: int = 0, conditions: Sequence[str] = PHOTO_CONDITIONS,
              test: Split | None = None) -> list[Sample]:
    """Phone photos of ``per_condition`` MNIST test digits in each of ``conditions`` (RGB, JPEG-decoded).

    ``test`` is the MNIST test split (default: `load_mnist`'s).
    """
    return _make_set("photos", per_condition, seed, conditions, PHOTO_CONDITIONS, test)


def drawing_set(per_condition: int = 50, seed: int = 0, conditions: Sequence[str] = DRAWING_CONDITIONS,
                test: Split | None = None) -> list[Sample]:
    """Canvas drawings (400x400, RGB or RGBA) of ``per_condition`` MNIST test digits in each of ``conditions``."""
    return _make_set("drawings", per_condition, seed, conditions, DRAWING_CONDITIONS, test)


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """Noise in blobs of about ``scale`` pixels (a coarse random grid, enlarged), with unit standard deviation."""
    height, width = shape
    coarse = rng.normal(0.0, 1.0, (int(height / scale) + 2, int(width / scale) + 2)).astype(np.float32)
    smooth = np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC), dtype=np.float64)
    return smooth / smooth.std()


def _make_set(kind: str, per_condition: int, seed: int, conditions: Sequence[str], known: Sequence[str],
              test: Split | None) -> list[Sample]:
    unknown = sorted(set(conditions) - set(known))
    if unknown:
        raise ValueError(f"unknown condition(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    test = load_mnist(download=False, progress=False).test if test is None else test
    render = _photo if kind == "photos" else _drawing
    samples = []
    for condition in conditions:
        for i, index in enumerate(digit_indices(per_condition, condition, seed)):
            # One generator per picture: a picture does not depend on which others are made.
            rng = np.random.default_rng([seed, known.index(condition), i, 0 if kind == "photos" else 1])
            image = render(test.images[index], condition, rng)
            samples.append(Sample(image, int(test.labels[index]), condition, int(index)))
    return samples


def _centre_lines(digit: np.ndarray, field: int, angle: float = 0.0) -> np.ndarray:
    """The digit's one-pixel centre lines (bool) in a ``field`` x ``field`` box (the 28x28 field enlarged), turned by
    ``angle`` degrees, with a margin of ``field // 4`` so that any pen fits."""
    big = Image.fromarray(digit).resize((field, field), Image.Resampling.BICUBIC)
    big = big.filter(ImageFilter.GaussianBlur(field / 56))  # half an MNIST pixel: smooth outlines, no pixel steps
    if angle:
        big = big.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    shape = np.asarray(big) >= 100
    return np.pad(skeletonize(shape), field // 4)


def _ink(lines: np.ndarray, width: float) -> np.ndarray:
    """Ink coverage in [0, 1] of a pen ``width`` pixels wide drawn along ``lines``, with a one-pixel soft edge."""
    distance = ndimage.distance_transform_edt(~lines)
    return np.clip(width / 2 + 0.5 - distance, 0.0, 1.0)


def _place(ink: np.ndarray, shape: tuple[int, int], centre: tuple[float, float]) -> np.ndarray:
    """``ink`` pasted into an empty page of ``shape`` with its centre at ``centre`` (row, column), cut at the edges."""
    page = np.zeros(shape)
    top, left = int(round(centre[0] - ink.shape[0] / 2)), int(round(centre[1] - ink.shape[1] / 2))
    rows = slice(max(top, 0), min(top + ink.shape[0], shape[0]))
    cols = slice(max(left, 0), min(left + ink.shape[1], shape[1]))
    page[rows, cols] = ink[rows.start - top : rows.stop - top, cols.start - left : cols.stop - left]
    return page


def _photo(digit: np.ndarray, condition: str, rng: np.random.Generator) -> Image.Image:
    """One MNIST digit written on paper and photographed under ``condition`` (see the module docstring)."""
    height, width = _PAGES[rng.integers(len(_PAGES))]
    short = min(height, width)
    size = rng.uniform(0.10, 0.16) if condition == "small_offset" else rng.uniform(0.35, 0.55)
    box = size * short  # the digit's height, as MNIST's 20-pixel box
    field = int(round(box * 28 / 20))
    angle = rng.choice([-1, 1]) * rng.uniform(4.0, 10.0) if condition == "rotated" else 0.0
    pen = {"thin_pen": rng.uniform(0.006, 0.012), "marker": rng.uniform(0.15, 0.20)}.get(condition)
    pen_width = max(1.2, box * (rng.uniform(0.04, 0.09) if pen is None else pen))
    ink = _ink(_centre_lines(digit, field, angle), pen_width)
    if condition == "small_offset":  # the centre in the outer band of the page, in a random corner region
        spot = [d / 2 + rng.choice([-1, 1]) * rng.uniform(0.25, 0.4) * d for d in (height, width)]
        centre = [float(np.clip(c, field / 2, d - field / 2)) for c, d in zip(spot, (height, width))]
    else:
        centre = [d / 2 + rng.uniform(-0.12, 0.12) * d for d in (height, width)]
    coverage = _place(ink, (height, width), (centre[0], centre[1]))

    rows, cols = np.mgrid[0:height, 0:width]
    y, x = rows / height - 0.5, cols / width - 0.5
    direction = rng.uniform(0, 2 * math.pi)
    light = 1.0 - rng.uniform(0.05, 0.20) * (0.5 + x * math.cos(direction) + y * math.sin(direction)) - 0.1 * (
        x**2 + y**2
    )
    if condition == "coloured":
        paper_rgb, pen_rgb = _COLOURED[rng.integers(len(_COLOURED))]
    else:
        paper_rgb, pen_rgb = _PAPERS[rng.integers(len(_PAPERS))], _PENS[rng.integers(len(_PENS))]
    paper = np.broadcast_to(np.asarray(paper_rgb, dtype=np.float64), (height, width, 3)).copy()
    if condition in ("squared", "ruled"):
        paper = _print_lines(paper, rng, box, squared=condition == "squared")
    pen_colour = np.asarray(pen_rgb, dtype=np.float64)
    strength = 0.95
    if condition == "blur":  # a faint grey stroke: the ink stands out by only a third to a half of its usual contrast
        strength = rng.uniform(0.35, 0.5)
    rgb = paper * (1 - strength * coverage[..., None]) + pen_colour * strength * coverage[..., None]
    rgb = rgb * light[..., None] + 3.0 * smooth_noise(rng, (height, width), 1.5)[..., None]
    if condition == "shadow":
        rgb = rgb * _shadow(rng, (height, width))[..., None]
    rgb = rgb + rng.normal(0.0, rng.uniform(1.5, 4.0), (height, width, 3))
    picture = Image.fromarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8))
    blur = rng.uniform(0.012, 0.02) * box if condition == "blur" else rng.uniform(0.4, 0.9)
    picture = picture.filter(ImageFilter.GaussianBlur(blur))
    encoded = io.BytesIO()
    picture.save(encoded, format="JPEG", quality=int(rng.integers(60, 91)))
    return Image.open(encoded).convert("RGB")


def _print_lines(paper: np.ndarray, rng: np.random.Generator, box: float, squared: bool) -> np.ndarray:
    """``paper`` with printed lines: a square grid, or horizontal rules with a red margin line."""
    height, width = paper.shape[:2]
    spacing = box / rng.uniform(2.5, 5.0) if squared else box / rng.uniform(0.8, 1.6)
    thickness = rng.uniform(1.0, 2.5)
    offset = rng.uniform(0, spacing, 2)

    def lines(n: int, start: float) -> np.ndarray:
        position = (np.arange(n) - start) % spacing
        return np.clip(thickness / 2 + 0.5 - np.minimum(position, spacing - position), 0.0, 1.0)

    across = lines(height, offset[0])[:, None] * np.ones((1, width))
    grid = np.maximum(across, lines(width, offset[1])[None, :]) if squared else across
    colour = np.array([[120, 160, 210], [150, 150, 160], [110, 170, 200]][rng.integers(3)], dtype=np.float64)
    depth = rng.uniform(0.35, 0.7) * grid[..., None]
    printed = paper * (1 - depth) + colour * depth
    if not squared:  # the margin: one red vertical line
        margin = np.zeros(width)
        left = int(rng.uniform(0.08, 0.2) * width)
        margin[left : left + 2] = 0.6
        printed = printed * (1 - margin[None, :, None]) + np.array([220.0, 80, 90]) * margin[None, :, None]
    return printed


def _shadow(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A light map with a sharp shadow edge: a straight line through the middle part of the page, dark on one side."""
    height, width = shape
    rows, cols = np.mgrid[0:height, 0:width]
    angle = rng.uniform(0, 2 * math.pi)
    through = (rng.uniform(0.3, 0.7) * height, rng.uniform(0.3, 0.7) * width)
    signed = (rows - through[0]) * math.sin(angle) + (cols - through[1]) * math.cos(angle)
    edge = 1.0 / (1.0 + np.exp(-signed / rng.uniform(0.8, 3.0)))
    return 1.0 - rng.uniform(0.35, 0.6) * edge


def _drawing(digit: np.ndarray, condition: str, rng: np.random.Generator) -> Image.Image:
    """One MNIST digit drawn with a brush on a 400x400 canvas and exported (see the module docstring)."""
    size = 400
    box = rng.uniform(0.55, 0.75) * size
    field = int(round(box * 28 / 20))
    brush = rng.uniform(1.0, 3.0) if condition.startswith("thin") else rng.uniform(8.0, 16.0)
    ink = _ink(_centre_lines(digit, field), brush)
    centre = (size / 2 + rng.uniform(-0.08, 0.08) * size, size / 2 + rng.uniform(-0.08, 0.08) * size)
    coverage = _place(ink, (size, size), centre)
    if condition.endswith("transparent"):
        rgba = np.zeros((size, size, 4), dtype=np.uint8)
        rgba[..., :3] = (20, 20, 20)
        rgba[..., 3] = np.rint(255 * coverage).astype(np.uint8)
        rgba[rgba[..., 3] == 0] = 0
        return Image.fromarray(rgba)
    grey = 255 * coverage if condition.endswith("on_black") else 255 * (1 - coverage)
    value = np.rint(grey).astype(np.uint8)
    return Image.fromarray(np.repeat(value[..., None], 3, axis=2))
