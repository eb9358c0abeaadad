"""Training-time augmentation: reproducible random variants that keep the digit, change its strokes and pose."""
import numpy as np
import pytest

from course_utils import augment
from course_utils.batching import ArrayLoader
from course_utils.tools.cli import build_parser
from course_utils.mnist import Split
from course_utils.preprocess import normalize


@pytest.fixture(scope="module")
def digits(mnist) -> np.ndarray:
    return np.asarray(mnist.train.images[:256])


def centre_of_mass(images: np.ndarray) -> np.ndarray:
    rows = np.arange(28)[None, :, None]
    return (images * rows).sum(axis=(1, 2)) / images.sum(axis=(1, 2))


def test_variants_are_reproducible_uint8_digits_that_stay_in_the_field(digits):
    first = augment.augment_batch(digits, np.random.default_rng(0))
    again = augment.augment_batch(digits, np.random.default_rng(0))
    other = augment.augment_batch(digits, np.random.default_rng(1))
    assert first.dtype == np.uint8 and first.shape == digits.shape
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert (np.abs(first.astype(int) - digits).mean(axis=(1, 2)) > 0).all()  # every image changed
    # The digit is moved a little, not lost: its ink stays, its centre moves by a few pixels at most.
    ink = first.sum(axis=(1, 2)) / digits.sum(axis=(1, 2))
    assert 0.3 < ink.min() and ink.max() < 3 and np.median(np.abs(ink - 1)) < 0.5
    assert np.abs(centre_of_mass(first) - centre_of_mass(digits)).max() < 5


def test_about_a_third_of_the_strokes_get_thinner_and_a_third_thicker(digits):
    before = (digits > 127).sum(axis=(1, 2))
    after = (augment.augment_batch(digits, np.random.default_rng(0)) > 127).sum(axis=(1, 2))
    ratio = after / before
    assert 0.2 < np.mean(ratio < 0.8) < 0.5 and 0.2 < np.mean(ratio > 1.25) < 0.5


def test_the_array_loader_augments_uint8_batches_before_normalizing(mnist):
    split = Split(mnist.train.images[:300], mnist.train.labels[:300])
    plain = list(ArrayLoader(split, 128, shuffle=True, seed=3))
    varied = list(ArrayLoader(split, 128, shuffle=True, seed=3, augment=augment.augment_batch))
    again = list(ArrayLoader(split, 128, shuffle=True, seed=3, augment=augment.augment_batch))
    for (x0, y0), (x1, y1), (x2, _) in zip(plain, varied, again, strict=True):
        np.testing.assert_array_equal(y0.numpy(), y1.numpy())
        np.testing.assert_array_equal(x1.numpy(), x2.numpy())
        assert not np.array_equal(x0.numpy(), x1.numpy())
        values = np.unique(x1.numpy())  # still on normalize's grid of 256 values, black background included
        assert values.min() == normalize(np.zeros((28, 28), np.uint8)).min() and len(values) <= 256
    assert build_parser().parse_args(["train", "--augment"]).augment
    assert not build_parser().parse_args(["train"]).augment
