import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from course_utils.errors import CourseError
from course_utils.export import current_onnx
from course_utils.imaging import image_file_to_mnist
from course_utils.prediction import (
    SECOND_CHOICE_FROM,
    UNCERTAIN_BELOW,
    CheckpointPredictor,
    Prediction,
    describe,
    find_images,
    is_uncertain,
    predict_file,
    top_two,
)
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


# The command line's predictor: a checkpoint's current ONNX export without Paddle, else the dynamic graph.

EXAMPLE = PROJECT_ROOT / "work" / "example_0.jpg"


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    """A copy of the trained checkpoint, in a folder of its own, with its ONNX export made by a first predictor."""
    checkpoint = tmp_path_factory.mktemp("exported") / "m.pdckpt"
    shutil.copy(trained[1], checkpoint)
    first = CheckpointPredictor([checkpoint])
    assert first.backends == ["dynamic"] and len(first.notes) == 1
    assert "no current ONNX export" in first.notes[0] and "exported it to" in first.notes[0]
    return checkpoint


def test_a_current_export_runs_in_onnx_runtime_with_the_dynamic_graphs_answer(trained, exported):
    model, _ = trained
    assert current_onnx(exported) == exported.with_suffix(".onnx")
    fast = CheckpointPredictor([exported])
    assert fast.backends == ["onnxruntime"] and fast.notes == []
    for name in ["example_0.jpg", "example_1.jpg", "example_2.png"]:
        photo = PROJECT_ROOT / "work" / name
        got, expected = fast.predict_file(photo), predict_file(model, photo)
        np.testing.assert_allclose(got.probabilities, expected.probabilities, atol=1e-5)
        assert got.digit == expected.digit and got.to_json()["file"] == expected.to_json()["file"]
    dynamic = CheckpointPredictor([exported], backend="dynamic")
    assert dynamic.backends == ["dynamic"] and dynamic.notes == []


def test_a_changed_checkpoint_never_gets_its_old_exports_answer(trained, tmp_path, save_model):
    model, saved = trained
    checkpoint = tmp_path / "m.pdckpt"
    shutil.copy(saved, checkpoint)
    CheckpointPredictor([checkpoint])  # exports the trained model
    assert current_onnx(checkpoint) is not None
    retrained = save_model(checkpoint, seed=1)  # the same file, now another model: its export is stale
    assert current_onnx(checkpoint) is None
    after = CheckpointPredictor([checkpoint])
    assert after.backends == ["dynamic"] and "exported it to" in after.notes[0]
    got, stale = after.predict_file(EXAMPLE), predict_file(model, EXAMPLE)
    np.testing.assert_allclose(got.probabilities, predict_file(retrained, EXAMPLE).probabilities, atol=1e-5)
    assert not np.allclose(got.probabilities, stale.probabilities, atol=1e-2)
    again = CheckpointPredictor([checkpoint])  # exported for the new model: fast again, with its answer
    assert again.backends == ["onnxruntime"]
    np.testing.assert_allclose(again.predict_file(EXAMPLE).probabilities, got.probabilities, atol=1e-5)


def test_a_corrupt_onnx_file_falls_back_with_a_note_and_is_converted_again(exported, tmp_path):
    checkpoint = tmp_path / "m.pdckpt"
    for suffix in [".pdckpt", ".json", ".pdiparams", ".source.json"]:
        shutil.copy(exported.with_suffix(suffix), checkpoint.with_suffix(suffix))
    checkpoint.with_suffix(".onnx").write_bytes(b"half a download")
    expected = CheckpointPredictor([exported]).predict_file(EXAMPLE).probabilities
    fallback = CheckpointPredictor([checkpoint])
    assert fallback.backends == ["dynamic"] and len(fallback.notes) == 1
    assert "not a model ONNX Runtime can run" in fallback.notes[0] and "exported it to" in fallback.notes[0]
    np.testing.assert_allclose(fallback.predict_file(EXAMPLE).probabilities, expected, atol=1e-5)
    assert CheckpointPredictor([checkpoint]).backends == ["onnxruntime"]


