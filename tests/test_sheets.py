"""The digit form and the sheet reader: the form's geometry and layout, reading photographed sheets in every
orientation and size, the photos it must refuse or flag, the handwriting file, and the command line's one-line errors."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from course_utils import sheets
from course_utils.errors import CourseError
from course_utils.handwriting import Handwriting, add_digits, load_handwriting
from course_utils.sheet_photos import blank_form, fill_form, photograph, writer
from course_utils.tools.cli import main

STYLE = writer(0)
WRITTEN = {(row, col) for row in range(sheets.ROWS) for col in range(sheets.COLS) if (row + col) % 3 == 0}


@pytest.fixture(scope="module")
def page(mnist):
    """A form with one MNIST test digit of the row's label in every third box."""
    rng = np.random.default_rng(0)
    firsts = {label: np.flatnonzero(mnist.test.labels == label) for label in range(10)}
    digits = {(row, col): mnist.test.images[firsts[row][col]] for row, col in WRITTEN}
    return fill_form(digits, STYLE, rng)


def found(reading: sheets.SheetReading) -> set[tuple[int, int]]:
    return set(zip(reading.rows.tolist(), reading.cols.tolist()))


def test_the_form_has_ten_rows_of_boxes_labelled_by_row_inside_the_page():
    boxes = sheets.boxes()
    assert len(boxes) == sheets.ROWS * sheets.COLS and sheets.ROWS == 10 and sheets.COLS >= 8
    assert all(box.label == box.row for box in boxes)
    assert {(box.row, box.col) for box in boxes} == {(r, c) for r in range(10) for c in range(sheets.COLS)}
    half = sheets.MARKER / 2
    for box in boxes:
        assert 0 < box.x0 < box.x1 < sheets.PAGE[0] and 0 < box.y0 < box.y1 < sheets.PAGE[1]
        for x, y in sheets.MARKER_CENTRES:  # no box overlaps a corner square
            assert box.x1 < x - half or box.x0 > x + half or box.y1 < y - half or box.y0 > y + half
    right = {(b.row, b.col): b for b in boxes}
    assert all(right[(r, c)].x1 < right[(r, c + 1)].x0 for r in range(10) for c in range(sheets.COLS - 1))
    assert all(right[(r, 0)].y1 < right[(r + 1, 0)].y0 for r in range(9))


def test_the_layout_gives_each_box_inside_edge_in_the_png(tmp_path):
    png, layout_file = tmp_path / "form.png", tmp_path / "layout.json"
    assert main(["sheet", "form", "--out", str(png), "--dpi", "100", "--layout", str(layout_file)]) == 0
    layout = json.loads(layout_file.read_text())
    grey = np.asarray(Image.open(png).convert("L"), dtype=np.int32)
    assert layout["image_size"] == [grey.shape[1], grey.shape[0]]
    assert len(layout["boxes"]) == 100 and layout["boxes"][37] | {} == {**layout["boxes"][37], "label": 3, "row": 3}
    for box in layout["boxes"]:
        inside = grey[round(box["y0"]) + 2 : round(box["y1"]) - 2, round(box["x0"]) + 2 : round(box["x1"]) - 2]
        assert inside.min() > 240  # white inside the frame
        frame = grey[round((box["y0"] + box["y1"]) / 2), round(box["x0"]) - 3 : round(box["x0"]) + 1]
        assert frame.min() < 200  # the frame's line just left of the inside edge
    for x, y in sheets.MARKER_CENTRES:  # corner squares: black, the top-left one white in the middle
        sx, sy = grey.shape[1] / sheets.PAGE[0], grey.shape[0] / sheets.PAGE[1]
        assert grey[round((y + 5) * sy), round((x + 5) * sx)] < 50
    x, y = sheets.MARKER_CENTRES[0]
    assert grey[round(y * sy), round(x * sx)] > 200 and grey[round(281 * sy), round(193 * sx)] < 50


