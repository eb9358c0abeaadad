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