def test_several_checkpoints_average_their_probabilities(exported, tmp_path, save_model):
    other = tmp_path / "other.pdckpt"
    save_model(other, seed=2)
    one, two = CheckpointPredictor([exported]), CheckpointPredictor([other], backend="dynamic")
    both = CheckpointPredictor([exported, other], backend="dynamic")
    assert both.backends == ["dynamic", "dynamic"]
    photos = [PROJECT_ROOT / "work" / name for name in ["example_0.jpg", "example_2.png"]]
    images = np.stack([image_file_to_mnist(photo) for photo in photos])
    mean = (one.probabilities(images) + two.probabilities(images)) / 2
    np.testing.assert_allclose(both.probabilities(images), mean, atol=1e-6)
    np.testing.assert_allclose(both.predict_file(EXAMPLE).probabilities, mean[0], atol=1e-6)
    with pytest.raises(CourseError, match="no checkpoint given"):
        CheckpointPredictor([])


FAST_PATH = """
import sys
from course_utils.tools.cli import main
code = main(["predict", sys.argv[1], "--checkpoint", sys.argv[2], "--json"])
print(code, sorted({name.split(".")[0] for name in sys.modules} & {"paddle", "matplotlib", "tqdm", "paddle2onnx"}))
"""


def test_the_fast_path_never_imports_paddle(exported):
    done = subprocess.run([sys.executable, "-c", FAST_PATH, str(EXAMPLE), str(exported)],
                          capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    prediction, modules = done.stdout.strip().splitlines()
    assert json.loads(prediction)["digit"] == 3
    assert modules == "0 []"


def test_top_two_and_uncertain_follow_the_one_threshold():
    probabilities = np.full(10, 0.01)
    probabilities[[4, 9]] = [0.55, 0.37]
    unsure = Prediction("x.png", 4, probabilities, np.zeros((28, 28), np.uint8))
    assert unsure.top_two == top_two(probabilities) == ((4, pytest.approx(0.55)), (9, pytest.approx(0.37)))
    assert unsure.uncertain and is_uncertain(probabilities)
    assert describe(probabilities) == "不确定 (uncertain): 4 (55%) 或 9 (37%)"
    report = unsure.to_json()
    assert list(report)[:3] == ["file", "digit", "probabilities"]  # the fields before top-two stay as they were
    assert report["top_two"] == [{"digit": 4, "probability": 0.55}, {"digit": 9, "probability": 0.37}]
    assert report["uncertain"] is True
    at_threshold = np.zeros(10)
    at_threshold[[2, 7]] = [UNCERTAIN_BELOW, 1 - UNCERTAIN_BELOW]
    assert not is_uncertain(at_threshold) and top_two(at_threshold)[1][0] == 7
    just_below = np.zeros(10)
    just_below[[2, 7]] = [UNCERTAIN_BELOW - 1e-3, 1 - UNCERTAIN_BELOW + 1e-3]
    assert is_uncertain(just_below)
    tie = np.full(10, 0.1)
    assert top_two(tie) == ((0, pytest.approx(0.1)), (1, pytest.approx(0.1)))
    with pytest.raises(ValueError, match=r"\[10\]"):
        top_two(np.full((1, 10), 0.1))


def test_describe_names_a_runner_up_only_from_second_choice_from():
    probabilities = np.zeros(10)
    probabilities[[3, 5]] = [1 - SECOND_CHOICE_FROM, SECOND_CHOICE_FROM]
    assert describe(probabilities) == "预测 (prediction): 3 (95%) · 其次 (next): 5 (5%)"
    probabilities[[3, 5]] = [1 - SECOND_CHOICE_FROM + 0.01, SECOND_CHOICE_FROM - 0.01]
    assert describe(probabilities) == "预测 (prediction): 3 (96%)"
