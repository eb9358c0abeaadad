"""Tests for course_utils.imaging: reading students' image files and turning photos of digits into MNIST images.

The central check photographs real MNIST test digits synthetically (enlarged, dark on light paper, off-centre, uneven
light, noise, JPEG) and requires `to_mnist` to give back the original 28x28 image.
"""
from __future__ import annotations

import gzip
import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from course_utils import imaging
from course_utils.errors import CourseError
from course_utils.imaging import image_file_to_mnist, load_image, to_mnist
from course_utils.preprocess import normalize
from course_utils.settings import PROJECT_ROOT

EXAMPLES = {"example_0.jpg": 30, "example_1.jpg": 15, "example_2.png": 1}
"""The committed example images and the MNIST test image each was made from (tools/make_example_image.py)."""


@pytest.fixture(scope="module")
def mnist_test() -> tuple[np.ndarray, np.ndarray]:
    """The MNIST test images [10000, 28, 28] and labels, read straight from the IDX files."""
    folder = Path(os.environ.get("COURSE_DATA_DIR", "/work/shared/mnist"))
    images, labels = folder / "t10k-images-idx3-ubyte.gz", folder / "t10k-labels-idx1-ubyte.gz"
    if not images.exists():
        pytest.skip(f"MNIST test images not found in {folder}")
    with gzip.open(images) as f:
        pixels = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(labels) as f:
        return pixels, np.frombuffer(f.read(), dtype=np.uint8, offset=8)


def photograph(
    digit: np.ndarray,
    *,
    scale: int = 14,
    size: tuple[int, int] = (600, 800),
    top: int = 330,
    left: int = 150,
    dark_ink: bool = True,
    shadow: bool = False,
    seed: int = 0,
) -> Image.Image:
    """A JPEG "photo" of an MNIST digit: enlarged ``scale`` times, placed at (top, left) on a ``size`` (width, height)
    sheet lit unevenly, with sensor noise. Dark ink on light paper, or light on dark; optionally a hard shadow."""
    rng = np.random.default_rng(seed)
    width, height = size
    big = Image.fromarray(digit).resize((28 * scale, 28 * scale), Image.Resampling.BICUBIC)
    ink = np.zeros((height, width))
    ink[top : top + 28 * scale, left : left + 28 * scale] = np.asarray(big, dtype=np.float64) / 255
    rows, cols = np.mgrid[0:height, 0:width]
    light = 1.0 - 0.25 * cols / width
    if shadow:  # the sharp-edged shadow of a phone or a hand over the lower right part
        light = light * (1.0 - 0.45 / (1.0 + np.exp(-(cols - 0.5 * rows - 200) / 5.0)))
    paper, pen = (230.0, 40.0) if dark_ink else (45.0, 215.0)
    pixels = light * (paper * (1 - ink) + pen * ink) + rng.normal(0.0, 4.0, ink.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=85)
    return Image.open(io.BytesIO(buffer.getvalue()))


def similarity(image: np.ndarray, reference: np.ndarray) -> float:
    """Correlation of two 28x28 images, the best over shifts of at most one pixel.

    MNIST placed each digit by rounding its centre of mass to a whole pixel, so a one-pixel offset is within the
    tolerance of the method itself (a centre of mass at 13.5 may round either way).
    """
    reference = reference.astype(np.float64).ravel()
    shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    shifted = (np.roll(image, shift, axis=(0, 1)).astype(np.float64).ravel() for shift in shifts)
    return max(float(np.corrcoef(candidate, reference)[0, 1]) for candidate in shifted)


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(row, column) of the image's centre of mass, in pixel indices."""
    weights = image.astype(np.float64)
    total = weights.sum()
    return weights.sum(axis=1) @ np.arange(28) / total, weights.sum(axis=0) @ np.arange(28) / total


