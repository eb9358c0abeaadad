import numpy as np
import paddle
import pytest

from course_utils.errors import CourseError
from course_utils.models import MODELS, CourseCNN, build_model, registry_name


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_returns_logits_for_a_batch(name):
    paddle.seed(0)
    model = build_model(name)
    model.eval()
    logits = model(paddle.randn([4, 1, 28, 28])).numpy()
    assert logits.shape == (4, 10)
    # Logits, not probabilities: rows need not sum to one and can be negative.
    assert not np.allclose(logits.sum(axis=1), 1.0, atol=1e-3)
    assert (logits < 0).any()


@pytest.mark.parametrize("name", list(MODELS))
def test_registry_name_recognises_each_architecture(name):
    assert registry_name(build_model(name)) == name


def test_registry_name_of_a_custom_model_is_none():
    assert registry_name(paddle.nn.Sequential(paddle.nn.Flatten(), paddle.nn.Linear(784, 10))) is None


def test_course_cnn_matches_the_original_design():
    model = CourseCNN()
    features = model.pool2(paddle.nn.functional.relu(model.conv2(model.pool1(paddle.nn.functional.relu(model.conv1(paddle.zeros([1, 1, 28, 28])))))))
    assert features.shape == [1, 20, 7, 7]
    assert model.fc.weight.shape == [980, 10]
    assert sum(int(np.prod(p.shape)) for p in model.parameters()) == 20350


def test_unknown_model_name_is_refused():
    with pytest.raises(CourseError, match="unknown model 'resnet'.*small_cnn"):
        build_model("resnet")
