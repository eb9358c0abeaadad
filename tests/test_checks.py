import random

import numpy as np
import paddle
import pytest

from course_utils import checks
from course_utils.models import CourseCNN
from course_utils.preprocess import normalize


def good_generator(images, labels, batch_size, shuffle):
    index = list(range(len(images)))
    if shuffle:
        random.shuffle(index)
    for start in range(0, len(index), batch_size):
        chosen = index[start : start + batch_size]
        yield normalize(images[chosen]), labels[chosen].astype("int64")


def test_batch_generator_check_accepts_a_right_answer(mnist, capsys):
    checks.check_batch_generator(good_generator, mnist.train)
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize(
    "broken, hint",
    [
        (lambda im, lb, bs, sh: (b for b in list(good_generator(im, lb, bs, sh))[:-1]), "最后一个 50"),
        (lambda im, lb, bs, sh: ((x * 2, y) for x, y in good_generator(im, lb, bs, sh)), "normalize"),
        (lambda im, lb, bs, sh: ((x, y.astype("int32")) for x, y in good_generator(im, lb, bs, sh)), "int64"),
        (lambda im, lb, bs, sh: good_generator(im, lb, bs, False), "打乱"),
        (lambda im, lb, bs, sh: ((x, np.roll(y, 1)) for x, y in good_generator(im, lb, bs, False)), "标签与图像对不上"),
    ],
)
def test_batch_generator_check_explains_what_is_wrong(mnist, broken, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_batch_generator(broken, mnist.train)


def test_flatten_size_check(capsys):
    checks.check_flatten_size(980)
    assert "980" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="28 → 14 → 7"):
        checks.check_flatten_size(20 * 14 * 14)


class SoftmaxAtTheEnd(CourseCNN):
    def forward(self, x):
        return paddle.nn.functional.softmax(super().forward(x))


class ReluSkipped(CourseCNN):
    def forward(self, x):
        x = self.pool2(self.conv2(self.pool1(paddle.nn.functional.relu(self.conv1(x)))))
        return self.fc(paddle.flatten(x, 1))


def test_forward_check(capsys):
    checks.check_forward(CourseCNN())
    assert capsys.readouterr().out.startswith("✅")
    with pytest.raises(AssertionError, match="logits"):
        checks.check_forward(SoftmaxAtTheEnd())
    with pytest.raises(AssertionError, match="参考实现不同"):
        checks.check_forward(ReluSkipped())


def test_accuracy_check(trained, mnist, capsys):
    model, _ = trained
    split = type(mnist.test)(mnist.test.images[:500], mnist.test.labels[:500])
    right = float(np.mean(model(paddle.to_tensor(normalize(split.images))).numpy().argmax(1) == split.labels))
    checks.check_accuracy(right, model, split)
    assert capsys.readouterr().out.startswith("✅")
    with pytest.raises(AssertionError, match="除以样本总数"):
        checks.check_accuracy(right * 500, model, split)
    with pytest.raises(AssertionError, match="实际正确率不同"):
        checks.check_accuracy(right - 0.01, model, split)