def bounding_box(image: np.ndarray) -> tuple[int, int]:
    """Height and width of the box around the nonzero pixels."""
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def picture_in_mode(digit: np.ndarray, mode: str) -> Image.Image:
    """A 200x200 picture of an MNIST digit, dark on white, in the given Pillow mode (RGBA: on transparent black)."""
    ink = np.asarray(Image.fromarray(digit).resize((200, 200), Image.Resampling.BICUBIC), dtype=np.float64) / 255
    paper = 255.0 * (1 - ink)
    if mode == "RGBA":
        rgba = np.zeros((200, 200, 4), dtype=np.uint8)
        rgba[..., 3] = np.rint(255 * ink).astype(np.uint8)  # transparent pixels store black, as drawing apps do
        return Image.fromarray(rgba)
    if mode == "I;16":
        return Image.fromarray(np.rint(paper * 257).astype(np.uint16))
    if mode == "1":
        return Image.fromarray(paper > 127)
    gray = Image.fromarray(np.rint(paper).astype(np.uint8))
    if mode == "RGB":
        return Image.merge("RGB", (gray, gray, gray.point(lambda v: min(255, v + 30))))
    return gray.convert(mode)


@pytest.mark.parametrize(
    ("mode", "extension"),
    [
        ("L", "jpg"), ("RGB", "jpg"),
        ("L", "png"), ("RGB", "png"), ("RGBA", "png"), ("P", "png"), ("I;16", "png"), ("1", "png"),
        ("L", "bmp"), ("RGB", "bmp"), ("P", "bmp"), ("1", "bmp"),
    ],
)
def test_every_mode_and_format_reads_and_converts(tmp_path, mnist_test, mode, extension):
    images, _ = mnist_test
    path = tmp_path / f"digit_{mode.replace(';', '_')}.{extension}"
    picture_in_mode(images[3], mode).save(path)

    image = load_image(path)

    assert image.mode in ("L", "RGB")
    assert image.size == (200, 200)
    assert similarity(image_file_to_mnist(path), images[3]) > 0.9
    assert similarity(to_mnist(Image.open(path)), images[3]) > 0.9  # to_mnist takes any mode directly too


def test_light_ink_on_transparent_background_goes_on_black(mnist_test):
    images, _ = mnist_test
    rgba = np.zeros((200, 200, 4), dtype=np.uint8)
    rgba[..., :3] = 255  # white ink; the transparent pixels store white too, so only the alpha channel shows the digit
    rgba[..., 3] = np.asarray(Image.fromarray(images[5]).resize((200, 200), Image.Resampling.BICUBIC))
    assert similarity(to_mnist(Image.fromarray(rgba)), images[5]) > 0.9


def test_exif_orientation_is_applied(tmp_path):
    stored = np.full((40, 60), 255, dtype=np.uint8)
    stored[:10, :10] = 0  # a mark in the top-left corner of the stored pixels
    image = Image.fromarray(stored)
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    path = tmp_path / "sideways.jpg"
    image.save(path, exif=exif, quality=95)

    upright = np.asarray(load_image(path))

    assert upright.shape == (60, 40)
    assert upright[:10, -10:].mean() < 60  # the mark is now top right
    assert upright[:10, :10].mean() > 200


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [("missing.jpg", None, "not found"), ("empty.jpg", "", "empty"), ("notes.jpg", "not a picture\n", "not an image")],
)
def test_unreadable_files_raise_course_error_naming_the_file(tmp_path, name, content, expected):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(CourseError) as error:
        load_image(path)
    message = str(error.value)
    assert name in message and expected in message
    assert "\n" not in message


def test_folder_and_truncated_file_raise_course_error(tmp_path):
    with pytest.raises(CourseError, match="folder"):
        load_image(tmp_path)
    whole = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 300), dtype=np.uint8)).save(whole, "JPEG")
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    with pytest.raises(CourseError, match="cut.jpg"):
        load_image(truncated)


def test_too_large_images_are_refused(tmp_path, monkeypatch):
    path = tmp_path / "huge.png"
    Image.new("L", (40, 30), 255).save(path)
    monkeypatch.setattr(imaging, "MAX_PIXELS", 1000)
    with pytest.raises(CourseError, match="huge.png.*too large"):
        load_image(path)


