"""The training loop: mini-batches, forward, loss, backward, step; validation after every epoch; checkpoints.

``train_model`` is the loop the chapters write out by hand once and then call from here. It picks the GPU when Paddle
has CUDA and a device (else the CPU), seeds everything for reproducibility, shows a progress bar (the notebook widget
inside Jupyter), keeps a ``History`` of losses and accuracies, saves a checkpoint after each epoch and can resume from
one. Started by ``python -m paddle.distributed.launch``, it trains data-parallel: each process takes its share of
every batch (and of the validation images), gradients are averaged, and only rank 0 logs and saves.
"""
from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import paddle
import paddle.nn.functional as F
from paddle import nn
from tqdm.auto import tqdm

from .augment import augment_batch
from .batching import ArrayLoader
from .checkpoint import load_optimizer_state, load_weights, save_checkpoint
from .errors import CourseError
from .evaluation import cross_entropy, predict_logits
from .mnist import MnistData, Split
from .models import registry_name
from .settings import fast_mode

FAST_STEPS = 30
"""Optimizer steps per epoch in fast mode (``COURSE_FAST=1``)."""
FAST_VAL_IMAGES = 1000
"""Validation images used in fast mode."""

OPTIMIZERS = ("sgd", "momentum", "adam")
SCHEDULES = ("constant", "onecycle", "cosine")


@dataclass
class TrainConfig:
    """The knobs of a training run. The defaults are the course's fast recipe for ``small_cnn``.

    ``learning_rate`` is the peak rate of the ``onecycle`` schedule (warm up, then anneal), the start of ``cosine``,
    and the fixed rate of ``constant``. ``shift`` > 0 augments training images with random shifts of that many
    pixels; ``augment`` with `augment.augment_batch` (rotation, scale, shift, stroke thickness, elastic distortion).
    ``batch_size`` is the global batch: a data-parallel run splits it across processes. The default 256 with a peak
    rate of 0.02 follows the linear scaling rule from 128 and 0.01 (twice the batch, twice the rate): the same
    accuracy after one epoch in half as many steps, and on two processes half as many gradient exchanges.
    """

    epochs: int = 1
    batch_size: int = 256
    optimizer: str = "adam"
    learning_rate: float = 0.02
    schedule: str = "onecycle"
    shift: int = 0
    augment: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise CourseError(f"unknown optimizer {self.optimizer!r}; choose one of: {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise CourseError(f"unknown schedule {self.schedule!r}; choose one of: {', '.join(SCHEDULES)}")
        if self.epochs < 1 or self.batch_size < 1 or self.learning_rate <= 0:
            raise CourseError("epochs and batch_size must be at least 1 and learning_rate positive")


@dataclass(frozen=True)
class Recipe:
    """A named preset of ``python -m course_utils train --recipe NAME``: which model, how to train it, and how many
    ``members`` to train (seeds ``seed``, ``seed + 1``, ...) and average as an ensemble
    (``evaluation.evaluate_ensemble``)."""

    model: str
    config: TrainConfig
    members: int = 1
    summary: str = ""


RECIPES: dict[str, Recipe] = {
    "best": Recipe(
        model="wide_cnn",
        config=TrainConfig(epochs=5, batch_size=128, learning_rate=0.01, shift=2),
        members=4,
        summary="4 x wide_cnn, 5 epochs each on images shifted at random by up to 2 px, probabilities averaged; "
        "aims at 99.6% test accuracy within 15 minutes on 2 CPU cores",
    ),
}
"""The presets of ``train --recipe``. Each member of ``best`` alone tops out near 99.5%; averaging models that made
different mistakes is what passes 99.6% (benchmarks/: ``python -m benchmarks --only best``)."""


@dataclass
class History:
    """Per-epoch metrics (accuracies are fractions), ``seconds`` since training began at each epoch's end, and the
    loss of every optimizer step (``step_loss``) for comparing optimizers over a short budget."""

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)


_announced_device: str | None = None


def select_device() -> str:
    """Use the GPU when Paddle was built with CUDA and sees a device, else the CPU; say which, once per process."""
    global _announced_device
    device = "gpu" if paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0 else "cpu"
    paddle.set_device(device)
    if _announced_device != device:
        print(f"设备 device: {device.upper()}")
        _announced_device = device
    return device


def set_seed(seed: int) -> None:
    """Seed Paddle, NumPy and Python's ``random`` so that a run can be repeated."""
    paddle.seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def make_optimizer(
    config: TrainConfig, parameters: list[paddle.Tensor], total_steps: int
) -> tuple[paddle.optimizer.Optimizer, paddle.optimizer.lr.LRScheduler | None]:
    """The optimizer named in ``config`` and its learning-rate schedule over ``total_steps`` steps (None: constant).

    Call ``scheduler.step()`` after every ``optimizer.step()``. Adam uses betas (0.7, 0.9): shorter memories than
    the usual (0.9, 0.999) suit a one-epoch budget.
    """
    scheduler: paddle.optimizer.lr.LRScheduler | None = None
    if config.schedule == "onecycle":
        scheduler = paddle.optimizer.lr.OneCycleLR(max_learning_rate=config.learning_rate, total_steps=total_steps)
    elif config.schedule == "cosine":
        scheduler = paddle.optimizer.lr.CosineAnnealingDecay(config.learning_rate, T_max=total_steps)
    rate = scheduler if scheduler is not None else config.learning_rate
    if config.optimizer == "sgd":
        optimizer = paddle.optimizer.SGD(learning_rate=rate, parameters=parameters)
    elif config.optimizer == "momentum":
        optimizer = paddle.optimizer.Momentum(learning_rate=rate, momentum=0.9, parameters=parameters)
    else:
        optimizer = paddle.optimizer.Adam(learning_rate=rate, beta1=0.7, beta2=0.9, parameters=parameters)
    return optimizer, scheduler


