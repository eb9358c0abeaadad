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

`to_mnist` instead repeats, step by step, what was done to build MNIST; each step is a function of this module, and
`to_mnist_steps` shows them all:

1. `to_grey`: colour becomes grey (a transparent background is filled with the colour opposite to the ink), and
   the picture is brought to at most 512 pixels on its longer side.
2. `make_ink_bright`: ink is what differs from the paper around it (a median filter, which follows a shadow's
   edge), on one side only. If it is darker than the paper, the image is inverted: ink bright, background dark.
3. `remove_background`: shadows and uneven light make the paper brighter in one place than in another. A
   morphological opening over a window wider than any stroke erases the strokes but keeps the lighting, gradients
   and sharp shadow edges alike; it is subtracted (a white top-hat).
4. `remove_lines`: the lines of squared or ruled paper, thin and straight from border to border, are found with an
   opening along long horizontal and vertical lines and become background, except where a stroke covers them.
5. `find_ink`: Otsu's threshold splits what is left into background and ink. The ink must stand out from the
   paper's noise by a wide margin, measured against that noise, so a soft, faint but clear digit passes and an empty
   sheet does not. Fainter pixels count as ink only where they continue a stroke (hysteresis). Background becomes 0
   and a typical ink pixel 1.
6. `drop_specks`: ink blobs far smaller than the largest one (dust, noise, pieces of lines) are erased.
7. `crop`: the image is cut to the ink's bounding box.
8. `match_stroke_width`: MNIST's strokes are 1.6-3.6 pixels wide once the digit is 20 pixels tall. Thinner strokes
   (a fine pen, a 1-pixel drawing brush) are thickened, thicker ones (a marker) thinned, to the nearer end of that
   range; `stroke_width` measures them (ink area and skeleton length).
9. `scale_to_box`: the crop is scaled (Lanczos) so that its longer side is 20 pixels, keeping its aspect ratio: a
   "1" stays tall and thin.
10. `centre_by_mass`: it is placed in a black 28x28 field so that its centre of mass lands on pixel (14, 14), as in
    MNIST.

The result is uint8, like the MNIST files; `course_utils.preprocess.normalize` turns it into the model's input.
"""
from __future__ import annotations

import os
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage
# Only these two subpackages, not ``import skimage`` and its friends: predict's cold start pays for every import here.
# Measured with ``python -X importtime``: scipy.ndimage about 0.25 s, skimage.morphology 0.1-0.2 s, skimage.filters
# (lazily loaded) a few ms.
from skimage.filters import apply_hysteresis_threshold, threshold_otsu
from skimage.morphology import skeletonize

from .errors import CourseError

MAX_PIXELS = 50_000_000
"""Larger images are refused: a phone photo has 12 to 48 megapixels; more suggests a broken or malicious file."""

_WORK_SIZE = 512
"""Photos are analysed at this size (longest side); the digit ends up 20 pixels tall, so this loses nothing."""
_OPENING = 3
"""The background filter's window is this fraction (1/3) of the shorter side: wider than the strokes of a digit."""
_LINE = 3
"""A ruled line is straight over at least this fraction (1/3) of the shorter side..."""
_LINE_WIDTH = 5
"""...is at most this many pixels wide (at the 512-pixel working size), and runs from border to border of the picture."""
_LINE_TILT = 7
"""Ruled lines are looked for in bands this many pixels wide, so a sheet turned by up to about 2 degrees still has them."""
_DARKEST_PAPER = 32.0
"""Contrast is measured relative to the paper's lightness, but never to less than this (of 255): deep shadow is noise."""
_MIN_CONTRAST = 12.0
"""Ink must stand out from the paper by at least this many grey levels (of 255), or the image counts as blank..."""
_MIN_SNR = 8.0
"""...and by at least this many times the paper's noise (its grain, the camera's noise)."""
_INSIDE = 0.25
"""`make_ink_bright` decides by what lies away from the border if that is at least this fraction of the whole."""
_SPECK = 0.05
"""Ink blobs with less than this fraction of the largest blob's ink are specks, not part of the digit."""
_MNIST_WIDTHS = (1.6, 3.6)
"""MNIST's stroke widths in pixels at the 20x20 scale: all but the thinnest and thickest 5% of its digits lie in this
range (`stroke_width` of upscaled training digits). Strokes outside it are brought to its nearer end."""
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


