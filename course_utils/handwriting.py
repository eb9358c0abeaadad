"""The class's own handwriting as one data set: the ``.npz`` file that the sheet reader and the canvas write into.

MNIST was cut from forms that about 500 writers filled in; the course's chapter 7 does the same with the class's digits,
and needs to know who wrote each one. A handwriting file holds, for N digits:

- ``images``: uint8 ``[N, 28, 28]``, MNIST-like (white ink on black, 20x20 box, centred by mass: ``imaging.to_mnist``);
- ``labels``: int64 ``[N]``, the digit that was meant (the form's row, or the label chosen on the canvas);
- ``writers``: str ``[N]``, who wrote it (a sheet photo's file name, or the name given);
- ``rows``, ``cols``: int64 ``[N]``, where it was on the form (on the canvas: the label, and the drawing's number);
- ``sources``: str ``[N]``, where it came from: a sheet photo's file name, or ``canvas``.

`add_digits` merges new digits into an existing file: the digits of a source that is read again replace that source's
old ones (a photo taken again, or read again with a better lighting), every other digit is kept, and the file is
replaced in one step (written beside it, then renamed), so an interrupted write loses nothing already saved.
"""
from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from .errors import CourseError
from .atomic import atomic_write

CANVAS_SOURCE = "canvas"
"""The ``sources`` entry of digits drawn on the canvas (`canvas.DrawingCanvas`'s collect mode)."""


@dataclass(frozen=True)
class Handwriting:
    """N handwritten digits with who wrote them and where they were (the fields of the module docstring)."""

    images: np.ndarray
    labels: np.ndarray
    writers: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    sources: np.ndarray

    def __post_init__(self) -> None:
        count = len(self.images)
        if np.asarray(self.images).shape[1:] != (28, 28):
            raise ValueError(f"images must be [N, 28, 28], got {list(np.asarray(self.images).shape)}")
        for field in fields(self):
            if len(getattr(self, field.name)) != count:
                raise ValueError(f"{field.name} has {len(getattr(self, field.name))} entries for {count} images")

    def __len__(self) -> int:
        return len(self.images)

    @classmethod
    def empty(cls) -> Handwriting:
        """No digits (what a new file starts from)."""
        return cls.from_lists([], [], [], [], [], [])

    @classmethod
    def from_lists(cls, images, labels, writers, rows, cols, sources) -> Handwriting:
        """Arrays of the right types from sequences (``images`` a sequence of 28x28 arrays)."""
        return cls(
            images=np.asarray(images, dtype=np.uint8).reshape(-1, 28, 28),
            labels=np.asarray(labels, dtype=np.int64),
            writers=np.asarray(writers, dtype=str),
            rows=np.asarray(rows, dtype=np.int64),
            cols=np.asarray(cols, dtype=np.int64),
            sources=np.asarray(sources, dtype=str),
        )

    def select(self, keep: np.ndarray) -> Handwriting:
        """The digits where the boolean mask (or index array) ``keep`` says so."""
        return Handwriting(**{f.name: getattr(self, f.name)[keep] for f in fields(self)})

    def concat(self, other: Handwriting) -> Handwriting:
        """These digits followed by ``other``'s."""
        return Handwriting(**{f.name: np.concatenate([getattr(self, f.name), getattr(other, f.name)])
                              for f in fields(self)})


def load_handwriting(path: str | os.PathLike) -> Handwriting:
    """Read a handwriting file (see the module docstring); raises `CourseError` if it is missing or not one."""
    path = Path(path)
    if not path.is_file():
        raise CourseError(f"handwriting file not found: {path}. Read your sheets first: "
                          "python -m course_utils sheet read PHOTO... --out " + str(path))
    try:
        with np.load(path, allow_pickle=False) as data:
            return Handwriting(**{f.name: data[f.name] for f in fields(Handwriting)})
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise CourseError(f"{path} is not a handwriting file ({error}): read the sheets again into a new file") from None


def add_digits(path: str | os.PathLike, new: Handwriting, *, replace_sources: bool = True) -> Handwriting:
    """Merge ``new`` into the handwriting file at ``path`` (created if missing) and return the whole file's digits.

    With ``replace_sources`` the existing digits of every source in ``new`` are dropped first, so reading a photo
    again replaces its digits instead of doubling them; without it, ``new`` is appended (the canvas adds one drawing
    at a time). The file is replaced atomically; an unreadable existing file raises `CourseError` and is left alone.
    """
    path = Path(path)
    old = load_handwriting(path) if path.exists() else Handwriting.empty()
    if replace_sources:
        old = old.select(~np.isin(old.sources, new.sources))
    merged = old.concat(new)
    with atomic_write(path) as tmp, open(tmp, "wb") as out:
        np.savez_compressed(out, **{f.name: getattr(merged, f.name) for f in fields(merged)})
    return merged
