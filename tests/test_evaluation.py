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
