import numpy as np
import pytest
from PIL import Image

from course_utils.prediction import find_images, predict_file
from course_utils.settings import PROJECT_ROOT


def _photo_of(digit: np.ndarray, path) -> None:
    """An MNIST digit as a student might photograph it: large, dark ink on light paper, off-centre, JPEG."""
    ink = Image.fromarray(255 - digit).resize((300, 300), Image.Resampling.LANCZOS)
    paper = Image.new("L", (640, 480), 235)
    paper.paste(ink, (60, 120), Image.fromarray(digit).resize((300, 300), Image.Resampling.LANCZOS))
    paper.convert("RGB").save(path, quality=85)


def test_photographed_test_digits_are_read_correctly(trained, mnist, tmp_path):
    model, _ = trained
    hits = 0
    indexes = range(0, 40)
    for i in indexes:
        _photo_of(mnist.test.images[i], tmp_path / f"{i}.jpg")
        prediction = predict_file(model, tmp_path / f"{i}.jpg")
        assert prediction.image.shape == (28, 28) and prediction.image.dtype == np.uint8
        assert np.isclose(prediction.probabilities.sum(), 1.0, atol=1e-5)
        hits += prediction.digit == mnist.test.labels[i]
    assert hits >= 38, f"{hits} of {len(indexes)} photographed digits read correctly"


@pytest.mark.parametrize("name, digit", [("example_0.jpg", 3), ("example_1.jpg", 5), ("example_2.png", 2)])
def test_committed_example_images_are_predicted(trained, name, digit):
    """The photos in work/ were made from MNIST test digits 3, 5 and 2 (tools/make_example_image.py)."""
    model, _ = trained
    prediction = predict_file(model, PROJECT_ROOT / "work" / name)
    assert prediction.to_json()["file"].endswith(name)
    assert prediction.digit == prediction.to_json()["digit"] == digit


def test_find_images_lists_only_images(tmp_path):
    for name in ["b.PNG", "a.jpg", "c.txt", "d.bmp", "e.jpeg"]:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "f.png").mkdir()
    assert [p.name for p in find_images(tmp_path)] == ["a.jpg", "b.PNG", "d.bmp", "e.jpeg"]
