"""The evaluation fast path: a checkpoint's export beside it, reused while current, and a clean fallback."""
import json
import shutil

import numpy as np
import paddle
import pytest

import course_utils.mnist
from course_utils import evaluation, export
from course_utils.tools.cli import main
from course_utils.errors import CourseError
from course_utils.evaluation import evaluate, evaluate_checkpoint
from course_utils.mnist import MnistData, Split


@pytest.fixture(scope="module")
def test_images(mnist) -> Split:
    return Split(mnist.test.images[:2000], mnist.test.labels[:2000])


def test_fastest_runtime_is_used_and_agrees_with_the_dynamic_graph(trained, tmp_path, test_images):
    model, saved = trained
    shutil.copy(saved, tmp_path / "m.pdckpt")
    found = evaluate_checkpoint(tmp_path / "m.pdckpt", test_images)
    assert found.backend == ("onnxruntime" if export.onnx_available() else "inference")
    assert found.fallback_reason is None and found.meta["model"] == "small_cnn"
    assert {p.name for p in tmp_path.iterdir()} >= {"m.pdckpt", "m.json", "m.pdiparams", "m.source.json"}
    expected = evaluate(model, test_images)
    np.testing.assert_allclose(found.result.logits, expected.logits, atol=1e-4)
    np.testing.assert_array_equal(found.result.predictions, expected.predictions)
    assert found.result.accuracy == expected.accuracy
    for name in evaluation.RUNTIMES:
        if name != "onnxruntime" or export.onnx_available():
            forced = evaluate_checkpoint(tmp_path / "m.pdckpt", test_images, backend=name)
            assert forced.backend == name and forced.result.accuracy == expected.accuracy


def test_export_is_reused_until_the_checkpoint_changes(tmp_path, test_images, save_model):
    checkpoint = tmp_path / "m.pdckpt"
    save_model(checkpoint, seed=1)
    evaluate_checkpoint(checkpoint, test_images, backend="inference")
    written = (tmp_path / "m.pdiparams").stat().st_mtime_ns
    evaluate_checkpoint(checkpoint, test_images, backend="inference")
    assert (tmp_path / "m.pdiparams").stat().st_mtime_ns == written  # current: not exported again

    retrained = save_model(checkpoint, seed=2)  # a new run writes the same checkpoint path
    found = evaluate_checkpoint(checkpoint, test_images, backend="inference")
    np.testing.assert_allclose(found.result.logits, evaluate(retrained, test_images).logits, atol=1e-4)
    assert (tmp_path / "m.pdiparams").stat().st_mtime_ns != written


def test_exporting_again_drops_the_stale_onnx_copy(tmp_path, save_model):
    checkpoint = tmp_path / "m.pdckpt"
    save_model(checkpoint, seed=1)
    prefix = export.export_checkpoint(checkpoint)
    (tmp_path / "m.onnx").write_bytes(b"converted from the earlier export")
    assert export.export_checkpoint(checkpoint, reuse=True) == prefix and (tmp_path / "m.onnx").exists()
    export.export_checkpoint(checkpoint)
    assert not (tmp_path / "m.onnx").exists()
    assert json.loads((tmp_path / "m.source.json").read_text())["paddle"] == paddle.__version__


def test_a_failing_runtime_falls_back_to_the_dynamic_graph(tmp_path, test_images, monkeypatch, save_model):
    model = save_model(tmp_path / "m.pdckpt", seed=3)

    def broken(prefix):
        raise RuntimeError("oneDNN is not supported on this CPU")

    monkeypatch.setattr(evaluation, "RUNTIMES", {"onnxruntime": broken, "inference": broken})
    found = evaluate_checkpoint(tmp_path / "m.pdckpt", test_images)
    assert found.backend == "dynamic"
    assert "inference: RuntimeError: oneDNN is not supported" in found.fallback_reason
    np.testing.assert_array_equal(found.result.logits, evaluate(model, test_images).logits)
    with pytest.raises(CourseError, match="could not evaluate .* inference: RuntimeError.*--backend dynamic"):
        evaluate_checkpoint(tmp_path / "m.pdckpt", test_images, backend="inference")


def test_without_onnx_packages_auto_uses_paddle_inference(tmp_path, test_images, monkeypatch, save_model):
    save_model(tmp_path / "m.pdckpt", seed=1)
    monkeypatch.setattr(evaluation, "onnx_available", lambda: False)
    found = evaluate_checkpoint(tmp_path / "m.pdckpt", test_images)
    assert found.backend == "inference" and found.fallback_reason is None
    monkeypatch.setattr(export, "onnx_available", lambda: False)
    with pytest.raises(CourseError, match="pip install onnxruntime paddle2onnx"):
        export.OnnxModel(tmp_path / "m")


def test_a_failed_export_is_a_fallback_but_a_missing_checkpoint_is_an_error(
    tmp_path, test_images, monkeypatch, save_model
):
    save_model(tmp_path / "m.pdckpt", seed=1)

    def no_disk_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(evaluation, "export_checkpoint", no_disk_space)
    found = evaluate_checkpoint(tmp_path / "m.pdckpt", test_images)
    assert found.backend == "dynamic" and "No space left on device" in found.fallback_reason
    with pytest.raises(CourseError, match="no checkpoint at"):
        evaluate_checkpoint(tmp_path / "missing.pdckpt", test_images)
    with pytest.raises(CourseError, match="unknown backend 'tensorrt'"):
        evaluate_checkpoint(tmp_path / "m.pdckpt", test_images, backend="tensorrt")


def test_cli_evaluate_reports_the_backend_and_notes_a_fallback(
    tmp_path, mnist, test_images, monkeypatch, capsys, save_model
):
    save_model(tmp_path / "m.pdckpt", seed=1)
    small = MnistData(mnist.train, mnist.val, test_images)
    monkeypatch.setattr(course_utils.mnist, "load_mnist", lambda *args, **kwargs: small)

    def broken(prefix):
        raise RuntimeError("no predictor")

    monkeypatch.setattr(evaluation, "RUNTIMES", {"inference": broken})
    assert main(["evaluate", "--checkpoint", str(tmp_path / "m.pdckpt"), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["backend"] == "dynamic"
    assert err == "note: evaluated with dynamic; skipped inference: RuntimeError: no predictor\n"
