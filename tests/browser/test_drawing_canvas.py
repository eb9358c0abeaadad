"""Chapter 4's drawing canvas in a real JupyterLab: draw a digit with the mouse, read the model's answer.

The strokes go through the whole chain: pointer events on the canvas, the PNG sent to the kernel, ``imaging.to_mnist``
and the chapter's model (the fast-mode checkpoint), and the 28x28 image and probabilities drawn back in the page.
"""
from __future__ import annotations

import re

import pytest

sync_api = pytest.importorskip("playwright.sync_api", reason="the browser tests need Playwright: pip install playwright")
expect = sync_api.expect

SEVEN = [(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]
ONE = [(0.5, 0.15), (0.5, 0.85)]
"""Strokes as fractions of the canvas: a 7 (top bar, then the diagonal) and a 1 (a vertical line)."""
ANSWER = re.compile(r"(预测 \(prediction\)|不确定 \(uncertain\)): (\d)")


def draw(page, canvas, stroke: list[tuple[float, float]]) -> None:
    """Press the mouse at the first point, move through the others in small steps, release."""
    box = canvas.bounding_box()
    points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
    page.mouse.move(*points[0])
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*point, steps=12)
    page.mouse.up()


def answer(widget) -> str:
    """Wait for the widget's summary line to name a digit and return it."""
    summary = widget.locator(".course-canvas-summary")
    expect(summary).to_have_text(ANSWER)
    return ANSWER.search(summary.inner_text()).group(2)


def model_input_ink(widget) -> int:
    """The sum of the 28x28 preview's grey levels as the page shows it (0 when it is black)."""
    return widget.locator(".course-canvas-input").evaluate(
        "(canvas) => canvas.getContext('2d').getImageData(0, 0, 28, 28).data"
        ".filter((_, i) => i % 4 === 0).reduce((a, b) => a + b, 0)")


def test_drawn_digits_are_read_in_chapter_4(open_notebook, screenshots):
    notebook = open_notebook("notebooks/04_prediction.ipynb")
    cells = notebook.run_all()
    assert [o for c in cells for o in c["outputs"] if o["type"] == "error"] == []

    widget = notebook.page.locator(".course-canvas").locator("..")
    canvas = widget.locator(".course-canvas-draw")
    canvas.scroll_into_view_if_needed()
    assert model_input_ink(widget) == 0

    draw(notebook.page, canvas, SEVEN)
    assert answer(widget) == "7"
    assert model_input_ink(widget) > 0
    probabilities = widget.locator(".course-canvas-value").all_inner_texts()
    assert len(probabilities) == 10 and all(text.endswith("%") for text in probabilities)
    screenshots.save(notebook.page, "04_prediction-drawn-7")
    screenshots.save(widget, "04_prediction-canvas-7")

    widget.get_by_role("button", name="清除 / Clear").click()
    expect(widget.locator(".course-canvas-summary")).to_have_text("")
    assert model_input_ink(widget) == 0

    draw(notebook.page, canvas, ONE)
    assert answer(widget) == "1"
    screenshots.save(widget, "04_prediction-canvas-1")