@pytest.mark.parametrize("pillow_limit", [1000, 500], ids=["bomb-warning", "bomb-error"])
def test_pillow_decompression_bomb_checks_become_course_errors(tmp_path, monkeypatch, pillow_limit):
    path = tmp_path / "bomb.png"
    Image.new("L", (40, 30), 255).save(path)  # 1200 pixels: over the limit (warning), or over twice it (error)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", pillow_limit)
    with pytest.raises(CourseError, match="bomb.png.*too large"):
        load_image(path)


@pytest.mark.parametrize("kind", ["white", "noisy-paper", "gradient", "shadow"])
def test_blank_images_have_no_digit(tmp_path, kind):
    rng = np.random.default_rng(1)
    rows, cols = np.mgrid[0:400, 0:300]
    paper = {
        "white": np.full((400, 300), 255.0),
        "noisy-paper": 200 + rng.normal(0, 10, (400, 300)),
        "gradient": 90 + 150 * cols / 300 + rng.normal(0, 4, (400, 300)),
        "shadow": 220 - 100 / (1 + np.exp(-(cols - 0.5 * rows - 100) / 5.0)) + rng.normal(0, 4, (400, 300)),
    }[kind]
    path = tmp_path / f"{kind}.jpg"
    Image.fromarray(np.clip(paper, 0, 255).astype(np.uint8)).save(path)
    with pytest.raises(CourseError, match="no digit found"):
        to_mnist(load_image(path))
    with pytest.raises(CourseError, match=f"{kind}.jpg: no digit found"):
        image_file_to_mnist(path)


DIGITS = [3, 2, 1, 18, 4, 8, 11, 0, 61, 7]
"""One MNIST test image of each label 0-9."""


def test_photos_of_mnist_digits_come_back_as_the_original(mnist_test):
    images, labels = mnist_test
    assert sorted(labels[DIGITS]) == list(range(10))
    scores = []
    for index in DIGITS:
        result = to_mnist(photograph(images[index], seed=index))
        assert result.dtype == np.uint8 and result.shape == (28, 28) and result.max() == 255
        row, col = centre_of_mass(result)
        assert abs(row - 14) <= 0.55 and abs(col - 14) <= 0.55, (index, row, col)
        assert max(bounding_box(result)) == 20
        scores.append(similarity(result, images[index]))
    print("similarity per digit 0-9:", np.round(scores, 3))
    assert min(scores) > 0.85 and np.mean(scores) > 0.93, np.round(scores, 3)


@pytest.mark.parametrize(
    "photo_options",
    [
        {"dark_ink": False},
        {"shadow": True, "top": 200, "left": 100},
        {"scale": 3, "top": 600, "left": 20},
        {"scale": 21, "top": 200, "left": 10},
    ],
    ids=["light-ink-on-dark", "hard-shadow", "small-in-corner", "filling-the-frame"],
)
def test_harder_photos_still_come_back(mnist_test, photo_options):
    images, _ = mnist_test
    scores = [similarity(to_mnist(photograph(images[i], **photo_options)), images[i]) for i in (2, 8, 18)]
    assert min(scores) > 0.85, np.round(scores, 3)


def test_specks_away_from_the_digit_are_ignored(mnist_test):
    images, _ = mnist_test
    clean = np.asarray(photograph(images[7]))
    dusty = clean.copy()
    dusty[50:56, 50:56] = 20
    dusty[700:704, 500:504] = 20
    dusty[400:405, 20:25] = 20
    assert similarity(to_mnist(dusty), to_mnist(clean)) > 0.97


def test_a_tall_one_stays_tall():
    paper = np.full((800, 600), 225, dtype=np.uint8)
    for row in range(150, 650):  # a slightly slanted stroke, 500 pixels tall and 24 wide
        shift = (650 - row) // 20
        paper[row, 280 + shift : 304 + shift] = 40
    height, width = bounding_box(to_mnist(paper))
    assert height == 20
    assert 2 <= width <= 8


