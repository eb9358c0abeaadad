"""Chapter 4's upload button: a photo taken with a phone reaches the notebook without the file browser.

:class:`PhotoUpload` is an ipywidgets ``FileUpload`` button with an output area below it. Every picture the student
uploads is saved under ``work/uploads/`` (:func:`save_upload`: an earlier upload with the same name is never
overwritten; the new one gets a free name such as ``digit-2.jpg``, and the message says so) and read at once with
``prediction.predict_file``, which shows ``plots.show_prediction`` and the answer in words (``prediction.describe``).

``FileUpload.value`` holds one entry per file, a mapping with ``name`` and ``content``: ``content`` is a
``memoryview`` when the browser sent the file, ``bytes`` when Python set the value; :func:`uploaded_files` accepts
both. A front end that cannot show widgets shows the one line :data:`NO_WIDGETS` instead.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
from IPython.display import display

from . import plots, settings
from .errors import CourseError
from .imaging import load_image
from .prediction import IMAGE_SUFFIXES, Prediction, describe, predict_file

if TYPE_CHECKING:
    from paddle import nn

NO_WIDGETS = ("上传照片 (PhotoUpload)：这里的前端不能显示交互式 widget (this front end cannot show widgets)，"
              "请在 JupyterLab 4、Jupyter Notebook 7 或 AI Studio 里打开笔记本再上传")
"""What a front end without widget support shows in place of the upload button."""


def upload_dir() -> Path:
    """Where uploaded photos are kept: ``work/uploads/``."""
    return settings.work_dir() / "uploads"


def uploaded_files(value: Iterable[Mapping[str, Any]]) -> list[tuple[str, bytes]]:
    """``(file name, bytes)`` for each entry of a ``FileUpload.value`` (``content`` a memoryview or bytes)."""
    return [(str(entry["name"]), bytes(entry["content"])) for entry in value]


def save_upload(name: str, content: bytes, folder: str | Path | None = None) -> tuple[Path, bool]:
    """Save one uploaded picture in ``folder`` (default :func:`upload_dir`) and return ``(path, renamed)``.

    Only the file name is kept (no folders from the browser). A file of that name already there is left alone: the
    new picture gets the first free name ``stem-2.jpg``, ``stem-3.jpg``, ... and ``renamed`` is True. The file is
    created exclusively, so two uploads can never write into one file, and a failed write leaves no half file behind.
    Raises :class:`CourseError` for a type ``predict_file`` cannot read, or an empty file.
    """
    base = Path(name).name.strip()
    suffix = Path(base).suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise CourseError(f"{base or '(no name)'}: 只能读 JPEG、PNG 或 BMP 图片 (JPEG, PNG or BMP only)，"
                          "请把照片存成其中一种格式再上传")
    if not content:
        raise CourseError(f"{base}: 文件是空的 (0 bytes)，请重新上传")
    stem = Path(base).stem
    folder = Path(folder) if folder is not None else upload_dir()
    folder.mkdir(parents=True, exist_ok=True)
    number = 1
    while True:
        path = folder / (f"{stem}{suffix}" if number == 1 else f"{stem}-{number}{suffix}")
        try:
            file = open(path, "xb")  # "x": fails instead of overwriting a file that is already there
        except FileExistsError:
            number += 1
            continue
        try:
            with file:
                file.write(content)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return path, number > 1


class PhotoUpload(widgets.VBox):
    """An upload button for photos of digits: each one is saved under ``work/uploads/`` and read by ``model``.

    ``PhotoUpload(model)`` as the last line of a cell shows the button "上传照片 (upload)" and, below it, for every
    uploaded picture: where it was saved, the model's answer and ``plots.show_prediction``. ``predictions`` keeps
    ``(path, Prediction)`` for each picture read, ``messages`` every line shown (also the one-line errors).
    """

    def __init__(self, model: nn.Layer, folder: str | Path | None = None, **kwargs: Any) -> None:
        self.model = model
        self.folder = Path(folder) if folder is not None else upload_dir()
        self.button = widgets.FileUpload(accept=",".join(IMAGE_SUFFIXES), multiple=True,
                                         description="上传照片 (upload)", layout=widgets.Layout(width="auto"))
        self.output = widgets.Output()
        self.predictions: list[tuple[Path, Prediction]] = []
        self.messages: list[str] = []
        super().__init__(children=[self.button, self.output], **kwargs)
        self.button.observe(self._read, names="value")

    def _say(self, line: str) -> None:
        self.messages.append(line)
        with self.output:
            print(line)

    def _read(self, change: dict[str, Any]) -> None:
        """Save and read every file of an upload, then empty the button so the same file can be sent again."""
        if not change["new"]:
            return
        for name, content in uploaded_files(change["new"]):
            try:
                path, renamed = save_upload(name, content, self.folder)
            except CourseError as error:
                self._say(str(error))
                continue
            note = f" (已有同名文件，新照片存为 {path.name})" if renamed else ""
            self._say(f"已保存 (saved): {path}{note}")
            try:
                prediction = predict_file(self.model, path)
            except CourseError as error:
                self._say(str(error))
                continue
            self.predictions.append((path, prediction))
            self._say(f"{path.name}: {describe(prediction.probabilities)}")
            with self.output:
                display(plots.show_prediction(prediction.image, prediction.probabilities, original=load_image(path)))
        self.button.value = ()

    def __repr__(self) -> str:
        return NO_WIDGETS
