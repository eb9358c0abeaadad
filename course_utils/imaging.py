"""Turn a photo of a handwritten digit into what an MNIST image looks like.

A model trained on MNIST has only ever seen one kind of picture: a 28x28 grey image, white ink on a black
background, the digit scaled into a 20x20 box and shifted so that its centre of mass sits at the centre of the
28x28 field. A student's phone photo is nothing like that: dark ink on light paper, thousands of pixels wide, the digit
small and off-centre, the paper grey and unevenly lit. The original tutorial only did
``im.convert('L').resize((28, 28), Image.ANTIALIAS)`` and ``im = 1.0 - im / 255.``. The inversion is right in
spirit, but the resize squeezes the whole photo, paper included, into 28x28: the digit ends up a thin, faint,
off-centre smudge on a grey (not black) background, at a scale and position no training image had, and on a value
scale that differs from the one used in training, so the network's answer has little to do with the digit (and
``Image.ANTIALIAS`` no longer exists in Pillow 10).

`to_mnist` instead repeats, step by step, what was done to build MNIST:

1. Grey levels. Colour becomes grey; a transparent background is filled with the colour opposite to the ink.
2. Polarity. Paper is the most common grey level and ink lies far from it on one side. If the ink is darker than the
   paper, the image is inverted so that ink is bright and the background dark, as in MNIST.
3. Background. Shadows and uneven light make the paper brighter in one place than in another, so no single grey level
   is "paper". A morphological opening (a minimum filter, then a maximum filter, over a window wider than any stroke)
   erases the strokes but keeps the lighting, gradients and sharp shadow edges alike; it is subtracted.
4. Ink. Otsu's threshold splits what is left into background and ink; an image whose "ink" is no brighter than its
   noise has no digit. Fainter pixels count as ink only where they continue a stroke, which keeps the strokes' soft
   edges but not the paper's grain. Background becomes 0 and a typical ink pixel fully white.
5. Crop. Specks of dust or noise far smaller than the digit are dropped, then the image is cropped to the ink's
   bounding box.
6. Size. The crop is scaled (Lanczos) so that its longer side is 20 pixels, keeping its aspect ratio: a "1" stays
   tall and thin.
7. Centre. It is placed in a black 28x28 field so that its centre of mass lands on pixel (14, 14), as in MNIST.

The result is uint8, like the MNIST files; `course_utils.preprocess.normalize` turns it into the model's input.
"""
from __future__ import annotations

import os
import warnings
from collections import deque
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from .errors import CourseError

MAX_PIXELS = 50_000_000
"""Larger images are refused: a phone photo has 12 to 48 megapixels; more suggests a broken or malicious file."""

_WORK_SIZE = 512
"""Photos are analysed at this size (longest side); the digit ends up 20 pixels tall, so this loses nothing."""
_OPENING = 3
"""The background filter's window is this fraction (1/3) of the shorter side: wider than the strokes of a digit."""
_MIN_CONTRAST = 32.0
"""Ink must stand out from the paper by at least this many grey levels (of 255), or the image counts as blank."""
_SPECK = 0.05
"""Ink blobs with less than this fraction of the largest blob's ink are specks, not part of the digit."""
_BOX = 20
_FIELD = 28
_NO_DIGIT = "no digit found in the image: photograph one dark digit on light paper, large and in focus"


