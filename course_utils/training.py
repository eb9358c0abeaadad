"""The training loop: mini-batches, forward, loss, backward, step; validation after every epoch; checkpoints.

Three layers, each built on the one before (shown in chapter 3, §2): ``train_step`` is one optimizer step on one
batch, exactly what exercise 3.1 asks for; ``train_epoch`` calls it for every batch of one pass; ``train_model`` runs
the epochs. Around them ``train_model`` picks the GPU when Paddle has CUDA and a device (else the CPU), seeds
everything for reproducibility, shows a progress bar (the notebook widget inside Jupyter) or calls a ``callback``
(e.g. ``plots.LiveHistory``, curves redrawn while it trains), keeps a ``History`` of losses and accuracies, saves a
checkpoint after each epoch and can resume from one. Started by ``python -m paddle.distributed.launch``, it trains
data-parallel: each process takes its share of every batch (and of the validation images), gradients are averaged,
and only rank 0 logs and saves.
"""
from __future__ import annotations

import itertools
import random
import time
from collections.abc import Iterable
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
TRAIN_EVAL_IMAGES = 2000
"""The first this many training images are where each epoch's training loss and accuracy are measured (in fast mode
``FAST_VAL_IMAGES``): in evaluation mode, like the validation set, so that the two can be compared."""

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

    Every setting of the optimizer is a field: ``momentum`` (``optimizer="momentum"``) is the fraction of the last
    update kept in the next one; ``beta1`` and ``beta2`` (``optimizer="adam"``) are how much of its running averages
    of the gradient and of the squared gradient Adam keeps per step. The course uses (0.7, 0.9), shorter memories
    than the usual (0.9, 0.999): within one epoch of 196 steps whose rate rises and falls (one-cycle), averages that
    forget faster follow the changing gradients (chapter 3, §4; ``docs/instructor/ch03.md`` has the measurements).
    """

    epochs: int = 1
    batch_size: int = 256
    optimizer: str = "adam"
    learning_rate: float = 0.02
    schedule: str = "onecycle"
    momentum: float = 0.9
    beta1: float = 0.7
    beta2: float = 0.9
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
        if not all(0 <= value < 1 for value in (self.momentum, self.beta1, self.beta2)):
            raise CourseError("momentum, beta1 and beta2 are fractions kept per step: each must be in [0, 1)")


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
    """Per-epoch metrics (accuracies are fractions), ``seconds`` since training began at each epoch's end, and per
    optimizer step its batch's loss (``step_loss``) and learning rate (``step_learning_rate``).

    ``train_loss`` and ``train_accuracy`` are measured at each epoch's end on the first ``TRAIN_EVAL_IMAGES``
    training images, in evaluation mode exactly as ``val_loss`` and ``val_accuracy`` on the validation set: the gap
    between the two is then the model's, not that of dropout or of weights that changed during the epoch.
    ``steps_per_epoch`` places each step on the epoch axis (step ``i`` ends at epoch ``(i + 1) / steps_per_epoch``);
    ``total_epochs`` is where the run will end (``config.epochs``), so that a live figure knows its last epoch.
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    step_learning_rate: list[float] = field(default_factory=list)
    steps_per_epoch: int = 0
    total_epochs: int = 0


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

    Call ``scheduler.step()`` after every ``optimizer.step()``. Momentum and Adam take their settings from ``config``
    (``momentum``; ``beta1``, ``beta2``); everything else is Paddle's default.
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
        optimizer = paddle.optimizer.Momentum(learning_rate=rate, momentum=config.momentum, parameters=parameters)
    else:
        optimizer = paddle.optimizer.Adam(
            learning_rate=rate, beta1=config.beta1, beta2=config.beta2, parameters=parameters
        )
    return optimizer, scheduler


def validate(model: nn.Layer, val: Split, rank: int = 0, world_size: int = 1) -> tuple[float, float]:
    """Loss and accuracy of ``model`` on ``val``; in a data-parallel run every process takes its share of the images.

    Every process must call it. Batch-norm statistics are kept per process (only gradients are averaged), so rank 0's
    state is sent to all first: the figures are then those of the model that rank 0 saves.
    """
    if world_size > 1:
        for tensor in model.state_dict().values():
            paddle.distributed.broadcast(tensor, src=0)
    return _loss_and_accuracy(model, val, rank, world_size)


