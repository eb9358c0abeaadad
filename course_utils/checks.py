"""The checks that follow each exercise in the notebooks, in chapter order.

Each one tries the answer on the exercise's cases and prints a ✅ line, or shows one ❌ line that says, in Chinese,
what is off (see :mod:`course_utils.exercises`, where the exercises and their hints live). An answer that calls the
course's own implementation of what the exercise asks for gets no credit.
"""
from __future__ import annotations

from .exercises import check


def check_normalize_pixels(normalize_pixels) -> None:
    """练习 1.1: ``normalize_pixels(images)``: uint8 ``[N, 28, 28]`` to float32 ``[N, 1, 28, 28]``,
    ``(x / 255 - MEAN) / STD``."""
    check("normalize_pixels", normalize_pixels)


def check_batch_generator(batch_generator) -> None:
    """练习 1.2: ``batch_generator(images, labels, batch_size, shuffle)`` yields normalized batches, every sample once
    per pass, the last short batch kept, a new order when shuffling."""
    check("batch_generator", batch_generator)


def check_dataset_getitem(dataset_class) -> None:
    """练习 1.3: a ``paddle.io.Dataset`` class whose ``dataset_class(split)[i]`` is ``(normalize(images[i])[0],
    labels[i])``."""
    check("dataset_getitem", dataset_class)


def check_flatten_size(flatten_size) -> None:
    """练习 2.1: how many values enter the course CNN's last linear layer."""
    check("flatten_size", flatten_size)


def check_forward(model_class) -> None:
    """练习 2.2: ``model_class`` (the class, not an instance) computes what ``models.CourseCNN`` computes."""
    check("forward", model_class)


def check_count_parameters(count_parameters) -> None:
    """练习 2.3: ``count_parameters(model)`` counts trainable values, as ``paddle.summary``'s "Trainable params"."""
    check("count_parameters", count_parameters)


def check_train_step(train_step) -> None:
    """练习 3.1: ``train_step(model, optimizer, images, labels)`` does one training step and returns the loss."""
    check("train_step", train_step)


def check_learning_rate(sweep, best_lr, learning_rates) -> None:
    """练习 3.2: ``sweep`` maps each learning rate to its short run's final loss; ``best_lr`` is the lowest that
    did not diverge."""
    check("learning_rate", sweep, best_lr, learning_rates)


def check_centre_by_mass(centre_by_mass) -> None:
    """练习 4.1: ``centre_by_mass(box)`` places a cropped digit in a 28x28 field with its centre of mass at (14, 14)."""
    check("centre_by_mass", centre_by_mass)


def check_original_preprocess(original_preprocess) -> None:
    """练习 4.2: ``original_preprocess(path)`` repeats the original tutorial's preprocessing with today's Pillow."""
    check("original_preprocess", original_preprocess)


def check_accuracy(accuracy, model, split) -> None:
    """练习 5.1: ``accuracy`` is the fraction of *split* that *model*, in evaluation mode, gets right."""
    check("accuracy", accuracy, model, split)


def check_confusion_matrix(confusion_matrix) -> None:
    """练习 5.2: ``confusion_matrix(labels, predictions)`` counts ``[10, 10]``, row = true, column = predicted."""
    check("confusion_matrix", confusion_matrix)


def check_random_shift(random_shift) -> None:
    """练习 6.1: ``random_shift(images, max_shift, rng)`` moves each image by its own random offset, filling with
    the background."""
    check("random_shift", random_shift)


def check_split_by_writer(split_by_writer) -> None:
    """练习 7.2: ``split_by_writer(writers, held_out, seed)`` returns ``(train_indices, test_indices)`` with every
    writer's digits on one side and ``held_out`` writers, chosen from the seed, on the test side."""
    check("split_by_writer", split_by_writer)


def check_per_writer_accuracy(per_writer_accuracy) -> None:
    """练习 7.1: ``per_writer_accuracy(writers, labels, predictions)`` returns ``{writer: accuracy}``."""
    check("per_writer_accuracy", per_writer_accuracy)
