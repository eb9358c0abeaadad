"""Chapter 4's upload button without a browser: bytes in, as ``FileUpload`` delivers them; the photo saved under
work/uploads/ without overwriting anything, and read at once; bad files refused with one line."""
from __future__ import annotations

import datetime as dt

import pytest
from ipywidgets.widgets.widget_upload import _deserialize_value

from course_utils import upload
from course_utils.errors import CourseError
from course_utils.settings import PROJECT_ROOT
from course_utils.upload import NO_WIDGETS, PhotoUpload, save_upload, uploaded_files

EXAMPLE = PROJECT_ROOT / "work" / "example_0.jpg"  # a photographed 3 (tools/make_example_image.py)


def from_browser(*files: tuple[str, bytes]) -> list[dict]:
    """The message the front end sends for an upload: content as a binary buffer (a memoryview in the kernel),
    ``last_modified`` in milliseconds."""
    return [{"name": name, "type": "image/jpeg", "size": len(content), "content": memoryview(content),
             "last_modified": 1_700_000_000_000} for name, content in files]


def test_uploaded_files_reads_both_forms_of_the_value():
    photo = EXAMPLE.read_bytes()
    from_front_end = _deserialize_value(from_browser(("a.jpg", photo)), None)  # what FileUpload.value holds then
    assert isinstance(from_front_end[0]["content"], memoryview)
    set_in_python = ({"name": "b.jpg", "type": "image/jpeg", "size": 3, "content": b"abc",
                      "last_modified": dt.datetime.now(dt.timezone.utc)},)
    assert uploaded_files(from_front_end) == [("a.jpg", photo)]
    assert uploaded_files(set_in_python) == [("b.jpg", b"abc")]


def test_an_upload_never_overwrites_an_earlier_one(tmp_path):
    first, renamed = save_upload("digit.JPG", b"first", tmp_path)
    assert (first.name, renamed) == ("digit.jpg", False)
    second, renamed = save_upload("digit.jpg", b"second", tmp_path)
    third, _ = save_upload("digit.jpg", b"third", tmp_path)
    assert (second.name, renamed, third.name) == ("digit-2.jpg", True, "digit-3.jpg")
    assert [path.read_bytes() for path in (first, second, third)] == [b"first", b"second", b"third"]


def test_only_the_file_name_is_kept(tmp_path):
    path, _ = save_upload("../../etc/evil.png", b"x", tmp_path / "uploads")
    assert path == tmp_path / "uploads" / "evil.png"


@pytest.mark.parametrize(("name", "content", "words"), [
    ("notes.txt", b"hello", "JPEG, PNG or BMP"), ("IMG_0001.HEIC", b"heic", "JPEG, PNG or BMP"),
    ("empty.jpg", b"", "0 bytes"),
], ids=["text", "heic", "empty"])
def test_files_it_cannot_read_are_refused_unsaved(tmp_path, name, content, words):
    with pytest.raises(CourseError, match=words) as error:
        save_upload(name, content, tmp_path)
    assert "\n" not in str(error.value)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_no_half_file(tmp_path):
    with pytest.raises(TypeError):  # the file is created, then writing fails
        save_upload("digit.jpg", "text, not bytes", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_widget_saves_and_reads_each_upload(trained, tmp_path):
    model, _ = trained
    widget = PhotoUpload(model, tmp_path)
    photo = EXAMPLE.read_bytes()
    widget.button.set_state({"value": from_browser(("three.jpg", photo), ("notes.txt", b"hi"))})
    widget.button.set_state({"value": from_browser(("three.jpg", photo))})  # the same photo once more
    assert [path.name for path, _ in widget.predictions] == ["three.jpg", "three-2.jpg"]
    assert all(prediction.digit == 3 for _, prediction in widget.predictions)
    assert (tmp_path / "three.jpg").read_bytes() == (tmp_path / "three-2.jpg").read_bytes() == photo
    assert not (tmp_path / "notes.txt").exists()
    assert any("notes.txt" in line and "JPEG, PNG or BMP" in line for line in widget.messages)
    assert any("three-2.jpg" in line and "已有同名文件" in line for line in widget.messages)
    assert any(line.startswith("three.jpg: 预测 (prediction): 3") for line in widget.messages)
    assert widget.button.value == ()  # emptied, so the same file can be uploaded again


def test_a_picture_without_a_digit_gets_one_line(trained, tmp_path):
    from io import BytesIO

    from PIL import Image

    blank = BytesIO()
    Image.new("RGB", (200, 200), "white").save(blank, "PNG")
    widget = PhotoUpload(trained[0], tmp_path)
    widget.button.set_state({"value": from_browser(("blank.png", blank.getvalue()))})
    assert widget.predictions == [] and (tmp_path / "blank.png").exists()
    assert any("no digit found" in line for line in widget.messages)


def test_the_default_folder_is_work_uploads(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_WORK_DIR", str(tmp_path))
    assert upload.upload_dir() == tmp_path / "uploads"


def test_a_front_end_without_widgets_shows_one_line(trained):
    assert repr(PhotoUpload(trained[0])) == NO_WIDGETS and "\n" not in NO_WIDGETS
