"""The original AI Studio course's recipe, rewritten with Paddle 3's API: the baseline every benchmark compares with.

What the original did, and this module does the same on purpose:

- ``load_data`` parses the whole ``mnist.json.gz`` with ``json`` (Python lists of floats: about 3 GB of memory for
  MNIST) and builds every batch sample by sample in Python (``np.reshape`` + ``astype`` per image, ``np.array`` of a
  list per batch). Pixels stay as the file has them (float32 p/256 in [0, 1) as `write_aistudio_json` writes it by
  default, the best reconstruction of the original file); nothing else is normalized.
- ``OriginalCNN`` is ``course_utils.models.CourseCNN`` (the original's layers) with the original's last step, a
  softmax (``Linear(980, 10, act='softmax')``), put back: it returns probabilities.
- The loss is the original's ``fluid.layers.cross_entropy(predict, label)``, which in Paddle 1.x took
  **probabilities** and computed ``-log(p[label])`` with no softmax of its own (its docs' example feeds it
  ``fc(..., act='softmax')``). The faithful port is ``F.cross_entropy(predict, label, use_softmax=False)``: the same
  hard-label kernel, with the same guard against ``log(0)`` (the kernel clamps the loss to 1e20, no epsilon). The
  original was correct here; only a literal port to ``F.cross_entropy`` with its default ``use_softmax=True`` would
  apply softmax twice (see chapter 2).
- Plain SGD, learning rate 0.01, batch size 100, the training order shuffled by ``random.shuffle``.

One kindness to the original: the JSON is parsed once for both training and testing (the original parsed it again for
evaluation). ``python -m benchmarks.original_recipe --data mnist.json.gz`` trains and prints one JSON line.
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import time
from collections.abc import Callable, Iterator

import numpy as np
import paddle
import paddle.nn.functional as F

from course_utils.models import CourseCNN

BATCH_SIZE = 100
LEARNING_RATE = 0.01
IMG_ROWS = IMG_COLS = 28

Reader = Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]]


def parse_json(path: str) -> list:
    """The original's ``json.load(gzip.open(datafile))``: ``[train, val, test]``, each ``[images, labels]``."""
    with gzip.open(path, "rt") as file:
        return json.load(file)


def load_data(data: list, mode: str = "train", batch_size: int = BATCH_SIZE) -> Reader:
    """The original's batch generator over one split of the parsed JSON (``train``, ``valid`` or ``eval``)."""
    imgs, labels = data[{"train": 0, "valid": 1, "eval": 2}[mode]]
    assert len(imgs) == len(labels), "length of train_imgs should be the same as train_labels"
    index_list = list(range(len(imgs)))

    def data_generator() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if mode == "train":
            random.shuffle(index_list)
        imgs_list, labels_list = [], []
        for i in index_list:
            img = np.reshape(imgs[i], [1, IMG_ROWS, IMG_COLS]).astype("float32")
            label = np.reshape(labels[i], [1]).astype("int64")
            imgs_list.append(img)
            labels_list.append(label)
            if len(imgs_list) == batch_size:
                yield np.array(imgs_list), np.array(labels_list)
                imgs_list, labels_list = [], []
        if imgs_list:
            yield np.array(imgs_list), np.array(labels_list)

    return data_generator


class OriginalCNN(CourseCNN):
    """The original's network: ``CourseCNN``'s layers followed by a softmax (see the module docstring)."""

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return F.softmax(super().forward(x))


def original_loss(predicts: paddle.Tensor, labels: paddle.Tensor) -> paddle.Tensor:
    """The original's ``fluid.layers.mean(fluid.layers.cross_entropy(predict, label))`` on probabilities.

    1.x's ``cross_entropy`` took probabilities: ``-log(p[label])``, no second softmax.
    """
    return paddle.mean(F.cross_entropy(predicts, labels, use_softmax=False, reduction="none"))


def train_epoch(
    model: OriginalCNN, reader: Reader, optimizer: paddle.optimizer.Optimizer, max_steps: int | None = None
) -> list[float]:
    """One pass of the original's training loop; returns the loss of every step."""
    model.train()
    losses = []
    for batch_id, (images, labels) in enumerate(reader()):
        if batch_id == max_steps:
            break
        predicts = model(paddle.to_tensor(images))
        avg_loss = original_loss(predicts, paddle.to_tensor(labels))
        avg_loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        losses.append(float(avg_loss))
    return losses


def accuracy(model: OriginalCNN, reader: Reader) -> float:
    """Test accuracy as the original measured it: batch by batch from the reader."""
    model.eval()
    correct = total = 0
    with paddle.no_grad():
        for images, labels in reader():
            predicts = model(paddle.to_tensor(images)).numpy()
            correct += int((predicts.argmax(axis=1) == labels[:, 0]).sum())
            total += len(labels)
    return correct / total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the mnist.json.gz to parse")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-steps", type=int, default=None, help="stop each epoch after this many steps")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    paddle.set_device("cpu")
    paddle.seed(args.seed)
    random.seed(args.seed)
    started = time.perf_counter()
    data = parse_json(args.data)
    parse_seconds = time.perf_counter() - started
    model = OriginalCNN()
    optimizer = paddle.optimizer.SGD(learning_rate=LEARNING_RATE, parameters=model.parameters())
    train_reader, test_reader = load_data(data, "train"), load_data(data, "eval")
    epochs = []
    for epoch in range(1, args.epochs + 1):
        began = time.perf_counter()
        losses = train_epoch(model, train_reader, optimizer, args.max_steps)
        seconds = time.perf_counter() - began
        epochs.append({"epoch": epoch, "seconds": seconds, "steps": len(losses), "loss": float(np.mean(losses)),
                       "test_accuracy": accuracy(model, test_reader)})
        print(f"epoch {epoch}: loss {epochs[-1]['loss']:.4f}, test accuracy {epochs[-1]['test_accuracy']:.2%}, "
              f"{seconds:.0f} s", file=sys.stderr)
    print(json.dumps({"parse_seconds": parse_seconds, "epochs": epochs}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
