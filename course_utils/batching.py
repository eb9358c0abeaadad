"""Turning MNIST arrays into mini-batches, two ways that yield the same tensors.

- ``MnistDataset`` + ``paddle.io.DataLoader`` is Paddle's standard input pipeline: a dataset returns one normalized
  sample, the loader collates samples into batches. Worth learning: it carries over to any data set.
- ``ArrayLoader`` normalizes the whole array once and slices batches out of it. MNIST fits in memory, so this skips
  the per-sample Python work that made the original tutorial slow, and it is what training uses.

Both shuffle the training order anew on every pass (epoch) and keep the last, shorter batch unless ``drop_last`` is
set. Both accept ``rank``/``world_size`` so that each process of a data-parallel run sees its own share of every epoch.
"""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import paddle

from .mnist import Split
from .preprocess import MEAN, STD, normalize

Batch = tuple[paddle.Tensor, paddle.Tensor]

_BACKGROUND = np.float32(-MEAN / STD)
"""What a black (0) pixel becomes after normalization: used to pad shifted images."""


class MnistDataset(paddle.io.Dataset):
    """One normalized sample at a time: ``(image float32 [1, 28, 28], label int64)``."""

    def __init__(self, split: Split) -> None:
        super().__init__()
        self.split = split

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return normalize(self.split.images[index])[0], self.split.labels[index]

    def __len__(self) -> int:
        return len(self.split)


def make_dataloader(
    split: Split,
    batch_size: int = 128,
    *,
    shuffle: bool = False,
    drop_last: bool = False,
    rank: int = 0,
    world_size: int = 1,
) -> paddle.io.DataLoader:
    """A ``paddle.io.DataLoader`` over ``split``; with ``world_size > 1`` a ``DistributedBatchSampler`` shards it."""
    dataset = MnistDataset(split)
    if world_size > 1:
        sampler = paddle.io.DistributedBatchSampler(
            dataset, batch_size, num_replicas=world_size, rank=rank, shuffle=shuffle, drop_last=drop_last
        )
        return paddle.io.DataLoader(dataset, batch_sampler=sampler)
    return paddle.io.DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last)


class ArrayLoader:
    """Batches sliced from an array normalized once: a fast drop-in for the DataLoader when data fits in memory.

    Each iteration is one epoch, and each starts a new one: like ``DataLoader(shuffle=True)``, ``for images, labels
    in loader`` gives a new order on every pass (and new random shifts or variants). The order is drawn from ``seed``
    and the epoch number, which counts the passes from 0; ``set_epoch`` chooses it, as with Paddle's
    ``DistributedBatchSampler``, so a resumed run continues the same sequence. The same seed therefore gives the same
    sequence of epochs, and every process of a data-parallel run draws the same permutation before taking its own
    share (every ``world_size``-th index from ``rank``). Without ``shuffle`` every pass yields the same batches in
    file order. ``shift`` > 0 moves each training image by up to that many pixels at random (data augmentation).
    ``augment`` (e.g. ``augment.augment_batch``) turns each batch's uint8 images into random variants, drawn from the
    same generator, before they are normalized.
    """

    def __init__(
        self,
        split: Split,
        batch_size: int = 128,
        *,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
        shift: int = 0,
        augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.images = normalize(split.images)
        self.labels = np.asarray(split.labels, dtype=np.int64)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.shift = shift
        self.augment = augment
        self.raw = split.images
        self.rank = rank
        self.world_size = world_size
        self.seed = int(np.random.SeedSequence().entropy) if seed is None else seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose which epoch's order the next iteration yields; the passes after it count on from there."""
        self.epoch = epoch

    def __len__(self) -> int:
        count = len(range(self.rank, len(self.labels), self.world_size))
        return count // self.batch_size if self.drop_last else -(-count // self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1  # the next pass is the next epoch, even if this one is left early
        order = rng.permutation(len(self.labels)) if self.shuffle else np.arange(len(self.labels))
        order = order[self.rank :: self.world_size]
        stop = len(order) - len(order) % self.batch_size if self.drop_last else len(order)
        for start in range(0, stop, self.batch_size):
            index = order[start : start + self.batch_size]
            images = normalize(self.augment(self.raw[index], rng)) if self.augment else self.images[index]
            if self.shift:
                images = random_shift(images, self.shift, rng)
            yield paddle.to_tensor(images), paddle.to_tensor(self.labels[index])


def random_shift(images: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Move each normalized image ``[N, 1, 28, 28]`` by up to ``max_shift`` pixels in x and y, padding with black."""
    n, _, h, w = images.shape
    padded = np.pad(
        images, ((0, 0), (0, 0), (max_shift, max_shift), (max_shift, max_shift)), constant_values=_BACKGROUND
    )
    dy, dx = rng.integers(0, 2 * max_shift + 1, size=(2, n))
    rows = dy[:, None] + np.arange(h)[None, :]
    cols = dx[:, None] + np.arange(w)[None, :]
    return padded[np.arange(n)[:, None, None], 0, rows[:, :, None], cols[:, None, :]][:, None]
