"""The drawing canvas's Python side, without a browser: a drawing in, the model's reading out; bad drawings refused
with one line; a front end without widgets gets one line of text. (tests/browser/ draws on it in JupyterLab.)"""
from __future__ import annotations

import base64
import io

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient
from PIL import Image, ImageDraw

from course_utils import canvas
from course_utils.canvas import DrawingCanvas, describe, predict_drawing, read_drawing
from course_utils.errors import CourseError

SEVEN = [(80, 60), (200, 60), (120, 230)]
ONE = [(140, 50), (140, 230)]


def drawing(*strokes: list[tuple[int, int]], size: int = 280, width: int = 20) -> str:
    """What the front end sends: black strokes on a white square canvas, as a PNG data URL."""
    image = Image.new("RGB", (size, size), "white")
    pen = ImageDraw.Draw(image)
    for stroke in strokes:
        pen.line(stroke, fill="black", width=width, joint="curve")
    return data_url(image)


def data_url(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.parametrize(("strokes", "digit"), [([SEVEN], 7), ([ONE], 1)], ids=["seven", "one"])
def test_a_drawn_digit_is_read(trained, strokes, digit):
    model, _ = trained
    prediction = predict_drawing(model, drawing(*strokes))
    assert prediction.digit == digit
    assert prediction.image.shape == (28, 28) and prediction.image.dtype == np.uint8
    assert prediction.probabilities.shape == (10,)
    assert prediction.probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert prediction.probabilities[digit] == prediction.probabilities.max()


def test_the_drawing_gets_the_same_preprocessing_as_a_photo(trained):
    from course_utils.imaging import to_mnist

    model, _ = trained
    url = drawing(SEVEN)
    assert np.array_equal(predict_drawing(model, url).image, to_mnist(read_drawing(url)))
    image = read_drawing(url)
    assert predict_drawing(model, np.asarray(image)).digit == predict_drawing(model, image).digit == 7


def test_the_widget_answers_each_stroke_and_clears(trained):
    model, _ = trained
    widget = DrawingCanvas(model)
    assert (widget.pixels, widget.probabilities, widget.summary, widget.error) == ([], [], "", "")

    widget.drawing = drawing(SEVEN)
    assert len(widget.pixels) == 784 and max(widget.pixels) > 200
    assert widget.pixels == widget.prediction.image.ravel().tolist()
    assert np.argmax(widget.probabilities) == 7
    assert widget.summary == describe(widget.prediction.probabilities)
    assert widget.error == ""

    widget.drawing = ""  # the Clear button
    assert (widget.pixels, widget.probabilities, widget.summary, widget.error) == ([], [], "", "")
    assert widget.prediction is None


@pytest.mark.parametrize("bad", [
    "not a data url",
    "data:image/jpeg;base64,/9j/4AAQ",
    "data:image/png;base64,@@@not base64@@@",
    "data:image/png;base64," + base64.b64encode(b"GIF89a but not a picture").decode(),
], ids=["text", "jpeg-url", "bad-base64", "not-an-image"])
def test_bad_drawings_get_one_line(bad):
    with pytest.raises(CourseError) as error:
        read_drawing(bad)
    assert "\n" not in str(error.value) and "draw" in str(error.value)


def test_an_oversized_data_url_is_refused_unread(monkeypatch):
    monkeypatch.setattr(canvas, "_MAX_DATA_URL", 100)
    with pytest.raises(CourseError, match="too large"):
        read_drawing(drawing(SEVEN))


def test_an_empty_canvas_is_reported_in_the_widget(trained):
    model, _ = trained
    with pytest.raises(CourseError, match="no digit found in the drawing"):
        predict_drawing(model, drawing())
    widget = DrawingCanvas(model)
    widget.drawing = drawing(SEVEN)
    widget.drawing = drawing()  # a blank canvas: the last answer must not stay on screen
    assert widget.error.startswith("no digit found in the drawing") and "\n" not in widget.error
    assert (widget.pixels, widget.probabilities, widget.summary, widget.prediction) == ([], [], "", None)
    widget.drawing = "garbage"
    assert "PNG data URL" in widget.error


def test_describe_names_the_top_two_and_says_when_it_is_unsure():
    confident = np.full(10, 0.01)
    confident[[7, 1]] = [0.9, 0.02]
    assert describe(confident) == "预测 (prediction): 7 (90%)"  # a runner-up at 2% is not named
    confident[[7, 1]] = [0.84, 0.08]
    assert describe(confident) == "预测 (prediction): 7 (84%) · 其次 (next): 1 (8%)"
    unsure = np.full(10, 0.02)
    unsure[[3, 5]] = [0.46, 0.38]
    assert describe(unsure) == "不确定 (uncertain): 3 (46%) 或 5 (38%)"
    with pytest.raises(ValueError, match=r"\[10\]"):
        describe(np.ones((1, 10)) / 10)


def test_the_front_end_code_is_inline_and_needs_no_network():
    assert "export default" in DrawingCanvas._esm
    assert "http" not in DrawingCanvas._esm and "import " not in DrawingCanvas._esm


def test_a_front_end_without_widgets_shows_one_line(tmp_path):
    """As a plain nbclient run stores it: the widget's text/plain form, one line, beside the widget view."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from paddle import nn\nfrom course_utils.canvas import DrawingCanvas\nDrawingCanvas(nn.Linear(784, 10))")])
    NotebookClient(nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(tmp_path)}}).execute()
    [output] = [output for output in nb.cells[0].outputs if output.output_type == "execute_result"]
    assert output.data["text/plain"] == canvas.NO_WIDGETS
    assert "application/vnd.jupyter.widget-view+json" in output.data
    assert "\n" not in canvas.NO_WIDGETS


def test_collect_mode_saves_labelled_drawings_in_the_sheet_readers_layout(trained, tmp_path):
    from course_utils.handwriting import load_handwriting

    model, _ = trained
    path = tmp_path / "class.npz"
    widget = DrawingCanvas(model, collect=path, writer="li_ming")
    assert widget.collect and not DrawingCanvas(model).collect
    widget.save += 1  # nothing drawn yet
    assert widget.saved.startswith("未保存 / not saved: draw a digit first") and not path.exists()
    for label, strokes in [(7, SEVEN), (7, SEVEN), (1, ONE)]:
        widget.label = label
        widget.drawing = drawing(strokes)
        image = widget.prediction.image
        widget.save += 1  # the Save button
        assert widget.saved.startswith(f"已保存 / saved: {label}") and widget.drawing == ""
    data = load_handwriting(path)
    assert data.labels.tolist() == [7, 7, 1] and data.rows.tolist() == [7, 7, 1] and data.cols.tolist() == [0, 1, 0]
    assert set(data.writers.tolist()) == {"li_ming"} and set(data.sources.tolist()) == {"canvas"}
    np.testing.assert_array_equal(data.images[2], image)
    other = DrawingCanvas(model, collect=path, writer="wang_fang")
    other.label = 7
    other.drawing = drawing(SEVEN)
    other.save_drawing()
    assert load_handwriting(path).cols.tolist() == [0, 1, 0, 0]  # numbered per writer and label


def test_collect_mode_needs_a_writer(trained, tmp_path):
    model, _ = trained
    with pytest.raises(CourseError, match="writer"):
        DrawingCanvas(model, collect=tmp_path / "class.npz")
    with pytest.raises(CourseError, match="not collecting"):
        DrawingCanvas(model).save_drawing()