def test_arrays_are_accepted(mnist_test):
    images, _ = mnist_test
    digit = images[4]
    assert similarity(to_mnist(digit), digit) > 0.99  # an MNIST image is already in the right form
    assert similarity(to_mnist(1.0 - digit / 255.0), digit) > 0.99  # floats in [0, 1], dark on light
    rgb = np.repeat((255 - digit)[:, :, None], 3, axis=2)
    assert similarity(to_mnist(rgb), digit) > 0.99
    with pytest.raises(ValueError, match="shape"):
        to_mnist(np.zeros((2, 28, 28)))


def test_output_feeds_the_one_normalization(mnist_test):
    images, _ = mnist_test
    batch = normalize(to_mnist(photograph(images[0])))
    assert batch.shape == (1, 1, 28, 28) and batch.dtype == np.float32


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_images_look_like_photos_and_give_their_digit(mnist_test, name):
    images, _ = mnist_test
    path = PROJECT_ROOT / "work" / name
    with Image.open(path) as raw:
        assert min(raw.size) >= 400 and raw.mode in ("RGB", "RGBA")  # a photo or drawing, not a 28x28 crop
    assert path.stat().st_size < 100_000
    assert similarity(image_file_to_mnist(path), images[EXAMPLES[name]]) > 0.9


def test_steps_show_the_pipeline_and_end_in_the_result():
    steps = imaging.to_mnist_steps(Image.open(PROJECT_ROOT / "work" / "example_0.jpg"))
    names = [name for name, _ in steps]
    assert names == ["grey", "ink made bright", "background removed", "ruled lines removed", "ink found",
                     "specks dropped", "cropped", "stroke width matched", "20 px box", "centred 28x28"]
    grey, bright = steps[0][1], steps[1][1]
    assert np.median(grey) > 128 > np.median(bright)  # dark ink on light paper was inverted
    assert max(steps[8][1].shape) == 20
    np.testing.assert_array_equal(steps[-1][1], image_file_to_mnist(PROJECT_ROOT / "work" / "example_0.jpg"))


def drawn(digit: np.ndarray, brush: float, *, scale: int = 12, canvas: int = 400) -> np.ndarray:
    """A drawing of an MNIST digit, dark on white: its centre line (skeleton) traced with a round brush of the given
    diameter in pixels, on a ``canvas`` x ``canvas`` sheet, as a mouse or tablet drawing or a pen of that width."""
    from scipy import ndimage
    from skimage.morphology import skeletonize

    big = np.asarray(Image.fromarray(digit).resize((28 * scale, 28 * scale), Image.Resampling.BICUBIC)) > 127
    distance = ndimage.distance_transform_edt(~skeletonize(big))
    ink = np.clip(brush / 2 + 0.5 - distance, 0.0, 1.0)
    sheet = np.zeros((canvas, canvas))
    offset = (canvas - 28 * scale) // 2
    sheet[offset : offset + 28 * scale, offset : offset + 28 * scale] = ink
    return np.rint(255 * (1 - sheet)).astype(np.uint8)


def width_at_box_scale(ink: np.ndarray) -> float:
    """`imaging.stroke_width` of a crop, converted to pixels of the 20x20 box the crop will be scaled into."""
    return imaging.stroke_width(ink) * 20 / max(ink.shape)


def test_mnist_stroke_widths_are_what_the_range_says(mnist_test):
    images, _ = mnist_test
    widths = []
    for digit in images[:300]:
        big = np.asarray(Image.fromarray(digit).resize((112, 112), Image.Resampling.BICUBIC), dtype=np.float64) / 255
        widths.append(width_at_box_scale(imaging.crop(np.where(big > 0.05, big, 0.0))))
    low, high = np.percentile(widths, [5, 95])
    assert abs(low - imaging._MNIST_WIDTHS[0]) < 0.25 and abs(high - imaging._MNIST_WIDTHS[1]) < 0.4, (low, high)


def test_mnist_digits_keep_their_strokes(mnist_test):
    images, _ = mnist_test
    unchanged = 0
    for digit in images[:100]:
        cropped = imaging.crop(digit / 255.0)
        unchanged += np.array_equal(imaging.match_stroke_width(cropped), cropped)
    assert unchanged >= 80  # only MNIST's own thinnest and thickest 5% each are adjusted


