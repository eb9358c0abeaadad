"""Generated photos of filled-in digit forms, for the benchmark, the tests and chapter 7's sample sheets.

Measuring the sheet reader (`course_utils.sheets`) needs many photographed forms whose every box is known. This module
makes them from MNIST **test** digits (never a training digit), in two steps:

1. `fill_form`: a "writer" fills the form. Each writer has a style of their own, kept on the whole sheet: pen width
   (0.3-0.9 mm), slant, digit size within the box, and how many boxes they leave empty. Each digit is written again
   along its centre line with the writer's pen (as `photo_sets` does for single digits), slanted, a little off the
   box's centre, and varies a little in size from box to box.
2. `photograph`: the page is photographed: lying on a table in any of the four orientations, turned further by up to
   30 degrees, seen at an angle (each corner moved by up to 6% of the page), filling 55-90% of the frame; with uneven
   light, a sharp shadow across it, paper grain, camera noise, a slight blur and JPEG compression (decoded again, as
   a phone's file would be). At 1 or 12 megapixels.

`sheet_photos` gives reproducible sets: the same seed gives the same pixels, sheet ``i`` does not depend on how many
are made, and the four orientations take turns. The photos are generated, not real: say so wherever they are shown.
"""
from __future__ import annotations

import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage
from skimage.transform import warp

from . import sheets
from .mnist import Split, load_mnist
from .photo_sets import _centre_lines, _ink, _place, _shadow, smooth_noise

FORM_PX_PER_MM = 8.0
"""The resolution at which forms are filled in (about 200 dpi), before they are photographed."""
NAMES = ("li_ming", "wang_fang", "zhang_wei", "liu_yang", "chen_jing", "yang_lei", "zhao_min", "huang_tao",
         "zhou_yan", "wu_hao", "xu_li", "sun_qiang")
"""Writer names used in order (``writer-12`` and so on after these)."""
MEGAPIXELS = (1, 12)
"""The sizes `sheet_photos` takes turns with by default, in megapixels."""


@dataclass(frozen=True)
class Writer:
    """One writer's style: ``name``, ``pen`` width (mm), ``slant`` (horizontal shift per unit of height; positive
    leans right), ``size`` (digit height as a fraction of the box's), ``skip`` (fraction of boxes left empty)."""

    name: str
    pen: float
    slant: float
    size: float
    skip: float


@dataclass(frozen=True)
class SheetPhoto:
    """One generated photo: ``image`` (RGB, JPEG-decoded), the ``writer``, ``written`` (an int array of rows
    ``[row, col, label, MNIST test index]``, one per written box), ``turn`` (0, 90, 180 or 270: how the page lies),
    ``megapixels``, and the filled-in ``page`` itself (grey, 1 = white, at `FORM_PX_PER_MM`: a perfect scan)."""

    image: Image.Image
    writer: Writer
    written: np.ndarray
    turn: int
    megapixels: float
    page: np.ndarray


def writer(index: int, seed: int = 0) -> Writer:
    """The style of writer ``index`` (the same for a seed, whatever else is generated)."""
    rng = np.random.default_rng([seed, index, 7])
    name = NAMES[index] if index < len(NAMES) else f"writer-{index}"
    return Writer(name, pen=float(rng.uniform(0.3, 0.9)), slant=float(rng.uniform(-0.2, 0.3)),
                  size=float(rng.uniform(0.55, 0.8)), skip=float(rng.choice([0.0, 0.05, 0.15])))


def sheet_photos(count: int, seed: int = 0, megapixels: tuple[float, ...] = MEGAPIXELS,
                 test: Split | None = None) -> Iterator[SheetPhoto]:
    """``count`` photos of forms, sheet ``i`` filled by `writer` ``i`` with digits of its own, lying turned by
    ``90 * (i % 4)`` degrees, at ``megapixels[i % len(megapixels)]``."""
    test = load_mnist(download=False, progress=False).test if test is None else test
    by_label = [np.random.default_rng([seed, label]).permutation(np.flatnonzero(test.labels == label))
                for label in range(10)]
    for i in range(count):
        rng = np.random.default_rng([seed, i, 1])
        style = writer(i, seed)
        digits = {}
        for row in range(sheets.ROWS):
            pool = by_label[row]
            for col in range(sheets.COLS):
                if rng.random() >= style.skip:
                    index = int(pool[(i * sheets.COLS + col) % len(pool)])
                    digits[(row, col)] = index
        page = fill_form({box: test.images[index] for box, index in digits.items()}, style, rng)
        turn = 90 * (i % 4)
        size = megapixels[i % len(megapixels)]
        written = np.array([[row, col, row, index] for (row, col), index in sorted(digits.items())], dtype=np.int64)
        yield SheetPhoto(photograph(page, rng, megapixels=size, turn=turn), style, written.reshape(-1, 4), turn, size,
                         page)


@lru_cache(maxsize=1)
def blank_form() -> np.ndarray:
    """The empty form as a grey float array (1 = white paper) at `FORM_PX_PER_MM`."""
    figure = sheets.draw_form()
    buffer = io.BytesIO()
    figure.savefig(buffer, dpi=FORM_PX_PER_MM * 25.4, format="png", facecolor="white")
    with Image.open(buffer) as image:
        grey = image.convert("L").resize((round(sheets.PAGE[0] * FORM_PX_PER_MM), round(sheets.PAGE[1] * FORM_PX_PER_MM)),
                                         Image.Resampling.BILINEAR)
    page = np.asarray(grey, dtype=np.float32) / 255.0
    page.flags.writeable = False
    return page


