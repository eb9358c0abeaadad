import numpy as np
import pytest

from course_utils.errors import CourseError
from course_utils.evaluation import predict_logits
from course_utils.export import InferenceModel, export_model, load_exported
from course_utils.preprocess import normalize


def test_exported_model_matches_the_training_model_on_the_test_set(trained, mnist, tmp_path):
    model, _ = trained
    prefix = export_model(model, tmp_path / "deploy" / "digits")
    assert sorted(p.name for p in prefix.parent.iterdir()) == ["digits.json", "digits.pdiparams"]
    expected = predict_logits(model, mnist.test.images)

    reloaded = load_exported(prefix)
    assert np.abs(predict_logits(reloaded, mnist.test.images) - expected).max() < 1e-5

    inference = InferenceModel(prefix)
    logits = np.concatenate(
        [inference(normalize(mnist.test.images[i : i + 1000])) for i in range(0, len(mnist.test), 1000)]
    )
    assert logits.shape == (10000, 10)
    assert np.abs(logits - expected).max() < 1e-5


def test_export_leaves_the_model_mode_alone(trained, tmp_path):
    model, _ = trained
    model.train()
    export_model(model, tmp_path / "m")
    assert model.training
    model.eval()


def test_missing_export_is_explained(tmp_path):
    with pytest.raises(CourseError, match="no exported model .*missing nothing.json, nothing.pdiparams.*export"):
        InferenceModel(tmp_path / "nothing")
    with pytest.raises(CourseError, match="no exported model"):
        load_exported(tmp_path / "nothing")
