"""The one normalization used by training, evaluation and prediction alike.

MNIST images are stored as uint8 in [0, 255], white ink on black. The network sees float32 tensors of shape
``[N, 1, 28, 28]`` standardised with the training set's mean and standard deviation. Using this single function
everywhere is what keeps prediction on a student's photo consistent with training (the original tutorial normalised
differently at prediction time).
"""
from __future__ import annotations

import numpy as np

MEAN = 0.1307
"""Mean pixel value of the MNIST training images, scaled to [0, 1]."""
STD = 0.3081
"""Standard deviation of the MNIST training pixels, scaled to [0, 1]."""


def normalize(images: np.ndarray) -> np.ndarray:
    """Turn uint8 images ``[28, 28]``, ``[N, 28, 28]`` or ``[N, 1, 28, 28]`` into float32 ``[N, 1, 28, 28]``.

    Each pixel becomes ``(x / 255 - MEAN) / STD``.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"normalize expects uint8 pixels in [0, 255], got {images.dtype}")
    if images.ndim == 2:
        images = images[None]
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4 or images.shape[1:] != (1, 28, 28):
        raise ValueError(f"expected images of shape [N, 28, 28], got {list(images.shape)}")
    scale = np.float32(1.0 / (255.0 * STD))
    shift = np.float32(MEAN / STD)
    return images.astype(np.float32) * scale - shift
