"""A drawing canvas for the notebooks: the student writes a digit with the mouse or a finger and sees what the model
reads, stroke by stroke.

:class:`DrawingCanvas` is an `anywidget <https://anywidget.dev>`_ widget (on top of ipywidgets). Its front end is the
small inline JavaScript module below, so it needs no network and no build step: JupyterLab 4 and Jupyter Notebook 7
load it through anywidget's extension, which ships in anywidget's wheel. When a stroke ends (pointer events: mouse,
pen or touch), the front end sends the drawing to Python as a PNG data URL. Python treats it exactly like a photo of
a digit on paper: ``imaging.to_mnist`` (the same preprocessing as for photos), ``preprocess.normalize`` (through
``evaluation.predict_logits``) and the model. It sends back the 28x28 image the model saw and the ten probabilities,
which the front end draws beside the canvas with the top two digits, or 不确定 (uncertain) when the model is not sure
(``prediction.describe``: the same rule and words as the command line).

In collect mode (`DrawingCanvas`'s ``collect`` and ``writer``) each drawing can be saved with its label into the
class's handwriting file, the same ``.npz`` that the sheet reader fills (`course_utils.handwriting`).

A front end that cannot show widgets (a notebook executed by nbclient or nbconvert, an old or minimal front end)
shows the widget's plain-text form instead: one line saying so.
"""
from __future__ import annotations

import base64
import binascii
import io
import os
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets
from paddle import nn
from PIL import Image, UnidentifiedImageError

from .errors import CourseError
from .evaluation import predict_logits, softmax
from .handwriting import CANVAS_SOURCE, Handwriting, add_digits, load_handwriting
from .imaging import to_mnist
from .prediction import Prediction, describe

NO_WIDGETS = ("画板 (DrawingCanvas)：这里的前端不能显示交互式 widget (this front end cannot show widgets)，"
              "请在 JupyterLab 4 或 Jupyter Notebook 7 里打开笔记本再写数字")
"""What a front end without widget support shows in place of the canvas."""

_PNG_DATA_URL = "data:image/png;base64,"
_MAX_DATA_URL = 20_000_000
"""A drawing is a few kilobytes; a data URL longer than this (20 MB) is refused unread."""

_ESM = r"""
const CANVAS_PX = 280, BRUSH_PX = 20, INPUT_PX = 112;

function element(tag, className, parent, text) {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

function render({ model, el }) {
  const root = element("div", "course-canvas", el);
  const board = element("canvas", "course-canvas-draw", root);
  board.width = board.height = CANVAS_PX;
  board.title = "在这里写一个数字 / draw a digit here";
  const side = element("div", "course-canvas-side", root);
  element("div", "course-canvas-label", side, "模型看到的 28x28 / model input");
  const input = element("canvas", "course-canvas-input", side);
  input.width = input.height = 28;
  input.style.width = input.style.height = INPUT_PX + "px";
  const bars = element("div", "course-canvas-bars", side);
  const rows = [];
  for (let digit = 0; digit < 10; digit++) {
    const row = element("div", "course-canvas-bar", bars);
    element("span", "course-canvas-digit", row, String(digit));
    const track = element("span", "course-canvas-track", row);
    const fill = element("span", "course-canvas-fill", track);
    const value = element("span", "course-canvas-value", row, "");
    rows.push({ row, fill, value });
  }
  const footer = element("div", "course-canvas-footer", el);
  const clear = element("button", "course-canvas-clear", footer, "清除 / Clear");
  const summary = element("span", "course-canvas-summary", footer, "");
  if (model.get("collect")) {
    const bar = element("div", "course-canvas-collect", el);
    element("span", "", bar, "要写的数字 / digit to draw:");
    const choice = element("select", "course-canvas-label", bar);
    for (let digit = 0; digit < 10; digit++) element("option", "", choice, String(digit)).value = String(digit);
    choice.value = String(model.get("label"));
    choice.addEventListener("change", () => {
      model.set("label", Number(choice.value));
      model.save_changes();
    });
    model.on("change:label", () => { choice.value = String(model.get("label")); });
    const keep = element("button", "course-canvas-save", bar, "保存 / Save");
    keep.addEventListener("click", () => {
      model.set("save", model.get("save") + 1);
      model.save_changes();
    });
    const status = element("span", "course-canvas-saved", bar, model.get("saved"));
    model.on("change:saved", () => { status.textContent = model.get("saved"); });
  }

  const pen = board.getContext("2d");
  function blank() {
    pen.fillStyle = "white";
    pen.fillRect(0, 0, CANVAS_PX, CANVAS_PX);
  }
  blank();

  let drawing = false, last = null;
  function point(event) {
    const box = board.getBoundingClientRect();
    return [(event.clientX - box.left) * CANVAS_PX / box.width, (event.clientY - box.top) * CANVAS_PX / box.height];
  }
  function stroke(from, to) {
    pen.strokeStyle = "black";
    pen.lineWidth = BRUSH_PX;
    pen.lineCap = pen.lineJoin = "round";
    pen.beginPath();
    pen.moveTo(from[0], from[1]);
    pen.lineTo(to[0], to[1]);
    pen.stroke();
  }
  board.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    board.setPointerCapture(event.pointerId);
    drawing = true;
    last = point(event);
    stroke(last, last);  // a tap leaves a dot
  });
  board.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    const next = point(event);
    stroke(last, next);
    last = next;
  });
  function end() {
    if (!drawing) return;
    drawing = false;
    model.set("drawing", board.toDataURL("image/png"));
    model.save_changes();
  }
  board.addEventListener("pointerup", end);
  board.addEventListener("pointercancel", end);
  clear.addEventListener("click", () => {
    blank();
    model.set("drawing", "");
    model.save_changes();
  });

  function show() {
    const pixels = model.get("pixels"), probabilities = model.get("probabilities");
    const picture = input.getContext("2d").createImageData(28, 28);
    for (let i = 0; i < 28 * 28; i++) {
      const v = pixels.length === 28 * 28 ? pixels[i] : 0;
      picture.data.set([v, v, v, 255], 4 * i);
    }
    input.getContext("2d").putImageData(picture, 0, 0);
    const top = probabilities.length ? probabilities.indexOf(Math.max(...probabilities)) : -1;
    rows.forEach(({ row, fill, value }, digit) => {
      const p = probabilities.length ? probabilities[digit] : 0;
      fill.style.width = (100 * p).toFixed(1) + "%";
      value.textContent = probabilities.length ? (100 * p).toFixed(0) + "%" : "";
      row.classList.toggle("course-canvas-top", digit === top);
    });
    const error = model.get("error");
    summary.textContent = error || model.get("summary");
    summary.classList.toggle("course-canvas-error", Boolean(error));
    summary.dataset.digit = top >= 0 ? String(top) : "";
  }
  ["pixels", "probabilities", "summary", "error"].forEach((name) => model.on("change:" + name, show));
  model.on("change:drawing", () => { if (!model.get("drawing")) blank(); });  // Python cleared it (after a save)
  show();
}

export default { render };
"""

