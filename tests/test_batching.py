import numpy as np
import pytest

from course_utils.batching import ArrayLoader, MnistDataset, make_dataloader, random_shift
from course_utils.mnist import Split
from course_utils.preprocess import MEAN, STD, normalize


@pytest.fixture(scope="module")
def small(mnist) -> Split:
    return Split(mnist.train.images[:1000], mnist.train.labels[:1000])


def test_dataset_returns_one_normalized_sample(small):
    image, label = MnistDataset(small)[3]
    assert image.shape == (1, 28, 28) and image.dtype == np.float32
    np.testing.assert_array_equal(image, normalize(small.images[3])[0])
    assert label == small.labels[3]


def test_dataloader_and_array_loader_yield_the_same_tensors(small):
    slow = list(make_dataloader(small, batch_size=300))
    fast = list(ArrayLoader(small, batch_size=300))
    assert [len(y) for _, y in fast] == [300, 300, 300, 100]  # the last, shorter batch is kept
    assert len(slow) == len(fast)
    for (x1, y1), (x2, y2) in zip(slow, fast):
        assert x1.shape == x2.shape == [len(y2), 1, 28, 28]
        np.testing.assert_array_equal(x1.numpy(), x2.numpy())
        np.testing.assert_array_equal(y1.numpy().ravel(), y2.numpy())
        assert str(x1.dtype) == str(x2.dtype) and str(y2.dtype) == "paddle.int64"


def labels_of_one_pass(loader: ArrayLoader) -> np.ndarray:
    return np.concatenate([y.numpy() for _, y in loader])


def test_every_pass_is_a_new_epoch_in_a_new_order(small):
    """As with DataLoader(shuffle=True), a plain `for` loop over the loader reshuffles on every pass."""
    loader = ArrayLoader(small, batch_size=128, shuffle=True, seed=1)
    first, second, third = (labels_of_one_pass(loader) for _ in range(3))
    assert sorted(first) == sorted(second) == sorted(third) == sorted(small.labels)  # every image once per pass
    assert not np.array_equal(first, second) and not np.array_equal(second, third)
    assert loader.epoch == 3


def test_same_seed_same_epochs_and_set_epoch_resumes_the_sequence(small):
    loader = ArrayLoader(small, batch_size=128, shuffle=True, seed=1)
    passes = [labels_of_one_pass(loader) for _ in range(3)]
    fresh = ArrayLoader(small, batch_size=128, shuffle=True, seed=1)
    np.testing.assert_array_equal(labels_of_one_pass(fresh), passes[0])  # reproducible
    fresh.set_epoch(2)
    np.testing.assert_array_equal(labels_of_one_pass(fresh), passes[2])  # a resumed run continues the sequence
    fresh.set_epoch(1)
    next(iter(fresh))  # a pass left after one batch (e.g. a capped number of steps) still counts as an epoch
    np.testing.assert_array_equal(labels_of_one_pass(fresh), passes[2])


def test_set_epoch_gives_the_order_train_model_has_always_used(small):
    """train_model calls set_epoch(1) before its first epoch: that order is a permutation drawn from [seed, 1]."""
    loader = ArrayLoader(small, batch_size=128, shuffle=True, seed=0)
    loader.set_epoch(1)
    expected = small.labels[np.random.default_rng([0, 1]).permutation(len(small))]
    np.testing.assert_array_equal(labels_of_one_pass(loader), expected)


def test_without_shuffle_every_pass_yields_the_same_batches(small):
    loader = ArrayLoader(small, batch_size=128)
    np.testing.assert_array_equal(labels_of_one_pass(loader), small.labels)
    np.testing.assert_array_equal(labels_of_one_pass(loader), small.labels)


def test_drop_last_and_len(small):
    loader = ArrayLoader(small, batch_size=300, drop_last=True)
    assert len(loader) == 3 == len(list(loader))
    assert len(ArrayLoader(small, batch_size=300)) == 4


def test_ranks_split_each_epoch_without_overlap(small):
    shares = []
    for rank in range(2):
        loader = ArrayLoader(small, batch_size=64, shuffle=True, seed=5, rank=rank, world_size=2)
        batches = list(loader)
        assert len(batches) == len(loader)
        shares.append(np.concatenate([x.numpy() for x, _ in batches]))
    assert len(shares[0]) + len(shares[1]) == len(small)
    everything = np.concatenate(shares).reshape(len(small), -1)
    assert len(np.unique(everything, axis=0)) == len(np.unique(normalize(small.images).reshape(len(small), -1), axis=0))


def test_random_shift_moves_digits_and_pads_with_background(small):
    images = normalize(small.images[:50])
    shifted = random_shift(images, 2, np.random.default_rng(0))
    assert shifted.shape == images.shape
    background = -MEAN / STD
    # Every output is the input moved by (dy, dx) in [-2, 2]: find that offset for each and check it exactly.
    for original, moved in zip(images[:, 0], shifted[:, 0]):
        padded = np.pad(original, 2, constant_values=background)
        matches = [
            (dy, dx) for dy in range(5) for dx in range(5) if np.array_equal(padded[dy : dy + 28, dx : dx + 28], moved)
        ]
        assert matches
    assert not np.array_equal(shifted, images)
