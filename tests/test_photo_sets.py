"""The photo and drawing sets: reproducible, labelled right, made of test digits only, with the strokes they claim."""
import hashlib

import numpy as np
import pytest
from skimage.morphology import skeletonize

from course_utils import photo_sets


def pixels(samples):
    return [np.asarray(sample.image) for sample in samples]


@pytest.fixture(scope="module")
def photos(mnist):
    return photo_sets.photo_set(3, seed=0, test=mnist.test)


@pytest.fixture(scope="module")
def drawings(mnist):
    return photo_sets.drawing_set(3, seed=0, test=mnist.test)


def stroke_width(ink: np.ndarray) -> float:
    """The mean width of the strokes in a boolean ink mask: its area over the length of its centre lines."""
    return ink.sum() / max(skeletonize(ink).sum(), 1)


def photo_ink(image) -> np.ndarray:
    grey = np.asarray(image.convert("L"), dtype=np.float64)
    return grey < np.median(grey) - 40


def test_the_same_seed_gives_the_same_pixels_and_another_seed_other_pictures(mnist, photos, drawings):
    again = photo_sets.photo_set(3, seed=0, test=mnist.test) + photo_sets.drawing_set(3, seed=0, test=mnist.test)
    for first, second in zip(pixels(photos + drawings), pixels(again), strict=True):
        np.testing.assert_array_equal(first, second)
    other = photo_sets.photo_set(3, seed=1, conditions=("plain",), test=mnist.test)
    assert [s.index for s in other] != [s.index for s in photos[:3]]
    # A smaller set is the start of a larger one: each picture has its own generator.
    one = photo_sets.photo_set(1, seed=0, conditions=("shadow",), test=mnist.test)
    shadow = [s for s in photos if s.condition == "shadow"]
    np.testing.assert_array_equal(np.asarray(one[0].image), np.asarray(shadow[0].image))


def test_every_condition_renders_test_digits_of_its_own_with_their_labels(mnist, photos, drawings):
    for samples, conditions in ((photos, photo_sets.PHOTO_CONDITIONS), (drawings, photo_sets.DRAWING_CONDITIONS)):
        assert [s.condition for s in samples] == [c for c in conditions for _ in range(3)]
        for condition in conditions:
            chosen = list(photo_sets.digit_indices(3, condition, seed=0))
            assert [s.index for s in samples if s.condition == condition] == chosen
        for sample in samples:
            assert sample.label == mnist.test.labels[sample.index] and sample.index in photo_sets.SOURCE_INDICES
    assert len({s.index for s in photos + drawings}) == len(photos + drawings)  # no digit in two conditions
    per_condition = photo_sets.MAX_PER_CONDITION
    every = np.concatenate([photo_sets.digit_indices(per_condition, c) for c in photo_sets.ALL_CONDITIONS])
    assert len(set(every)) == len(every) == per_condition * len(photo_sets.ALL_CONDITIONS)
    assert list(photo_sets.digit_indices(5, "plain"))[:3] == list(photo_sets.digit_indices(3, "plain"))
    with pytest.raises(ValueError, match="count must be"):
        photo_sets.digit_indices(per_condition + 1, "plain")
    assert {s.image.mode for s in photos} == {"RGB"} and {s.image.size for s in drawings} == {(400, 400)}
    assert all(min(s.image.size) >= 600 for s in photos)
    with pytest.raises(ValueError, match="unknown condition"):
        photo_sets.photo_set(1, conditions=("thin_on_white",), test=mnist.test)


def test_no_set_holds_a_training_digit(mnist):
    training = {hashlib.sha1(image.tobytes()).digest() for image in mnist.train.images}
    training |= {hashlib.sha1(image.tobytes()).digest() for image in mnist.val.images}
    used = mnist.test.images[list(photo_sets.SOURCE_INDICES)]
    assert not any(hashlib.sha1(image.tobytes()).digest() in training for image in used)


def test_thin_pen_and_marker_strokes_really_differ_in_width(photos):
    width = {condition: [stroke_width(photo_ink(s.image)) for s in photos if s.condition == condition]
             for condition in ("thin_pen", "plain", "marker")}
    assert max(width["thin_pen"]) < 6 and min(width["marker"]) > 5 * max(width["thin_pen"])
    assert max(width["thin_pen"]) < min(width["plain"]) and max(width["plain"]) < min(width["marker"])


def test_drawings_have_thin_or_normal_brushes_on_white_black_or_transparent_canvases(drawings):
    for sample in drawings:
        values = np.asarray(sample.image)
        if sample.condition.endswith("transparent"):
            assert sample.image.mode == "RGBA"
            ink = values[..., 3] > 127
            assert (values[values[..., 3] == 0] == 0).all()  # transparent pixels stored as transparent black
        else:
            grey = values[..., 0]
            ink = grey > 127 if sample.condition.endswith("on_black") else grey < 128
            assert np.median(grey) == (0 if sample.condition.endswith("on_black") else 255)
        width = stroke_width(ink)
        assert width <= 4 if sample.condition.startswith("thin") else width >= 7, (sample.condition, width)