_CSS = """
.course-canvas { display: flex; gap: 16px; align-items: flex-start; }
.course-canvas-draw { width: 280px; height: 280px; border: 2px solid #888; border-radius: 4px; cursor: crosshair;
  touch-action: none; background: white; }
.course-canvas-side { display: flex; flex-direction: column; gap: 6px; font-size: 12px; }
.course-canvas-input { image-rendering: pixelated; border: 1px solid #888; background: black; }
.course-canvas-bar { display: flex; align-items: center; gap: 6px; height: 15px; }
.course-canvas-digit { width: 1em; text-align: right; font-family: monospace; }
.course-canvas-track { width: 120px; height: 10px; background: #eee; border-radius: 2px; overflow: hidden; }
.course-canvas-fill { display: block; height: 100%; width: 0; background: #bbb; }
.course-canvas-top .course-canvas-fill { background: #1f77b4; }
.course-canvas-top .course-canvas-digit, .course-canvas-top .course-canvas-value { font-weight: bold; }
.course-canvas-value { width: 3em; font-family: monospace; }
.course-canvas-footer { display: flex; gap: 12px; align-items: center; margin-top: 8px; font-size: 14px; }
.course-canvas-error { color: #c00; }
.course-canvas-collect { display: flex; gap: 8px; align-items: center; margin-top: 8px; font-size: 14px; }
"""


def read_drawing(data_url: str) -> Image.Image:
    """Decode the PNG data URL the canvas sends (``data:image/png;base64,...``) into a Pillow image.

    Raises :class:`CourseError` for anything that is not a PNG data URL of a readable image.
    """
    if not isinstance(data_url, str) or not data_url.startswith(_PNG_DATA_URL):
        raise CourseError("the drawing is not a PNG data URL (data:image/png;base64,...): draw on the canvas again")
    if len(data_url) > _MAX_DATA_URL:
        raise CourseError("the drawing is too large (over 20 MB): clear the canvas and draw again")
    try:
        data = base64.b64decode(data_url[len(_PNG_DATA_URL):], validate=True)
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return image.copy()
    except (binascii.Error, UnidentifiedImageError, OSError, ValueError):
        raise CourseError("the drawing could not be decoded as a PNG image: clear the canvas and draw again") from None


