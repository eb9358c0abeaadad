"""Fixtures shared by the unit tests: the real MNIST data and one briefly trained model."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import pytest

from course_utils.mnist import MnistData, Split, load_mnist


@pytest.fixture(scope="session")
def mnist() -> MnistData:
    """The real MNIST splits, read from $COURSE_DATA_DIR (set by the root conftest to ../shared/mnist)."""
    return load_mnist(download=False, progress=False)


@pytest.fixture(scope="session")
def trained(mnist: MnistData, tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    """A small CNN trained for one pass over 12,000 images (about 97-98% accuracy), and its checkpoint file."""
    from course_utils.models import build_model
    from course_utils.training import set_seed, train_model

    data = MnistData(
        train=Split(mnist.train.images[:12000], mnist.train.labels[:12000]),
        val=Split(mnist.val.images[:2000], mnist.val.labels[:2000]),
        test=mnist.test,
    )
    checkpoint = tmp_path_factory.mktemp("trained") / "small_cnn.pdckpt"
    set_seed(0)
    model = build_model("small_cnn")
    with mock.patch.dict(os.environ, {"COURSE_FAST": "0"}):
        train_model(model, data, checkpoint=checkpoint, progress=False, log=lambda line: None)
    model.eval()
    return model, checkpoint


@pytest.fixture
def save_model() -> Callable[[Path, int], object]:
    """``save_model(path, seed)`` writes a checkpoint of a freshly initialised small CNN and returns the model: its
    answers differ from seed to seed and from the trained one, so a stale export or a wrong file shows."""

    import paddle

    from course_utils.checkpoint import save_checkpoint
    from course_utils.models import build_model

    def save(path: Path, seed: int) -> object:
        paddle.seed(seed)
        model = build_model("small_cnn")
        model.eval()
        save_checkpoint(path, model, model="small_cnn")
        return model

    return save