def load_image(path: str | os.PathLike) -> Image.Image:
    """Read an image file (JPEG, PNG, BMP, ...) upright, as a mode "L" or "RGB" image.

    The camera's EXIF orientation is applied, so a photo taken with the phone held sideways is not rotated. Transparent
    areas are filled (see `to_mnist`), 16-bit and 1-bit images become 8-bit grey. Raises `CourseError` for a missing,
    empty, unreadable or oversized file.
    """
    name = os.fspath(path)
    if not os.path.exists(name):
        raise CourseError(f"Image file not found: {name}. Check the path and the file name.")
    if os.path.isdir(name):
        raise CourseError(f"{name} is a folder, not an image: give the path of a JPEG or PNG file.")
    if os.path.getsize(name) == 0:
        raise CourseError(f"Image file {name} is empty (0 bytes): copy or upload the photo again.")
    too_large = (
        f"Image file {name} is too large (more than {MAX_PIXELS / 1e6:g} megapixels): "
        "shrink it, e.g. to 2000 pixels on the longer side, and try again."
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(name) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise CourseError(too_large)
                image.load()
                upright = ImageOps.exif_transpose(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise CourseError(too_large) from None
    except UnidentifiedImageError:
        raise CourseError(f"{name} is not an image file Pillow can read: save it as JPEG, PNG or BMP.") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise CourseError(f"Could not read image {name} ({exc}): the file may be damaged; save it again.") from None
    return _flatten(upright)


def to_mnist(image: Image.Image | np.ndarray) -> np.ndarray:
    """Turn a picture of one handwritten digit into a uint8 ``[28, 28]`` MNIST-style image (white ink on black).

    Accepts a Pillow image of any mode, or an array ``[H, W]``, ``[H, W, 3]`` (RGB) or ``[H, W, 4]`` (RGBA) with
    values in 0-255 (floats with a maximum of at most 1 are taken as 0-1). Dark ink on light paper and light ink on a
    dark background both work. Raises `CourseError` if no digit stands out from the background.
    """
    return to_mnist_steps(image)[-1][1]


def to_mnist_steps(image: Image.Image | np.ndarray) -> list[tuple[str, np.ndarray]]:
    """``to_mnist`` one step at a time: ``(name, image)`` pairs for the steps of the module docstring, for showing
    the pipeline (e.g. with ``plots.show_pipeline``). The last pair is ``to_mnist``'s result."""
    picture = image if isinstance(image, Image.Image) else _array_to_image(image)
    gray = _flatten(picture).convert("L")
    gray.thumbnail((_WORK_SIZE, _WORK_SIZE), Image.Resampling.LANCZOS)
    bright = _ink_bright(gray)
    ink = _extract_ink(bright)
    clean = _drop_specks(ink)
    box = _crop_to_box(clean)
    return [
        ("grey", np.asarray(gray)),
        ("ink made bright", bright),
        ("background removed", ink),
        ("specks dropped", clean),
        ("cropped, 20 px box", box),
        ("centred 28x28", centre_by_mass(box)),
    ]


def image_file_to_mnist(path: str | os.PathLike) -> np.ndarray:
    """`to_mnist` of `load_image`: the MNIST-style ``[28, 28]`` uint8 version of the digit in an image file."""
    image = load_image(path)
    try:
        return to_mnist(image)
    except CourseError as exc:
        raise CourseError(f"{os.fspath(path)}: {exc}") from None


def _flatten(image: Image.Image) -> Image.Image:
    """Bring any Pillow mode to 8-bit "L" (one channel) or "RGB", filling transparency with a contrasting colour."""
    if image.mode.startswith("I") or image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        if image.mode.startswith("I;16") or values.max(initial=0) > 255:
            values = values * (255.0 / 65535.0)
        return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8))
    if image.mode in ("RGBA", "RGBa", "LA", "La", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"), dtype=np.float64)
        lightness = np.asarray(rgba.convert("L"), dtype=np.float64)
        # A drawing on a transparent background: the opaque pixels are the ink, so the background gets the other
        # colour (dark ink on white, light ink on black) instead of whatever RGB the transparent pixels happen to hold.
        ink_lightness = (lightness * alpha).sum() / max(alpha.sum(), 1.0)
        paper = 255 if ink_lightness < 128 else 0
        background = Image.new("RGBA", rgba.size, (paper, paper, paper, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("L" if image.mode in ("L", "1") else "RGB")


def _array_to_image(array: np.ndarray) -> Image.Image:
    """An ``[H, W]``, ``[H, W, 1]``, ``[H, W, 3]`` or ``[H, W, 4]`` array as an 8-bit Pillow image."""
    values = np.asarray(array)
    if values.ndim == 3 and values.shape[2] == 1:
        values = values[:, :, 0]
    if not (values.ndim == 2 or (values.ndim == 3 and values.shape[2] in (3, 4))) or values.size == 0:
        raise ValueError(f"expected an image array [H, W], [H, W, 3] or [H, W, 4], got shape {list(values.shape)}")
    values = values.astype(np.float64)
    if np.issubdtype(np.asarray(array).dtype, np.floating) and values.max(initial=0) <= 1.0:
        values = values * 255.0
    elif values.max(initial=0) > 255:
        values = values * (255.0 / 65535.0)
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8))


def _ink_bright(gray: Image.Image) -> np.ndarray:
    """The grey image as float, inverted if needed so that the ink is brighter than the paper."""
    values = np.asarray(gray, dtype=np.float64)
    # A 3x3 blur first, so single noisy pixels cannot pose as the darkest or brightest ink.
    smooth = np.asarray(gray.filter(ImageFilter.BoxBlur(1)), dtype=np.float64)
    paper = np.median(smooth)
    if paper - smooth.min() > smooth.max() - paper:
        values = 255.0 - values
    return values


def _background(values: np.ndarray) -> np.ndarray:
    """The paper's level at every pixel of an ink-bright image: a morphological opening wider than any stroke.

    The opening (a minimum filter, then a maximum filter of the same size) erases bright structures narrower than its
    window, the strokes, but keeps slow gradients and even the sharp edge of a shadow, which a blur would smear.
    """
    size = 2 * (min(values.shape) // (2 * _OPENING)) + 1
    # Padding by copying the border keeps a gradient or shadow monotone beyond the image, so the opening reproduces
    # it exactly up to the border (padding each pass separately would not).
    padded = np.pad(values, size - 1, mode="edge")
    return _window_reduce(_window_reduce(padded, size, np.min), size, np.max)


def _window_reduce(values: np.ndarray, size: int, reduce: Callable[..., np.ndarray]) -> np.ndarray:
    """``reduce`` (np.min or np.max) over every whole ``size`` x ``size`` window, as two one-dimensional passes."""
    for axis in (0, 1):
        values = reduce(np.lib.stride_tricks.sliding_window_view(values, size, axis=axis), axis=-1)
    return values


def _otsu_threshold(values: np.ndarray) -> float:
    """Otsu's threshold: the grey level that best splits the values into two classes (maximal between-class variance).

    Works on counts, not fractions, so that the empty classes at both ends give exactly 0/0 (skipped) rather than
    rounding noise divided by almost zero.
    """
    counts, edges = np.histogram(values, bins=256, range=(0.0, 256.0))
    below = np.cumsum(counts)
    sum_below = np.cumsum(counts * edges[:-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (sum_below[-1] * below - below[-1] * sum_below) ** 2 / (below * (below[-1] - below))
    return float(edges[np.nanargmax(between) + 1])


def _extract_ink(values: np.ndarray) -> np.ndarray:
    """Ink strength in [0, 1] from an ink-bright image: background 0, typical ink 1."""
    residual = np.clip(values - _background(values), 0.0, 255.0)
    if np.ptp(residual) < _MIN_CONTRAST:
        raise CourseError(_NO_DIGIT)
    threshold = _otsu_threshold(residual)
    strong = residual >= threshold
    paper = residual[~strong]
    ink_level = np.median(residual[strong])
    if ink_level - paper.mean() < max(_MIN_CONTRAST, 6.0 * paper.std()):
        raise CourseError(_NO_DIGIT)
    # Pixels a little above the paper's noise count as ink only where they continue a clear stroke (hysteresis, as in
    # Canny's edge detector): this keeps the soft edges of the strokes but not the paper's grain.
    paper_level = np.median(paper)
    noise = 1.4826 * np.median(np.abs(paper - paper_level))
    noise_floor = min(paper_level + 3.0 * noise, threshold - 1.0)
    weak = residual > noise_floor
    ink = strong
    while True:
        grown = _dilate(ink) & weak
        if np.array_equal(grown, ink):
            break
        ink = grown
    return np.clip((residual - noise_floor) / (ink_level - noise_floor), 0.0, 1.0) * ink


def _dilate(mask: np.ndarray) -> np.ndarray:
    """Grow a boolean mask by one pixel in all eight directions."""
    padded = np.pad(mask, 1)
    height, width = mask.shape
    grown = mask.copy()
    for dr in range(3):
        for dc in range(3):
            grown |= padded[dr : dr + height, dc : dc + width]
    return grown


def _drop_specks(ink: np.ndarray) -> np.ndarray:
    """Erase ink blobs much smaller than the largest one (dust, noise), on a coarse grid of at most 64x64 cells."""
    height, width = ink.shape
    size = max(1, -(-max(height, width) // 64))
    rows, cols = -(-height // size), -(-width // size)
    padded = np.pad(ink, ((0, rows * size - height), (0, cols * size - width)))
    mass = padded.reshape(rows, size, cols, size).sum(axis=(1, 3))
    label = np.zeros((rows, cols), dtype=np.int64)
    totals = []
    for start in zip(*np.nonzero(mass)):
        if label[start]:
            continue
        totals.append(0.0)
        label[start] = len(totals)
        queue = deque([start])
        while queue:
            r, c = queue.popleft()
            totals[-1] += mass[r, c]
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    nr, nc = r + dr, c + dc
                    if 0 <= nr < rows and 0 <= nc < cols and mass[nr, nc] > 0 and not label[nr, nc]:
                        label[nr, nc] = len(totals)
                        queue.append((nr, nc))
    totals = np.array([0.0, *totals])
    keep = totals >= _SPECK * totals.max()
    keep[0] = False
    cells = keep[label]
    return ink * np.repeat(np.repeat(cells, size, axis=0), size, axis=1)[:height, :width]


def _crop_to_box(ink: np.ndarray) -> np.ndarray:
    """Crop to the ink's bounding box and scale it so that its longer side is 20 pixels, keeping the aspect ratio."""
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    height, width = crop.shape
    scale = _BOX / max(height, width)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(crop.astype(np.float32)).resize(new_size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized, dtype=np.float64), 0.0, None)


def centre_by_mass(digit: np.ndarray) -> np.ndarray:
    """Place a cropped digit (float, at most 20x20, ink bright) in a black 28x28 field with its centre of mass on
    pixel (14, 14), as MNIST did; the result is uint8 with maximum 255. Chapter 4's exercise rebuilds this step."""
    height, width = digit.shape
    total = digit.sum()
    centre_row = (digit.sum(axis=1) @ np.arange(height)) / total
    centre_col = (digit.sum(axis=0) @ np.arange(width)) / total
    top = int(np.clip(round(_FIELD / 2 - centre_row), 0, _FIELD - height))
    left = int(np.clip(round(_FIELD / 2 - centre_col), 0, _FIELD - width))
    field = np.zeros((_FIELD, _FIELD))
    field[top : top + height, left : left + width] = digit
    return np.rint(field * (255.0 / field.max())).astype(np.uint8)
