import numpy as np
import paddle
import paddle.nn.functional as F

from course_utils.evaluation import confusion_matrix, cross_entropy, result_from_logits, softmax


def test_cross_entropy_matches_paddle():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(64, 10)).astype(np.float32) * 5
    labels = rng.integers(0, 10, 64)
    expected = float(F.cross_entropy(paddle.to_tensor(logits), paddle.to_tensor(labels)))
    assert abs(cross_entropy(logits, labels) - expected) < 1e-5


def test_softmax_rows_are_probabilities_even_for_large_logits():
    probabilities = softmax(np.array([[1000.0, 0.0, -1000.0], [1.0, 1.0, 1.0]]))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    np.testing.assert_allclose(probabilities[1], 1 / 3)
    assert probabilities[0, 0] == 1.0


def test_confusion_matrix_and_per_class_accuracy():
    labels = np.array([0, 0, 1, 1, 1, 2])
    predictions = np.array([0, 1, 1, 1, 2, 2])
    matrix = confusion_matrix(labels, predictions, classes=3)
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 2, 1], [0, 0, 1]])
    logits = np.eye(10)[predictions]
    result = result_from_logits(logits, labels)
    assert result.accuracy == 4 / 6
    np.testing.assert_allclose(result.per_class_accuracy[:3], [0.5, 2 / 3, 1.0])
    assert result.per_class_accuracy[3:].sum() == 0  # digits absent from the labels count as 0, not NaN
    np.testing.assert_array_equal(result.predictions, predictions)


def _linear_checkpoint(path, weight, bias, model="softmax"):
    """A SoftmaxRegression checkpoint with the given fc weight [784, 10] and bias [10] (saved as ``model``)."""
    from course_utils.checkpoint import save_checkpoint
    from course_utils.models import build_model

    net = build_model("softmax")
    net.set_state_dict({"fc.weight": paddle.to_tensor(weight), "fc.bias": paddle.to_tensor(bias)})
    return save_checkpoint(path, net, model=model)


def test_ensemble_averages_the_members_probabilities(tmp_path):
    from course_utils.evaluation import evaluate_ensemble
    from course_utils.mnist import Split
    from course_utils.preprocess import normalize

    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(50, 28, 28), dtype=np.uint8)
    split = Split(images, rng.integers(0, 10, 50))
    members = [(rng.normal(size=(784, 10)).astype(np.float32) * 0.05, rng.normal(size=10).astype(np.float32) * 2)
               for _ in range(2)]
    paths = [_linear_checkpoint(tmp_path / f"m{i}.pdckpt", w, b) for i, (w, b) in enumerate(members)]

    x = normalize(images).reshape(50, 784).astype(np.float64)
    by_hand = []
    for w, b in members:
        z = x @ w + b
        e = np.exp(z - z.max(axis=1, keepdims=True))
        by_hand.append(e / e.sum(axis=1, keepdims=True))
    expected = (by_hand[0] + by_hand[1]) / 2

    found = evaluate_ensemble(paths, split, backend="dynamic")
    np.testing.assert_allclose(softmax(found.result.logits), expected, atol=1e-5)
    assert found.result.accuracy == np.mean(expected.argmax(axis=1) == split.labels)
    assert [m.result.accuracy for m in found.members] == [np.mean(p.argmax(axis=1) == split.labels) for p in by_hand]
    # averaging logits would be another ensemble: make sure these members are a case where the two differ
    logit_mean = sum(x @ w + b for w, b in members) / 2
    assert not np.allclose(softmax(logit_mean), expected, atol=1e-3)


def test_ensemble_of_another_models_checkpoint_is_refused(tmp_path):
    import pytest

    from course_utils.errors import CourseError
    from course_utils.evaluation import evaluate_ensemble
    from course_utils.mnist import Split

    w, b = np.zeros((784, 10), np.float32), np.zeros(10, np.float32)
    good = _linear_checkpoint(tmp_path / "good.pdckpt", w, b)
    wrong = _linear_checkpoint(tmp_path / "wrong.pdckpt", w, b, model="small_cnn")
    split = Split(np.zeros((4, 28, 28), np.uint8), np.zeros(4, np.int64))
    with pytest.raises(CourseError, match="holds small_cnn, which does not fit SmallCNN"):
        evaluate_ensemble([good, wrong], split, backend="dynamic")
    with pytest.raises(CourseError, match="at least one"):
        evaluate_ensemble([], split)