def _loss_and_accuracy(model: nn.Layer, split: Split, rank: int, world_size: int) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` (in evaluation mode) on ``split``, each process on its share."""
    images, labels = split.images[rank::world_size], split.labels[rank::world_size]
    logits = predict_logits(model, images)
    totals = np.array([cross_entropy(logits, labels) * len(labels), np.sum(logits.argmax(axis=1) == labels),
                       len(labels)], dtype=np.float64)
    if world_size > 1:
        summed = paddle.to_tensor(totals)
        paddle.distributed.all_reduce(summed)
        totals = summed.numpy()
    loss_sum, correct, count = totals
    return float(loss_sum / count), float(correct / count)


def train_step(
    model: nn.Layer, optimizer: paddle.optimizer.Optimizer, images: paddle.Tensor, labels: paddle.Tensor
) -> float:
    """One optimizer step on one batch; the batch's mean cross-entropy before the step (exercise 3.1)."""
    logits = model(images)                    # 1. forward: [B, 1, 28, 28] -> logits [B, 10]
    loss = F.cross_entropy(logits, labels)    # 2. loss: softmax and cross-entropy in one, averaged over the batch
    loss.backward()                           # 3. backward: the gradient of the loss for every parameter
    optimizer.step()                          # 4. update every parameter along its gradient
    optimizer.clear_grad()                    # 5. clear the gradients, which Paddle would otherwise add up
    return float(loss)


def train_epoch(
    model: nn.Layer,
    batches: Iterable[tuple[paddle.Tensor, paddle.Tensor]],
    optimizer: paddle.optimizer.Optimizer,
    scheduler: paddle.optimizer.lr.LRScheduler | None = None,
    on_step: Callable[[float], None] | None = None,
) -> list[float]:
    """One pass over ``batches`` in training mode: a ``train_step`` per batch; the loss of every step.

    ``on_step(loss)`` runs after each step, before the ``scheduler`` moves the learning rate on to the next step.
    """
    model.train()
    losses = []
    for images, labels in batches:
        losses.append(train_step(model, optimizer, images, labels))
        if on_step is not None:
            on_step(losses[-1])
        if scheduler is not None:
            scheduler.step()
    return losses


def train_model(
    model: nn.Layer,
    data: MnistData,
    config: TrainConfig | None = None,
    *,
    checkpoint: str | Path | None = None,
    resume: str | Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
    callback: Callable[[History], None] | None = None,
) -> History:
    """Train ``model`` on ``data.train``, validate on ``data.val`` after every epoch, and return the history.

    Each epoch is one ``train_epoch`` over a freshly shuffled order. ``checkpoint``: file to save after every epoch
    (weights, optimizer, history). ``resume``: a checkpoint to continue from; its weights, optimizer state and
    history are restored and training goes on to ``config.epochs``. ``callback(history)`` runs after every step and
    after every epoch's validation (in a data-parallel run, in rank 0 only), e.g. ``plots.LiveHistory()`` to watch
    the curves grow. In fast mode each epoch stops after ``FAST_STEPS`` steps and the losses and accuracies are
    measured on ``FAST_VAL_IMAGES`` images.
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
    measured = FAST_VAL_IMAGES if fast_mode() else None
    val = Split(data.val.images[:measured], data.val.labels[:measured])
    sample = measured or TRAIN_EVAL_IMAGES
    train_sample = Split(data.train.images[:sample], data.train.labels[:sample])
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

    history.steps_per_epoch, history.total_epochs = steps_per_epoch, config.epochs
    network = paddle.DataParallel(model) if world_size > 1 else model
    is_main = rank == 0
    started = time.perf_counter()
    for epoch in range(start_epoch, config.epochs + 1):
        loader.set_epoch(epoch)
        bar = tqdm(
            total=steps_per_epoch, desc=f"epoch {epoch}/{config.epochs}", disable=not (progress and is_main), leave=False
        )

        def record(loss: float) -> None:
            history.step_loss.append(loss)
            history.step_learning_rate.append(float(optimizer.get_lr()))
            bar.update()
            bar.set_postfix(loss=f"{loss:.4f}")
            if callback is not None and is_main:
                callback(history)

        train_epoch(network, itertools.islice(loader, steps_per_epoch), optimizer, scheduler, on_step=record)
        bar.close()
        val_loss, val_accuracy = validate(model, val, rank, world_size)
        train_loss, train_accuracy = _loss_and_accuracy(model, train_sample, rank, world_size)
        if not is_main:
            continue
        history.epoch.append(epoch)
        history.train_loss.append(train_loss)
        history.train_accuracy.append(train_accuracy)
        history.val_loss.append(val_loss)
        history.val_accuracy.append(val_accuracy)
        history.seconds.append(seconds_before + time.perf_counter() - started)
        log(
            f"第 {epoch}/{config.epochs} 轮 (epoch): 训练集 (train) 损失 {train_loss:.4f}, "
            f"正确率 {train_accuracy:.2%} | 验证集 (val) 损失 {val_loss:.4f}, 正确率 {val_accuracy:.2%} | {history.seconds[-1]:.0f} 秒"
        )
        if callback is not None:
            callback(history)
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