def validate(model: nn.Layer, val: Split, rank: int = 0, world_size: int = 1) -> tuple[float, float]:
    """Loss and accuracy of ``model`` on ``val``; in a data-parallel run every process takes its share of the images.

    Every process must call it. Batch-norm statistics are kept per process (only gradients are averaged), so rank 0's
    state is sent to all first: the figures are then those of the model that rank 0 saves.
    """
    if world_size > 1:
        for tensor in model.state_dict().values():
            paddle.distributed.broadcast(tensor, src=0)
    images, labels = val.images[rank::world_size], val.labels[rank::world_size]
    logits = predict_logits(model, images)
    totals = np.array([cross_entropy(logits, labels) * len(labels), np.sum(logits.argmax(axis=1) == labels),
                       len(labels)], dtype=np.float64)
    if world_size > 1:
        summed = paddle.to_tensor(totals)
        paddle.distributed.all_reduce(summed)
        totals = summed.numpy()
    loss_sum, correct, count = totals
    return float(loss_sum / count), float(correct / count)


def train_model(
    model: nn.Layer,
    data: MnistData,
    config: TrainConfig | None = None,
    *,
    checkpoint: str | Path | None = None,
    resume: str | Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> History:
    """Train ``model`` on ``data.train``, validate on ``data.val`` after every epoch, and return the history.

    ``checkpoint``: file to save after every epoch (weights, optimizer, history). ``resume``: a checkpoint to continue
    from; its weights, optimizer state and history are restored and training goes on to ``config.epochs``.
    In fast mode each epoch stops after ``FAST_STEPS`` steps and validates on ``FAST_VAL_IMAGES`` images.
    """
    config = config or TrainConfig()
    select_device()
    world_size = paddle.distributed.get_world_size()
    rank = paddle.distributed.get_rank()
    if world_size > 1:
        paddle.distributed.init_parallel_env()
    if config.batch_size % world_size:
        raise CourseError(f"batch size {config.batch_size} does not split evenly across {world_size} processes")
    name = registry_name(model)
    loader = ArrayLoader(
        data.train,
        config.batch_size // world_size,
        shuffle=True,
        seed=config.seed,
        shift=config.shift,
        augment=augment_batch if config.augment else None,
        rank=rank,
        world_size=world_size,
    )
    steps_per_epoch = min(len(loader), FAST_STEPS) if fast_mode() else len(loader)
    val = data.val
    if fast_mode():
        val = type(val)(val.images[:FAST_VAL_IMAGES], val.labels[:FAST_VAL_IMAGES])
    optimizer, scheduler = make_optimizer(config, model.parameters(), config.epochs * steps_per_epoch)

    history = History()
    if resume is not None:
        saved = load_weights(model, resume)
        if saved.optimizer_state is None or "history" not in saved.meta:
            raise CourseError(f"{resume} has no training state to resume from; start a new run instead")
        load_optimizer_state(optimizer, model, saved)
        history = History(**saved.meta["history"])
    start_epoch = len(history.epoch) + 1
    seconds_before = history.seconds[-1] if history.seconds else 0.0

    network = paddle.DataParallel(model) if world_size > 1 else model
    is_main = rank == 0
    started = time.perf_counter()
    for epoch in range(start_epoch, config.epochs + 1):
        loader.set_epoch(epoch)
        network.train()
        losses, correct, seen = [], 0, 0
        bar = tqdm(
            total=steps_per_epoch, desc=f"epoch {epoch}/{config.epochs}", disable=not (progress and is_main), leave=False
        )
        for step, (images, labels) in enumerate(loader):
            if step == steps_per_epoch:
                break
            logits = network(images)
            loss = F.cross_entropy(logits, labels)
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
            if scheduler is not None:
                scheduler.step()
            losses.append(float(loss))
            correct += int((logits.argmax(axis=1) == labels).astype("int64").sum())
            seen += len(labels)
            bar.update()
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
        bar.close()
        val_loss, val_accuracy = validate(model, val, rank, world_size)
        if not is_main:
            continue
        history.epoch.append(epoch)
        history.train_loss.append(float(np.mean(losses)))
        history.train_accuracy.append(correct / seen)
        history.val_loss.append(val_loss)
        history.val_accuracy.append(val_accuracy)
        history.seconds.append(seconds_before + time.perf_counter() - started)
        history.step_loss.extend(losses)
        log(
            f"epoch {epoch}/{config.epochs}: train loss {history.train_loss[-1]:.4f}, "
            f"acc {history.train_accuracy[-1]:.2%} | val loss {history.val_loss[-1]:.4f}, "
            f"acc {history.val_accuracy[-1]:.2%} | {history.seconds[-1]:.0f} s"
        )
        if checkpoint is not None:
            save_checkpoint(
                checkpoint,
                model,
                optimizer,
                model=name,
                epoch=epoch,
                val_accuracy=history.val_accuracy[-1],
                config=asdict(config),
                history=asdict(history),
            )
    return history