@pytest.mark.parametrize("index", [2, 8, 18])  # a 1, an 8 and a 3
def test_thin_strokes_are_thickened_to_mnist_width(mnist_test, index):
    images, _ = mnist_test
    cropped = imaging.crop(imaging.drop_specks(imaging.find_ink(imaging.remove_background(
        imaging.make_ink_bright(imaging.to_grey(drawn(images[index], brush=1.5)))))))
    assert width_at_box_scale(cropped) < 1.0  # a hairline once the digit is 20 pixels tall
    assert imaging._MNIST_WIDTHS[0] - 0.2 <= width_at_box_scale(imaging.match_stroke_width(cropped)) <= 2.5
    assert similarity(to_mnist(drawn(images[index], brush=1.5)), images[index]) > 0.7  # the same digit, redrawn


@pytest.mark.parametrize("index", [2, 8, 18])
def test_thick_strokes_are_thinned_to_mnist_width(mnist_test, index):
    images, _ = mnist_test
    marker = drawn(images[index], brush=80)
    cropped = imaging.crop(imaging.find_ink(imaging.remove_background(imaging.make_ink_bright(imaging.to_grey(marker)))))
    assert width_at_box_scale(cropped) > 5.0
    low, high = imaging._MNIST_WIDTHS
    assert low <= width_at_box_scale(imaging.match_stroke_width(cropped)) <= high + 0.3
    assert similarity(to_mnist(marker), images[index]) > 0.75