def test_the_form_as_pdf_and_a_wrong_suffix(tmp_path, capsys):
    assert main(["sheet", "form", "--out", str(tmp_path / "form.pdf")]) == 0
    assert (tmp_path / "form.pdf").read_bytes().startswith(b"%PDF")
    assert main(["sheet", "form", "--out", str(tmp_path / "form.txt")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error:") and ".pdf or .png" in error and len(error.splitlines()) == 1


@pytest.mark.parametrize("turn", [0, 90, 180, 270])
def test_every_orientation_tilted_is_read_box_by_box(page, turn):
    rng = np.random.default_rng(turn)
    photo = photograph(page, rng, megapixels=1, turn=turn, tilt=25 if turn % 180 else -25)
    reading = sheets.read_sheet(photo)
    assert reading.turned == turn
    assert found(reading) == WRITTEN
    assert reading.images.shape == (len(WRITTEN), 28, 28) and reading.images.dtype == np.uint8
    np.testing.assert_array_equal(reading.labels, reading.rows)
    assert reading.images.max() == 255  # MNIST-like: bright ink on black, centred by mass
    rows, cols = np.mgrid[0:28, 0:28]
    weights = reading.images.reshape(len(reading), -1).astype(float)
    centres = weights @ np.stack([rows.ravel(), cols.ravel()], axis=1) / weights.sum(axis=1, keepdims=True)
    assert np.abs(centres - 14).max() < 1.0


def test_a_12_megapixel_photo_is_read(page):
    photo = photograph(page, np.random.default_rng(12), megapixels=12, turn=90)
    assert photo.width * photo.height == pytest.approx(12e6, rel=0.01)
    assert found(sheets.read_sheet(photo)) == WRITTEN


def test_a_missing_corner_square_is_one_line_that_says_what_to_do(page):
    covered = page.copy()
    x, y = sheets.MARKER_CENTRES[2]
    scale = covered.shape[1] / sheets.PAGE[0]
    half = sheets.MARKER * 0.6
    covered[round((y - half) * scale) : round((y + half) * scale), round((x - half) * scale) :] = 1.0
    photo = photograph(covered, np.random.default_rng(3), megapixels=1, tilt=5)
    with pytest.raises(CourseError, match="four corner squares.*all four") as error:
        sheets.read_sheet(photo, source="IMG_1.jpg")
    assert str(error.value).startswith("IMG_1.jpg: ") and "\n" not in str(error.value)


def test_a_photo_of_something_else_is_refused():
    from course_utils.photo_sets import photo_set

    with pytest.raises(CourseError, match="corner squares"):
        sheets.read_sheet(photo_set(1, conditions=("plain",))[0].image)


def test_an_empty_sheet_has_no_digits():
    photo = photograph(blank_form(), np.random.default_rng(4), megapixels=1, turn=180)
    assert len(sheets.read_sheet(photo)) == 0


def test_a_digit_in_the_wrong_row_keeps_its_row_and_is_flagged_red_in_the_preview(mnist, trained):
    from course_utils.evaluation import predict_logits

    model, _ = trained
    seven = mnist.test.images[np.flatnonzero(mnist.test.labels == 7)[0]]
    three = mnist.test.images[np.flatnonzero(mnist.test.labels == 3)[0]]
    rng = np.random.default_rng(5)
    photo = photograph(fill_form({(3, 0): three, (3, 1): seven}, STYLE, rng), rng, megapixels=1, tilt=10)
    reading = sheets.read_sheet(photo)
    assert found(reading) == {(3, 0), (3, 1)} and reading.labels.tolist() == [3, 3]
    predicted = predict_logits(model, reading.images).argmax(axis=1)
    assert predicted.tolist() == [3, 7]
    picture = np.asarray(sheets.preview(reading, predicted))
    red = (picture[..., 0] > 200) & (picture[..., 1] < 50) & (picture[..., 2] < 50)
    columns = np.flatnonzero(red.any(axis=0))
    assert red.any() and columns.min() > picture.shape[1] * 0.1  # only around the second box of the row
    assert columns.max() < picture.shape[1] * 0.25


def test_handwriting_file_appends_and_a_photo_read_again_replaces_its_digits(tmp_path):
    path = tmp_path / "class.npz"

    def digits(source: str, count: int, value: int) -> Handwriting:
        return Handwriting.from_lists(np.full((count, 28, 28), value), [1] * count, ["ann"] * count,
                                      [1] * count, list(range(count)), [source] * count)

    add_digits(path, digits("a.jpg", 3, 10))
    add_digits(path, digits("b.jpg", 2, 20))
    merged = add_digits(path, digits("a.jpg", 4, 30))
    assert len(merged) == 6 and sorted(merged.sources.tolist()) == ["a.jpg"] * 4 + ["b.jpg"] * 2
    loaded = load_handwriting(path)
    assert set(loaded.images[loaded.sources == "a.jpg"].ravel().tolist()) == {30}
    assert loaded.images.dtype == np.uint8 and loaded.labels.dtype == np.int64
    assert len(add_digits(path, digits("canvas", 1, 40), replace_sources=False)) == 7
    assert len(add_digits(path, digits("canvas", 1, 40), replace_sources=False)) == 8

    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip file")
    with pytest.raises(CourseError, match="not a handwriting file"):
        add_digits(broken, digits("c.jpg", 1, 1))
    assert broken.read_bytes() == b"not a zip file"


def test_read_command_reads_what_it_can_and_says_one_line_for_each_other_photo(page, tmp_path, capsys, trained):
    _, checkpoint = trained
    good = tmp_path / "ann.jpg"
    photograph(page, np.random.default_rng(6), megapixels=1, turn=270).save(good)
    empty = tmp_path / "empty.jpg"
    photograph(blank_form(), np.random.default_rng(7), megapixels=1).save(empty)
    other = tmp_path / "cat.png"
    Image.new("RGB", (400, 300), (120, 90, 60)).save(other)
    out = tmp_path / "class.npz"
    code = main(["sheet", "read", str(good), str(empty), str(other), str(tmp_path / "missing.jpg"), "--out", str(out),
                 "--preview", str(tmp_path / "preview"), "--checkpoint", str(checkpoint)])
    captured = capsys.readouterr()
    assert code == 1
    errors = [line for line in captured.err.strip().splitlines() if not line.startswith("note:")]
    assert len(errors) == 3 and "Traceback" not in captured.err
    assert any(line.startswith("empty.jpg: no written box found") for line in errors)
    assert any(line.startswith("error: cat.png: the form's four corner squares were not found") for line in errors)
    assert any(line.startswith("error: Image file not found") for line in errors)
    assert f"ann.jpg: {len(WRITTEN)} digits, writer ann, page turned 270°" in captured.out
    assert (tmp_path / "preview" / "ann-preview.png").is_file()
    data = load_handwriting(out)
    assert len(data) == len(WRITTEN) and set(data.writers.tolist()) == {"ann"}

    assert main(["sheet", "read", str(good), "--out", str(out), "--writer", "bea"]) == 0  # read again: replaced
    data = load_handwriting(out)
    assert len(data) == len(WRITTEN) and set(data.writers.tolist()) == {"bea"}


def test_generated_sheet_photos_are_reproducible_and_use_only_mnist_test_digits(mnist):
    from course_utils.sheet_photos import sheet_photos

    first = list(sheet_photos(2, seed=3, megapixels=(0.3,), test=mnist.test))
    again = next(sheet_photos(1, seed=3, megapixels=(0.3,), test=mnist.test))
    np.testing.assert_array_equal(np.asarray(first[0].image), np.asarray(again.image))
    assert [photo.turn for photo in first] == [0, 90] and first[0].writer != first[1].writer
    for photo in first:
        rows, cols, labels, indices = photo.written.T
        np.testing.assert_array_equal(mnist.test.labels[indices], labels)
        np.testing.assert_array_equal(labels, rows)
        assert len(set(zip(rows.tolist(), cols.tolist()))) == len(rows)


def test_read_command_stops_in_one_line_before_reading_when_it_cannot_finish(tmp_path, capsys):
    photo = tmp_path / "ann.jpg"
    photograph(blank_form(), np.random.default_rng(8), megapixels=0.3).save(photo)
    out = tmp_path / "class.npz"
    code = main(["sheet", "read", str(photo), "--out", str(out), "--preview", str(tmp_path / "p"), "--checkpoint",
                 str(tmp_path / "none.pdckpt")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: no checkpoint at") and err.count("\n") == 1 and not out.exists()
    out.write_text("not a handwriting file")
    assert main(["sheet", "read", str(photo), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not a handwriting file" in err and err.count("\n") == 1
    assert out.read_text() == "not a handwriting file"