def to_mnist(image: Image.Image | np.ndarray, *, dark_ink: bool | None = None) -> np.ndarray:
    """Turn a picture of one handwritten digit into a uint8 ``[28, 28]`` MNIST-style image (white ink on black).

    Accepts a Pillow image of any mode, or an array ``[H, W]``, ``[H, W, 3]`` (RGB) or ``[H, W, 4]`` (RGBA) with
    values in 0-255 (floats with a maximum of at most 1 are taken as 0-1). Dark ink on light paper and light ink on a
    dark background both work. ``dark_ink`` says which one it is when that is known (a box cut from the printed form
    of ``sheets``): step 2 then inverts or not without looking. Raises `CourseError` if no digit stands out from the
    background.
    """
    return to_mnist_steps(image, dark_ink=dark_ink)[-1][1]


def to_mnist_steps(image: Image.Image | np.ndarray, *, dark_ink: bool | None = None) -> list[tuple[str, np.ndarray]]:
    """``to_mnist`` one step at a time: ``(name, image)`` pairs for the steps of the module docstring, for showing
    the pipeline (e.g. with ``plots.show_pipeline``). The last pair is ``to_mnist``'s result."""
    grey = to_grey(image)
    if dark_ink is None:
        bright = make_ink_bright(grey)
    else:
        bright = 255.0 - grey.astype(np.float64) if dark_ink else grey.astype(np.float64)
    residual = remove_background(bright)
    unruled = remove_lines(residual)
    ink = find_ink(unruled)
    clean = drop_specks(ink)
    cropped = crop(clean)
    pen = match_stroke_width(cropped)
    box = scale_to_box(pen)
    return [
        ("grey", grey),
        ("ink made bright", bright),
        ("background removed", residual),
        ("ruled lines removed", unruled),
        ("ink found", ink),
        ("specks dropped", clean),
        ("cropped", cropped),
        ("stroke width matched", pen),
        ("20 px box", box),
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


def to_grey(image: Image.Image | np.ndarray) -> np.ndarray:
    """Step 1: the picture as a uint8 grey array, at most 512 pixels on its longer side.

    Colour carries nothing about which digit it is; a smaller copy is faster to analyse and still far sharper than
    the 20x20 pixels the digit ends up in.
    """
    picture = image if isinstance(image, Image.Image) else _array_to_image(image)
    grey = _flatten(picture).convert("L")
    grey.thumbnail((_WORK_SIZE, _WORK_SIZE), Image.Resampling.LANCZOS)
    return np.asarray(grey)


def make_ink_bright(grey: np.ndarray) -> np.ndarray:
    """Step 2: the grey image as float, inverted if the ink is darker than the paper, so that ink is bright as in MNIST.

    Ink is what differs from the paper around it, on one side only. The paper's local level is a median filter over
    a window much wider than a stroke (on a 64-pixel copy, for speed): a median ignores the strokes, whatever their
    colour, and follows the edge of a shadow. What lies clearly above that level is weighed against what lies below:
    a shadow's edge adds as much to one side as to the other, the ink to one side only. Comparing with the local
    paper rather than with the whole image's median keeps a shadow over half of the sheet from passing for the paper.

    Where a shadow's edge meets the picture's border at a sharp angle, the median rounds the corner off, and the
    paper there looks like ink on one side only. Such errors touch the border; a digit photographed to be read does
    not. So only what lies away from the border is weighed, unless that is too little to go by (a digit that runs
    off the picture leaves only the paper's grain inside).
    """
    values = grey.astype(np.float64)
    height, width = grey.shape
    coarse = Image.fromarray(grey).resize(_coarse_size(grey.shape), Image.Resampling.BOX)
    local = ndimage.median_filter(np.asarray(coarse), size=min(coarse.size) // 4 * 2 + 1, mode="nearest")
    paper = Image.fromarray(local.astype(np.float32)).resize((width, height), Image.Resampling.BILINEAR)
    # A 3x3 mean first, so single noisy pixels weigh little on either side.
    deviation = ndimage.uniform_filter(values, 3, mode="nearest") - np.asarray(paper, dtype=np.float64)
    margin = 3.0 * _noise(deviation)
    dark, light = np.clip(-deviation - margin, 0.0, None), np.clip(deviation - margin, 0.0, None)
    whole = dark.sum(), light.sum()
    inside = _away_from_border(dark), _away_from_border(light)
    dark_weight, light_weight = inside if sum(inside) >= _INSIDE * sum(whole) else whole
    return 255.0 - values if dark_weight > light_weight else values


def _away_from_border(strength: np.ndarray) -> float:
    """The total of ``strength`` over its connected pieces (where it is > 0) that do not touch the picture's border."""
    labels, count = ndimage.label(strength > 0, structure=np.ones((3, 3)))
    touching = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    totals = np.concatenate([[0.0], ndimage.sum_labels(strength, labels, np.arange(1, count + 1))])
    totals[touching] = 0.0
    return float(totals.sum())


def remove_background(bright: np.ndarray) -> np.ndarray:
    """Step 3: the ink's contrast with the paper at every pixel, so that only the ink stands out from 0.

    Shadows and uneven light make the paper brighter in one place than in another, so no single grey level is
    "paper". A morphological opening (a minimum filter, then a maximum filter, over a window wider than any stroke)
    erases the strokes but keeps slow gradients and the sharp edge of a shadow alike, which a blur would smear; the
    difference (a white top-hat) is the ink. Light falls on ink and paper alike, so in a shadow the ink's difference
    from the paper shrinks with the paper's lightness: the difference is divided by that lightness (255 minus the
    ink-bright paper level), and a stroke running into a shadow keeps its strength.
    """
    size = _window(bright.shape)
    # Padding once by copying the border keeps a gradient or shadow monotone beyond the image, so the opening
    # reproduces it up to the border (each filter padding on its own would not).
    padded = np.pad(bright, size - 1, mode="edge")
    paper = ndimage.grey_opening(padded, size=size, mode="nearest")[size - 1 : 1 - size, size - 1 : 1 - size]
    lightness = np.maximum(255.0 - paper, _DARKEST_PAPER)
    return np.clip(bright - paper, 0.0, None) * (255.0 / lightness)


def remove_lines(residual: np.ndarray) -> np.ndarray:
    """Step 4: erase the straight lines of squared or ruled paper, which are ink-like but not part of the digit.

    An opening with a long horizontal (then vertical) line keeps what is straight and long in that direction: ruled
    lines, and the long bars of a large digit. Only what is thin and runs from border to border (as the lines of a
    sheet do, and a digit's strokes do not) counts as a line, and becomes background; where a stroke crosses a line,
    the stroke stays.
    """
    height, width = residual.shape
    length = max(3, min(height, width) // _LINE)
    # The widths are for the 512-pixel working size; a smaller picture (a 28x28 crop, say) has proportionally
    # narrower lines, if any.
    scale = max(height, width) / _WORK_SIZE
    band = 2 * round(_LINE_TILT * scale / 2) + 1
    noise = _noise(residual)
    level = np.median(residual) + 4.0 * noise
    lines = np.zeros(residual.shape, dtype=bool)
    for axis in (1, 0):
        banded = ndimage.maximum_filter1d(residual, band, axis=1 - axis, mode="nearest")
        straight = ndimage.grey_opening(banded, size=(1, length) if axis == 1 else (length, 1), mode="nearest")
        labels, count = ndimage.label(straight > level)
        if not count:
            continue
        boxes = ndimage.find_objects(labels)
        spans = np.array([box[axis].stop - box[axis].start for box in boxes])
        thickness = ndimage.sum_labels(np.ones_like(labels), labels, np.arange(1, count + 1)) / spans
        borders = np.array([_borders_touched(box, residual.shape, band) for box in boxes])
        is_line = (borders >= 2) & (thickness <= band + _LINE_WIDTH * scale)
        # A line's level is the median of the opening along it: its faintest level over each stretch, wherever no
        # stroke lies on it. A slightly turned thin line is brighter wherever it falls on a pixel's centre, up to
        # about twice that, and has grain: all of that is line. What is brighter still is a stroke crossing the line
        # (ink covers the line, it does not add to it), and stays.
        levels = np.asarray(ndimage.median(straight, labels, np.arange(1, count + 1)))
        limit = np.concatenate([[-np.inf], np.where(is_line, 2.0 * levels + 3.0 * noise, -np.inf)])[labels]
        lines |= residual <= limit
    return np.where(lines, 0.0, residual)


def find_ink(residual: np.ndarray) -> np.ndarray:
    """Step 5: ink strength in [0, 1]: background 0, a typical ink pixel 1; raises `CourseError` if there is no digit.

    Otsu's threshold splits the values into background and ink. The digit must stand out from the paper's noise by a
    wide margin, measured against that noise rather than in fixed grey levels, so that a soft, low-contrast but clear
    photo passes and an empty sheet does not. Fainter pixels count as ink only where they continue a clear stroke
    (hysteresis, as in Canny's edge detector): this keeps the strokes' soft edges but not the paper's grain.
    """
    if np.ptp(residual) < _MIN_CONTRAST:
        raise CourseError(_NO_DIGIT)
    threshold = threshold_otsu(residual)
    strong = residual > threshold
    paper = residual[~strong]
    paper_level = np.median(paper)
    noise = _noise(paper)
    ink_level = np.median(residual[strong])
    # The test uses the clearest ink: a hairline's soft, faint edges can outnumber its core.
    if np.percentile(residual[strong], 90) - paper_level < max(_MIN_CONTRAST, _MIN_SNR * noise):
        raise CourseError(_NO_DIGIT)
    # Canny's rule of thumb puts the low threshold at about half the high one; noisy paper needs at least 3 deviations.
    noise_floor = min(max(paper_level + 3.0 * noise, (paper_level + threshold) / 2), threshold)
    ink = apply_hysteresis_threshold(residual, noise_floor, threshold)
    return np.clip((residual - noise_floor) / (ink_level - noise_floor), 0.0, 1.0) * ink


def drop_specks(ink: np.ndarray) -> np.ndarray:
    """Step 6: erase ink blobs much smaller than the largest one: dust, noise, what is left of a line.

    Pieces closer to each other than about 1/64 of the image count as one blob, so a stroke broken by a worn pen or
    a removed ruled line stays whole.
    """
    reach = 2 * -(-max(ink.shape) // 128) + 1
    labels, count = ndimage.label(ndimage.maximum_filter(ink > 0, reach), structure=np.ones((3, 3)))
    totals = np.concatenate([[0.0], ndimage.sum_labels(ink, labels, np.arange(1, count + 1))])
    return ink * (totals >= _SPECK * totals.max())[labels]


def crop(ink: np.ndarray) -> np.ndarray:
    """Step 7: cut out the ink's bounding box: the digit's position and the empty paper around it carry no meaning."""
    rows, cols = ndimage.find_objects((ink > 0).astype(np.int8))[0]
    return ink[rows, cols]


def stroke_width(ink: np.ndarray) -> float:
    """The mean width of the strokes in pixels, from the ink's area and its skeleton (centre line).

    A stroke of width w covers w pixels per pixel of its length, and its skeleton stops w/2 short of each free end:
    area = w * (skeleton length + ends * w / 2), solved for w. Counting the ends matters for thick, short strokes.
    """
    mask = ink >= 0.5
    skeleton = skeletonize(mask)
    length = skeleton.sum()
    if not length:
        return 0.0
    neighbours = ndimage.convolve(skeleton.astype(np.int8), np.ones((3, 3), dtype=np.int8), mode="constant")
    ends = np.count_nonzero(skeleton & (neighbours == 2))
    area = mask.sum()
    if not ends:
        return float(area / length)
    return float((np.sqrt(length**2 + 2.0 * ends * area) - length) / ends)


def match_stroke_width(cropped: np.ndarray) -> np.ndarray:
    """Step 8: thicken or thin the strokes to MNIST's width (1.6-3.6 pixels once the digit is 20 pixels tall).

    MNIST's writers used pens of similar widths, and its digits were all scaled to the same size, so the network has
    seen strokes of that width only. A fine pen or a 1-pixel drawing brush gives hairlines at that scale, which read
    as "1"; a thick marker fills the loops, and an 8 reads as a 3. Strokes whose width is outside MNIST's usual range
    are grown (dilation, by a distance transform) or shrunk (erosion, keeping the skeleton so no stroke vanishes) to
    the nearer end of that range, the smallest change that makes them MNIST-like; others are left as they are.
    """
    low, high = _MNIST_WIDTHS
    result = cropped
    # The width is an average over strokes of different widths, and a blob's is only roughly estimated, so thinning
    # is checked and repeated (growing by a distance transform hits its target at once).
    for _ in range(3):
        width = stroke_width(result)
        scale = _BOX / max(result.shape)
        if not width or low <= width * scale <= high:
            return result
        target = float(np.clip(width * scale, low, high))
        change = (target / scale - width) / 2  # per side, in pixels of the crop
        mask = result >= 0.5
        if change > 0:
            pad = int(np.ceil(change)) + 1  # so that the grown strokes still fit in the picture
            mask = np.pad(mask, pad)
            grown = np.clip(change + 0.5 - ndimage.distance_transform_edt(~mask), 0.0, 1.0)
            return crop(np.maximum(np.pad(result, pad), grown))
        thinned = np.clip(ndimage.distance_transform_edt(mask) + change, 0.0, 1.0)
        pen = np.clip(target / 2 / scale + 0.5 - ndimage.distance_transform_edt(~skeletonize(mask)), 0.0, 1.0)
        result = crop(np.maximum(thinned, pen * mask))
    return result


def scale_to_box(cropped: np.ndarray) -> np.ndarray:
    """Step 9: scale the crop (Lanczos) so that its longer side is 20 pixels, keeping its aspect: a "1" stays thin."""
    height, width = cropped.shape
    scale = _BOX / max(height, width)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(cropped.astype(np.float32)).resize(new_size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized, dtype=np.float64), 0.0, None)


def _window(shape: tuple[int, ...]) -> int:
    """The odd window size of the background filter: about 1/3 of the shorter side, wider than any stroke."""
    return 2 * (min(shape) // (2 * _OPENING)) + 1


def _borders_touched(box: tuple[slice, slice], shape: tuple[int, ...], near: int) -> int:
    """How many of the picture's four borders a bounding box (a pair of slices) reaches, give or take ``near``
    pixels (a line fades out at the very border of a photo)."""
    rows, cols = box
    return ((rows.start <= near) + (rows.stop >= shape[0] - near) + (cols.start <= near)
            + (cols.stop >= shape[1] - near))


def _coarse_size(shape: tuple[int, ...]) -> tuple[int, int]:
    """(width, height) of a copy 64 pixels on its longer side, for estimating the paper's level quickly."""
    height, width = shape
    scale = 64 / max(height, width)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _noise(values: np.ndarray) -> float:
    """The standard deviation of the values' noise, estimated robustly (from the median absolute deviation)."""
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def centre_by_mass(digit: np.ndarray) -> np.ndarray:
    """Place a cropped digit (float, at most 20x20, ink bright) in a black 28x28 field with its centre of mass on
    pixel (14, 14), as MNIST did; the result is uint8 with maximum 255. Step 10; chapter 4's exercise rebuilds it."""
    height, width = digit.shape
    total = digit.sum()
    centre_row = (digit.sum(axis=1) @ np.arange(height)) / total
    centre_col = (digit.sum(axis=0) @ np.arange(width)) / total
    top = int(np.clip(round(_FIELD / 2 - centre_row), 0, _FIELD - height))
    left = int(np.clip(round(_FIELD / 2 - centre_col), 0, _FIELD - width))
    field = np.zeros((_FIELD, _FIELD))
    field[top : top + height, left : left + width] = digit
    return np.rint(field * (255.0 / field.max())).astype(np.uint8)
