"""Make the example "photos" of handwritten digits in work/ from MNIST test images.

The course needs a picture that looks like what a student gets by photographing a digit they wrote, to show why
`course_utils.imaging.to_mnist` is needed. These are drawn from MNIST test images, so the right answer is known:

- work/example_0.jpg: MNIST test image #30 (label 3), blue-black felt-pen ink on off-white paper, 600x800, off-centre,
  unevenly lit, with paper grain and sensor noise.
- work/example_1.jpg: MNIST test image #15 (label 5), chalk on a dark green board, 800x600, light ink on dark.
- work/example_2.png: MNIST test image #1 (label 2), dark ink on a transparent background (RGBA), 400x400, as a
  drawing app exports it; the transparent pixels are stored as transparent black.

Each digit is enlarged smoothly, thickened a little and given crisp pen-like edges. Deterministic (seed 0): running
``python tools/make_example_image.py`` again writes the same files (given the same Pillow). The MNIST file is read
with gzip and numpy only, from $COURSE_DATA_DIR (default /work/shared/mnist). The paper's noise is
`course_utils.photo_sets.smooth_noise`, shared with the evaluation sets, which render many more such photos.
"""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from course_utils.photo_sets import smooth_noise

ROOT = Path(__file__).resolve().parent.parent
MNIST_TEST_IMAGES = Path(os.environ.get("COURSE_DATA_DIR", "/work/shared/mnist")) / "t10k-images-idx3-ubyte.gz"
SEED = 0


def mnist_test_image(index: int, path: Path = MNIST_TEST_IMAGES) -> np.ndarray:
    """One 28x28 uint8 image of the MNIST test set (white digit on black)."""
    with gzip.open(path, "rb") as f:
        data = np.frombuffer(f.read(), dtype=np.uint8, offset=16)
    return data.reshape(-1, 28, 28)[index]


def pen_stroke(digit: np.ndarray, height: int, angle: float) -> np.ndarray:
    """Ink coverage in [0, 1] of the digit drawn ``height`` pixels tall: smooth, a little thicker, crisp edges."""
    big = Image.fromarray(digit).resize((height, height), Image.Resampling.BICUBIC)
    big = big.filter(ImageFilter.MaxFilter(3)).filter(ImageFilter.GaussianBlur(height / 150))
    big = big.rotate(angle, resample=Image.Resampling.BICUBIC)
    return np.clip((np.asarray(big, dtype=np.float64) / 255.0 - 0.4) / 0.25, 0.0, 1.0)


def place(stroke: np.ndarray, shape: tuple[int, int], top: int, left: int) -> np.ndarray:
    """The stroke pasted into an empty (0) canvas of ``shape`` with its top-left corner at (top, left)."""
    canvas = np.zeros(shape)
    canvas[top : top + stroke.shape[0], left : left + stroke.shape[1]] = stroke
    return canvas


def paper_photo(rng: np.random.Generator) -> Image.Image:
    """Blue-black felt pen on off-white paper, lit from the top left."""
    height, width = 800, 600
    ink = place(pen_stroke(mnist_test_image(30), 400, angle=-4.0), (height, width), top=300, left=40)
    rows, cols = np.mgrid[0:height, 0:width]
    y, x = rows / height, cols / width
    light = 1.0 - 0.10 * (y + x) / 2 - 0.05 * ((x - 0.5) ** 2 + (y - 0.5) ** 2)
    grain = 3.0 * smooth_noise(rng, (height, width), 1.5)
    paper = np.array([238.0, 234.0, 224.0]) * light[..., None] + grain[..., None]
    pen = np.array([48.0, 56.0, 92.0]) + 5.0 * smooth_noise(rng, (height, width), 25.0)[..., None]
    coverage = 0.95 * ink[..., None]
    rgb = paper * (1 - coverage) + pen * coverage + rng.normal(0.0, 2.5, (height, width, 3))
    return Image.fromarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.6))


def chalkboard_photo(rng: np.random.Generator) -> Image.Image:
    """White chalk on a dark green board, with the grain of chalk and old wiped-off smudges."""
    height, width = 600, 800
    ink = place(pen_stroke(mnist_test_image(15), 420, angle=3.0), (height, width), top=70, left=380)
    grain = np.clip(0.75 + 0.35 * rng.normal(0.0, 1.0, (height, width)), 0.0, 1.0)
    coverage = (ink * grain)[..., None]
    board = np.array([38.0, 56.0, 46.0]) * (1 + 0.12 * smooth_noise(rng, (height, width), 40.0)[..., None])
    board = board + 6.0 * np.clip(smooth_noise(rng, (height, width), 12.0), 0, None)[..., None]
    chalk = np.array([226.0, 230.0, 222.0])
    rgb = board * (1 - coverage) + chalk * coverage + rng.normal(0.0, 3.0, (height, width, 3))
    return Image.fromarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.7))


def transparent_drawing() -> Image.Image:
    """Dark ink on a transparent background, as exported by a drawing app: RGBA, transparent pixels stored as black."""
    ink = place(pen_stroke(mnist_test_image(1), 300, angle=0.0), (400, 400), top=60, left=30)
    rgba = np.zeros((400, 400, 4), dtype=np.uint8)
    rgba[..., :3] = (20, 20, 30)
    rgba[..., 3] = np.rint(ink * 255).astype(np.uint8)
    rgba[rgba[..., 3] == 0] = 0
    return Image.fromarray(rgba)


def main() -> None:
    """Write the three example images into work/."""
    rng = np.random.default_rng(SEED)
    work = ROOT / "work"
    work.mkdir(exist_ok=True)
    paper_photo(rng).save(work / "example_0.jpg", quality=85, optimize=True)
    chalkboard_photo(rng).save(work / "example_1.jpg", quality=85, optimize=True)
    transparent_drawing().save(work / "example_2.png", optimize=True)
    for name in ("example_0.jpg", "example_1.jpg", "example_2.png"):
        print(f"{work / name}: {(work / name).stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