def predict_drawing(model: nn.Layer, drawing: str | Image.Image | np.ndarray) -> Prediction:
    """Read the digit in a drawing (a PNG data URL from the canvas, a Pillow image or an array) like a photo.

    The drawing goes through ``imaging.to_mnist``, the same preprocessing as photos, then the training
    normalization and the model. Raises :class:`CourseError` when there is nothing to read (an empty canvas).
    """
    image = read_drawing(drawing) if isinstance(drawing, str) else drawing
    try:
        image28 = to_mnist(image)
    except CourseError:
        raise CourseError("no digit found in the drawing: write one digit, large, in the middle of the canvas") from None
    probabilities = softmax(predict_logits(model, image28[None]))[0]
    return Prediction("drawing", int(probabilities.argmax()), probabilities, image28)


class DrawingCanvas(anywidget.AnyWidget):
    """Draw a digit with the mouse or a finger; after every stroke the model's reading of it appears beside it.

    ``DrawingCanvas(model)`` as the last line of a cell shows a 280x280 canvas, a "清除 / Clear" button, the 28x28
    image the model sees and the ten probabilities. The synchronised traits are the interface between the two sides:
    ``drawing`` (the PNG data URL the front end sends after a stroke, "" after Clear) and, sent back, ``pixels``
    (the 28x28 image, row by row), ``probabilities``, ``summary`` (:func:`describe`) and ``error`` (one line, e.g.
    for an empty drawing). ``prediction`` holds the last :class:`~course_utils.prediction.Prediction`, or None.

    **Collect mode**, ``DrawingCanvas(model, collect="work/class.npz", writer="li_ming")``: the canvas also shows a
    choice of the digit to draw (``label``) and a "保存 / Save" button. Save adds the 28x28 image of the drawing to
    the handwriting file ``collect`` (`handwriting.add_digits`: the layout the sheet reader writes), with the label,
    the writer, ``rows`` = the label, ``cols`` = the drawing's number for that label and writer (0, 1, ...) and the
    source ``canvas``; then it clears the canvas for the next one. ``saved`` says what was saved (or why not).
    """

    _esm = _ESM
    _css = _CSS
    drawing = traitlets.Unicode("").tag(sync=True)
    pixels = traitlets.List(traitlets.Int()).tag(sync=True)
    probabilities = traitlets.List(traitlets.Float()).tag(sync=True)
    summary = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    collect = traitlets.Bool(False).tag(sync=True)
    label = traitlets.Int(0, min=0, max=9).tag(sync=True)
    save = traitlets.Int(0).tag(sync=True)
    saved = traitlets.Unicode("").tag(sync=True)

    def __init__(self, model: nn.Layer, *, collect: str | os.PathLike | None = None, writer: str | None = None,
                 **kwargs: Any) -> None:
        if collect is not None and not (writer or "").strip():
            raise CourseError("collect mode needs the writer's name: DrawingCanvas(model, collect=..., writer=\"li_ming\")")
        super().__init__(collect=collect is not None, **kwargs)
        self.model = model
        self.prediction: Prediction | None = None
        self.path = None if collect is None else Path(collect)
        self.writer = (writer or "").strip()

    @traitlets.observe("save")
    def _save(self, change: dict[str, Any]) -> None:
        try:
            self.saved = self.save_drawing()
        except CourseError as exc:
            self.saved = f"未保存 / not saved: {exc}"

    def save_drawing(self) -> str:
        """Add the current drawing to the collect file with the chosen ``label``, clear the canvas, and return the
        line that says so. Raises `CourseError` outside collect mode or when there is no digit to save."""
        if self.path is None:
            raise CourseError("this canvas is not collecting: DrawingCanvas(model, collect=\"work/class.npz\", "
                              "writer=...)")
        if self.prediction is None:
            raise CourseError("draw a digit first")
        label = int(self.label)
        old = load_handwriting(self.path) if self.path.exists() else Handwriting.empty()
        number = int(np.sum((old.sources == CANVAS_SOURCE) & (old.writers == self.writer) & (old.labels == label)))
        new = Handwriting.from_lists([self.prediction.image], [label], [self.writer], [label], [number],
                                     [CANVAS_SOURCE])
        total = len(add_digits(self.path, new, replace_sources=False))
        self.drawing = ""  # clears the canvas (the front end blanks it) and the reading
        return f"已保存 / saved: {label} #{number + 1} -> {self.path} ({total} 个数字 / digits)"

    @traitlets.observe("drawing")
    def _read(self, change: dict[str, Any]) -> None:
        self.prediction = None
        pixels: list[int] = []
        probabilities: list[float] = []
        summary = error = ""
        if change["new"]:
            try:
                self.prediction = predict_drawing(self.model, change["new"])
            except CourseError as exc:
                error = str(exc)
            else:
                pixels = self.prediction.image.ravel().tolist()
                probabilities = [float(p) for p in self.prediction.probabilities]
                summary = describe(self.prediction.probabilities)
        with self.hold_sync():
            self.pixels, self.probabilities, self.summary, self.error = pixels, probabilities, summary, error

    def __repr__(self) -> str:
        return NO_WIDGETS