def test_grid_lines_are_removed_and_the_digit_kept(mnist_test):
    images, _ = mnist_test
    photo = np.asarray(photograph(images[18]), dtype=np.float64)
    squared = photo.copy()
    rows, cols = np.mgrid[0 : photo.shape[0], 0 : photo.shape[1]]
    on_line = ((rows + cols // 60) % 40 < 3) | ((cols - rows // 60) % 40 < 3)  # a 40-pixel grid, turned ~1 degree
    squared[on_line] -= 70
    squared = np.clip(squared, 0, 255).astype(np.uint8)
    residual = imaging.remove_background(imaging.make_ink_bright(imaging.to_grey(squared)))
    unruled = imaging.remove_lines(residual)
    # Above the digit (photographed below row 330 of 800, row 211 of 512), off the picture's border, where the
    # lines' pieces cut by the border are too short to be seen as straight lines.
    far_from_digit = (slice(10, 150), slice(10, -10))
    plain = imaging.remove_background(imaging.make_ink_bright(imaging.to_grey(photo.astype(np.uint8))))
    paper_grain = plain[far_from_digit].max()
    assert residual[far_from_digit].max() > paper_grain + 30  # the lines were there
    assert unruled[far_from_digit].max() < paper_grain + 10  # and are gone, down to about the paper's own grain
    assert similarity(to_mnist(squared), images[18]) > 0.85
    assert similarity(to_mnist(squared), to_mnist(photo.astype(np.uint8))) > 0.9


def test_a_shadow_over_most_of_the_sheet_is_not_ink(mnist_test):
    images, _ = mnist_test
    rows, cols = np.mgrid[0:800, 0:600]
    paper = np.where(cols - 0.3 * rows > 250, 230.0, 110.0)  # the lit part: the top right corner only
    big = np.asarray(Image.fromarray(images[7]).resize((224, 224), Image.Resampling.BICUBIC)) / 255.0
    ink = np.zeros((800, 600))
    ink[40:264, 340:564] = big
    photo = np.clip(paper * (1 - ink) + 35 * ink + np.random.default_rng(0).normal(0, 4, ink.shape), 0, 255)
    photo = photo.astype(np.uint8)
    assert np.median(photo) < 128  # the shadow is what most of the sheet looks like
    bright = imaging.make_ink_bright(imaging.to_grey(photo))
    assert bright[:20, 365:].mean() < 60  # the lit paper was made dark although the median grey is the shadow's
    result = to_mnist(photo)
    assert similarity(result, images[7]) > 0.85


@pytest.mark.parametrize("slope", [0.5, 0.75, 1.0])
def test_a_shadow_edge_meeting_the_border_at_a_sharp_angle_does_not_flip_the_ink(slope):
    # The lit part is a narrow wedge in the lower left corner; a median filter rounds off such corners, so the paper
    # there looks like light "ink" on one side only. Weighing the whole page made thin dark strokes lose to it.
    rows, cols = np.mgrid[0:800, 0:600]
    paper = np.where(cols < slope * (rows - 250), 235.0, 150.0)
    stroke = (np.abs((cols - 380) + 0.35 * (rows - 300)) < 5) & (rows > 150) & (rows < 450)
    photo = paper * (1 - 0.75 * stroke) + np.random.default_rng(0).normal(0, 3, paper.shape)
    grey = imaging.to_grey(np.clip(photo, 0, 255).astype(np.uint8))
    assert not np.array_equal(imaging.make_ink_bright(grey), grey.astype(np.float64))  # inverted: the ink is dark


def test_a_digit_running_off_the_picture_keeps_its_polarity(mnist_test):
    images, _ = mnist_test
    big = np.asarray(Image.fromarray(images[2]).resize((700, 700), Image.Resampling.BICUBIC)) / 255.0
    cut = big[40:540, 170:570]  # the 1 reaches the top and bottom borders
    photo = np.clip(230 * (1 - cut) + 40 * cut + np.random.default_rng(0).normal(0, 3, cut.shape), 0, 255)
    grey = imaging.to_grey(photo.astype(np.uint8))
    assert not np.array_equal(imaging.make_ink_bright(grey), grey.astype(np.float64))  # inverted: dark ink


def test_a_soft_low_contrast_digit_is_accepted(mnist_test):
    from scipy import ndimage

    images, _ = mnist_test
    big = np.asarray(Image.fromarray(images[8]).resize((392, 392), Image.Resampling.BICUBIC)) / 255.0
    ink = np.zeros((800, 600))
    ink[200:592, 100:492] = ndimage.gaussian_filter(big, 8)  # out of focus
    photo = 190 - 28 * ink + np.random.default_rng(0).normal(0, 3, ink.shape)  # a faint pencil: 28 grey levels
    assert similarity(to_mnist(np.clip(photo, 0, 255).astype(np.uint8)), images[8]) > 0.85


def test_the_public_steps_chained_give_to_mnist(mnist_test):
    images, _ = mnist_test
    photo = photograph(images[11])
    result = imaging.to_grey(photo)
    for step in (imaging.make_ink_bright, imaging.remove_background, imaging.remove_lines, imaging.find_ink,
                 imaging.drop_specks, imaging.crop, imaging.match_stroke_width, imaging.scale_to_box,
                 imaging.centre_by_mass):
        result = step(result)
    np.testing.assert_array_equal(result, to_mnist(photo))


def test_a_hairline_with_faint_antialiasing_is_a_digit():
    rgba = np.zeros((400, 400, 4), dtype=np.uint8)  # a drawing app's transparent canvas: transparent black
    rgba[80:320, 200, :3] = rgba[80:320, 199, :3] = rgba[80:320, 201, :3] = 20
    rgba[80:320, 200, 3] = 255  # the brush's one-pixel core...
    rgba[80:320, 199, 3] = rgba[80:320, 201, 3] = 12  # ...and its faint edges, twice as many pixels
    height, width = bounding_box(to_mnist(Image.fromarray(rgba)))
    assert height == 20 and width <= 4


def test_upscaled_mnist_digits_come_back_nearly_unchanged(mnist_test):
    images, _ = mnist_test
    scores = []
    for digit in images[100:140]:
        scan = np.asarray(Image.fromarray(255 - digit).resize((280, 280), Image.Resampling.BICUBIC))  # dark on white
        scores.append(similarity(to_mnist(scan), digit))
    assert min(scores) > 0.8 and np.mean(scores) > 0.95, np.round(scores, 3)