def fill_form(digits: dict[tuple[int, int], np.ndarray], style: Writer, rng: np.random.Generator) -> np.ndarray:
    """The form with each 28x28 digit of ``digits`` (keyed by ``(row, col)``) written into its box in ``style``:
    a grey float page (1 = white) at `FORM_PX_PER_MM`. A digit in any row is allowed (a wrong-row digit, for tests)."""
    page = blank_form().copy()
    ink = np.zeros_like(page)
    scale = FORM_PX_PER_MM
    where = {(b.row, b.col): b for b in sheets.boxes()}
    for (row, col), digit in digits.items():
        box = where[(row, col)]
        height = style.size * (box.y1 - box.y0) * scale * rng.uniform(0.92, 1.08)
        field = int(round(height * 28 / 20))
        lines = _centre_lines(np.asarray(digit, dtype=np.uint8), field)
        coverage = _ink(lines, max(1.2, style.pen * scale * rng.uniform(0.9, 1.1)))
        slant = style.slant + rng.uniform(-0.05, 0.05)
        centre_row = (coverage.shape[0] - 1) / 2
        # output (r, c) reads input (r, c + slant * (r - centre)): rows above the centre move right for slant > 0
        coverage = ndimage.affine_transform(coverage, np.array([[1.0, 0.0], [slant, 1.0]]),
                                            offset=(0.0, -slant * centre_row), order=1)
        centre = ((box.y0 + box.y1) / 2 * scale + rng.uniform(-0.08, 0.08) * height,
                  (box.x0 + box.x1) / 2 * scale + rng.uniform(-0.08, 0.08) * height)
        ink = np.maximum(ink, _place(coverage, page.shape, centre))
    return page * (1 - 0.9 * ink)


def photograph(page: np.ndarray, rng: np.random.Generator, *, megapixels: float = 12, turn: int = 0,
               tilt: float | None = None) -> Image.Image:
    """A phone photo (RGB, JPEG-decoded) of a grey ``page`` (1 = white) lying on a table: turned by ``turn`` degrees
    (clockwise) plus ``tilt`` (default: random, up to 30 degrees either way), seen at an angle, with uneven light, a
    shadow, noise, blur and JPEG compression (module docstring)."""
    landscape = rng.random() < 0.5
    width = math.sqrt(megapixels * 1e6 * 4 / 3)
    size = (round(width), round(width * 3 / 4)) if landscape else (round(width * 3 / 4), round(width))
    angle = math.radians(turn + (rng.uniform(-30, 30) if tilt is None else tilt))
    page_h, page_w = page.shape
    corners = np.array([[0, 0], [page_w, 0], [page_w, page_h], [0, page_h]], dtype=np.float64)
    centred = corners - [page_w / 2, page_h / 2]
    turned = centred @ np.array([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]])
    extent = turned.max(axis=0) - turned.min(axis=0)
    fill = rng.uniform(0.55, 0.9)
    scale = fill * min(size[0] / extent[0], size[1] / extent[1])
    spare = np.array(size) - scale * extent
    centre = np.array(size) / 2 + rng.uniform(-0.45, 0.45, 2) * spare
    placed = turned * scale + centre + rng.uniform(-0.06, 0.06, (4, 2)) * scale * max(page_w, page_h)
    to_page = sheets.homography(placed, corners)
    shape = (size[1], size[0])
    if scale < 1:  # a camera pixel sums the light of the page it sees: smooth before sampling, or thin strokes alias
        page = ndimage.gaussian_filter(page, 0.5 / scale)
    paper = warp(page, to_page, output_shape=shape, order=1, cval=-1.0, preserve_range=True).astype(np.float32)
    on_page = paper >= 0
    table = rng.uniform(0.15, 0.55) * (1 + 0.15 * smooth_noise(rng, shape, max(shape) / 20)).astype(np.float32)
    grey = np.where(on_page, paper, table)
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    y, x = rows / shape[0] - 0.5, cols / shape[1] - 0.5
    direction = rng.uniform(0, 2 * math.pi)
    light = 1.0 - rng.uniform(0.1, 0.3) * (0.5 + x * math.cos(direction) + y * math.sin(direction))
    with np.errstate(over="ignore"):  # far from its edge the shadow's logistic saturates (exp overflows to inf: 0)
        light = light * _shadow(rng, shape).astype(np.float32)
    tint = np.array([rng.uniform(225, 250), rng.uniform(222, 245), rng.uniform(210, 235)], dtype=np.float32)
    rgb = grey[..., None] * light[..., None] * tint
    rgb += rng.normal(0.0, rng.uniform(1.5, 4.0), (*shape, 1)).astype(np.float32)
    picture = Image.fromarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8))
    picture = picture.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.0) * max(size) / 2000))
    encoded = io.BytesIO()
    picture.save(encoded, format="JPEG", quality=int(rng.integers(70, 93)))
    return Image.open(encoded).convert("RGB")
