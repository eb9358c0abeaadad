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


def test_batch_generator_check_accepts_a_right_answer(capsys):
    checks.check_batch_generator(good_generator)
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize(
    "broken, hint",
    [
        (lambda im, lb, bs, sh: (b for b in list(good_generator(im, lb, bs, sh))[:-1]), "最后一个"),
        (lambda im, lb, bs, sh: ((x * 2, y) for x, y in good_generator(im, lb, bs, sh)), "normalize"),
        (lambda im, lb, bs, sh: ((x, y.astype("int32")) for x, y in good_generator(im, lb, bs, sh)), "int64"),
        (lambda im, lb, bs, sh: good_generator(im, lb, bs, False), "打乱"),
        (lambda im, lb, bs, sh: ((x, np.roll(y, 1)) for x, y in good_generator(im, lb, bs, False)), "标签与图像对不上"),
    ],
)
def test_batch_generator_check_explains_what_is_wrong(broken, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_batch_generator(broken)


def test_flatten_size_check(capsys):
    checks.check_flatten_size(980)
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize(
    "wrong, hint",
    [(None, "还没有填写"), (20 * 14 * 14, "只算了一次池化"), (20 * 28 * 28, "一次都没有减半"), (49, "通道数"),
     (1000, "逐层算出"), ("980", "整数")],
)
def test_flatten_size_check_hints_without_giving_the_answer(wrong, hint):
    with pytest.raises(AssertionError, match=hint) as failure:
        checks.check_flatten_size(wrong)
    assert "980" not in str(failure.value).replace(repr(wrong), "")


class RightForward(CourseCNN):
    """A student's own forward, in the order of CourseCNN's layers."""

    def forward(self, x):
        x = self.pool1(paddle.nn.functional.relu(self.conv1(x)))
        x = self.pool2(paddle.nn.functional.relu(self.conv2(x)))
        return self.fc(paddle.flatten(x, 1))


class SoftmaxAtTheEnd(RightForward):
    def forward(self, x):
        return paddle.nn.functional.softmax(super().forward(x))


class InheritedForward(CourseCNN):
    """The library's own forward: what ``class MyCourseCNN(models.CourseCNN)`` with no forward of its own gives."""


class ReluSkipped(CourseCNN):
    def forward(self, x):
        x = self.pool2(self.conv2(self.pool1(paddle.nn.functional.relu(self.conv1(x)))))
        return self.fc(paddle.flatten(x, 1))


def test_forward_check(capsys):
    checks.check_forward(RightForward)
    assert capsys.readouterr().out.startswith("✅")
    with pytest.raises(AssertionError, match="logits"):
        checks.check_forward(SoftmaxAtTheEnd)
    with pytest.raises(AssertionError, match="参考实现不同"):
        checks.check_forward(ReluSkipped)
    with pytest.raises(AssertionError, match="不是一个 RightForward 对象"):
        checks.check_forward(RightForward())
    with pytest.raises(AssertionError, match="CourseCNN.forward"):
        checks.check_forward(InheritedForward)


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
    with pytest.raises(AssertionError, match="应是一个 0 到 1 之间的数"):
        checks.check_accuracy(None, model, split)  # what the untouched stub's `accuracy` would be, had it one


def stub(*args, **kwargs):
    raise NotImplementedError()


def test_batch_generator_check_reports_an_untouched_stub():
    with pytest.raises(AssertionError, match="还没有写"):
        checks.check_batch_generator(stub)


class ForwardStub(CourseCNN):
    def forward(self, x):
        raise NotImplementedError()


def test_forward_check_reports_an_untouched_stub():
    with pytest.raises(AssertionError, match="还没有写"):
        checks.check_forward(ForwardStub)


def test_normalize_pixels_check_accepts_a_right_answer(capsys):
    def right(images):
        return ((images[:, None] / 255.0 - 0.1307) / 0.3081).astype(np.float32)

    checks.check_normalize_pixels(right)
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (stub, "还没有写"),
        (lambda im: ((im / 255.0 - 0.1307) / 0.3081).astype(np.float32), r"\[N, 28, 28\]"),
        (lambda im: (im[:, None] / 255.0 - 0.1307) / 0.3081, "float32"),
        (lambda im: ((im[:, None] - 0.1307) / 0.3081).astype(np.float32), "255"),
        (lambda im: (im[:, None] / 255.0).astype(np.float32), "0 到 1"),
        (lambda im: ((0.1307 - im[:, None] / 255.0) / 0.3081).astype(np.float32), "符号反了"),
        (lambda im: ((im[:, None] / 255.0 - 0.3081) / 0.1307).astype(np.float32), "用反了"),
    ],
)
def test_normalize_pixels_check_explains_what_is_wrong(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_normalize_pixels(wrong)


def dataset_class(getitem):
    class DigitDataset(paddle.io.Dataset):
        def __init__(self, split):
            super().__init__()
            self.split = split

        def __len__(self):
            return len(self.split)

    DigitDataset.__getitem__ = getitem
    return DigitDataset


def test_dataset_getitem_check_accepts_a_right_answer(capsys):
    right = dataset_class(lambda self, i: (normalize(self.split.images[i])[0], self.split.labels[i]))
    checks.check_dataset_getitem(right)
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize(
    "getitem, hint",
    [
        (stub, "还没有写"),
        (lambda self, i: (self.split.images[i], self.split.labels[i]), r"\[1, 28, 28\]"),
        (lambda self, i: (normalize(self.split.images[i]), self.split.labels[i]), r"再加 \[0\]"),
        (lambda self, i: (self.split.images[i][None].astype("float32"), self.split.labels[i]), "normalize"),
        (lambda self, i: (normalize(self.split.images[i])[0], self.split.labels[i + 1]), "同一个 index"),
        (lambda self, i: (normalize(self.split.images[i])[0], self.split.labels[i : i + 1]), "int64 整数"),
        (lambda self, i: normalize(self.split.images[i])[0], r"一对 \(图像, 标签\)"),
    ],
)
def test_dataset_getitem_check_explains_what_is_wrong(getitem, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_dataset_getitem(dataset_class(getitem))


def trainable_values(model):
    return sum(int(np.prod(p.shape)) for p in model.parameters() if not p.stop_gradient)


def test_count_parameters_check_accepts_a_right_answer(capsys):
    checks.check_count_parameters(trainable_values)
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (stub, "还没有写"),
        (lambda model: sum(int(np.prod(p.shape)) for p in model.parameters()), "stop_gradient"),
        (lambda model: len(model.parameters()), "参数张量的个数"),
        (lambda model: sum(int(np.prod(p.shape)) for p in model.parameters() if len(p.shape) > 1), "偏置"),
        (lambda model: None, "没有返回值"),
    ],
)
def test_count_parameters_check_explains_what_is_wrong(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_count_parameters(wrong)


def right_step(model, optimizer, images, labels):
    loss = paddle.nn.functional.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()
    optimizer.clear_grad()
    return float(loss)


def clear_first_step(model, optimizer, images, labels):
    optimizer.clear_grad()
    loss = paddle.nn.functional.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()
    return loss


def never_cleared(model, optimizer, images, labels):
    loss = paddle.nn.functional.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()
    return float(loss)


def no_step(model, optimizer, images, labels):
    loss = paddle.nn.functional.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.clear_grad()
    return float(loss)


def no_backward(model, optimizer, images, labels):
    loss = paddle.nn.functional.cross_entropy(model(images), labels)
    optimizer.step()
    optimizer.clear_grad()
    return float(loss)


def wrong_sign(model, optimizer, images, labels):
    loss = paddle.nn.functional.cross_entropy(model(images), labels)
    (-loss).backward()
    optimizer.step()
    optimizer.clear_grad()
    return float(loss)


def softmax_twice(model, optimizer, images, labels):
    loss = paddle.nn.functional.cross_entropy(paddle.nn.functional.softmax(model(images)), labels)
    loss.backward()
    optimizer.step()
    optimizer.clear_grad()
    return float(loss)


def loss_after_the_update(model, optimizer, images, labels):
    right_step(model, optimizer, images, labels)
    return float(paddle.nn.functional.cross_entropy(model(images), labels))


@pytest.mark.parametrize("step", [right_step, clear_first_step])
def test_train_step_check_accepts_a_right_answer(step, capsys):
    checks.check_train_step(step)
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (stub, "还没有写"),
        (never_cleared, "梯度没有清空"),
        (no_step, "没有调用 optimizer.step"),
        (no_backward, "从来没有算过梯度"),
        (wrong_sign, "符号反了"),
        (softmax_twice, "两次 softmax"),
        (loss_after_the_update, "更新参数之前"),
        (lambda *args: right_step(*args) and None, "没有返回损失"),
    ],
)
def test_train_step_check_explains_what_is_wrong(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_train_step(wrong)


RATES = [0.001, 0.01, 0.1, 1.0, 10.0]
SWEEP = {0.001: 2.1, 0.01: 1.2, 0.1: 0.4, 1.0: 0.9, 10.0: float("nan")}


def test_learning_rate_check_accepts_a_right_answer(capsys):
    checks.check_learning_rate(SWEEP, 0.1, RATES)
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize(
    "sweep, best, hint",
    [
        ({}, None, "还没有完成"),
        ({0.001: 2.1, 0.01: 1.2}, 0.01, "缺少"),
        (SWEEP, 10.0, "发散"),
        (SWEEP, 0.001, "最大"),
        (SWEEP, 1.0, "更小"),
        (SWEEP, 0.5, "不在 learning_rates 里"),
        (dict.fromkeys(RATES, 0.7), 0.1, "都一样"),
    ],
)
def test_learning_rate_check_explains_what_is_wrong(sweep, best, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_learning_rate(sweep, best, RATES)


def test_accuracy_check_catches_a_forgotten_eval(trained, mnist):
    """Chapter 5 hands the student the model in training mode; counting without model.eval() leaves it there, and
    dropout and batch statistics change the count."""
    from course_utils.checkpoint import load_model

    _, saved = trained
    model, _ = load_model(saved)  # a copy: train-mode forwards update batch-norm statistics of the shared fixture
    split = type(mnist.test)(mnist.test.images[:1000], mnist.test.labels[:1000])
    model.train()
    with paddle.no_grad():
        forgot_eval = float(np.mean(model(paddle.to_tensor(normalize(split.images))).numpy().argmax(1) == split.labels))
    with pytest.raises(AssertionError, match="model.eval"):
        checks.check_accuracy(forgot_eval, model, split)
    assert model.training, "the check must not switch the student's model to evaluation mode"


def good_confusion_matrix(labels, predictions):
    confusion = np.zeros((10, 10), dtype=np.int64)
    for label, prediction in zip(labels, predictions):
        confusion[label, prediction] += 1
    return confusion


def stub(*args):
    raise NotImplementedError()


def test_confusion_matrix_check_accepts_a_right_answer(capsys):
    checks.check_confusion_matrix(good_confusion_matrix)
    checks.check_confusion_matrix(lambda labels, predictions: np.bincount(labels * 10 + predictions, minlength=100)
                                  .reshape(10, 10))
    assert capsys.readouterr().out.count("✅") == 2


def set_to_one(labels, predictions):
    confusion = np.zeros((10, 10), dtype=np.int64)
    confusion[labels, predictions] = 1  # fancy indexing does not add up repeated pairs
    return confusion


@pytest.mark.parametrize(
    "broken, hint",
    [
        (lambda lb, pr: good_confusion_matrix(pr, lb), "行和列反了"),
        (set_to_one, r"\+= 1"),
        (lambda lb, pr: good_confusion_matrix(lb, pr)[: lb.max() + 1, : lb.max() + 1], r"形状应为 \[10, 10\]"),
        (lambda lb, pr: good_confusion_matrix(lb[1:], pr[1:]), "图像总数"),
    ],
)
def test_confusion_matrix_check_explains_what_is_wrong(broken, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_confusion_matrix(broken)


def test_confusion_matrix_check_on_the_stub():
    with pytest.raises(AssertionError, match="还没有写"):
        checks.check_confusion_matrix(stub)


BACKGROUND = float(normalize(np.zeros((1, 28, 28), np.uint8)).flat[0])


def make_shift(fill=BACKGROUND, same_for_all=False, high=1):
    """A loop-by-image random shift; the options make the typical mistakes."""

    def shift(images, max_shift, rng):
        n, _, h, w = images.shape
        m = max_shift
        padded = np.pad(images, ((0, 0), (0, 0), (m, m), (m, m)), constant_values=fill)
        shifted = np.empty_like(images)
        dy, dx = rng.integers(-m, m + high, size=2)
        for i in range(n):
            if not same_for_all:
                dy, dx = rng.integers(-m, m + high, size=2)
            shifted[i] = padded[i, :, m + dy : m + dy + h, m + dx : m + dx + w]
        return shifted

    return shift


good_random_shift = make_shift()


def test_random_shift_check_accepts_a_right_answer(capsys):
    checks.check_random_shift(good_random_shift)
    assert capsys.readouterr().out.startswith("✅")


def rolled(images, max_shift, rng):
    return np.stack([np.roll(image, tuple(rng.integers(-max_shift, max_shift + 1, size=2)), axis=(1, 2))
                     for image in images])


def in_place(images, max_shift, rng):
    images[:] = good_random_shift(images, max_shift, rng)
    return images


@pytest.mark.parametrize(
    "broken, hint",
    [
        (rolled, "np.roll"),
        (make_shift(fill=0.0), "填成了 0"),
        (make_shift(same_for_all=True), "平移得完全一样"),
        (make_shift(high=0), r"max_shift \+ 1"),
        (in_place, "不要原地修改"),
        (lambda images, m, rng: good_random_shift(images, m, rng).astype(np.float64), "float32"),
    ],
)
def test_random_shift_check_explains_what_is_wrong(broken, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_random_shift(broken)


def test_random_shift_check_on_the_stub():
    with pytest.raises(AssertionError, match="还没有写"):
        checks.check_random_shift(stub)


def _placed_by(box, top_from, left_from, rounding=round):
    """A student's centre_by_mass: the box's top-left corner at ``top_from(mass_row, mass_col, height)``,
    ``left_from(mass_row, mass_col, width)``, rounded with ``rounding`` (and kept inside the field)."""
    height, width = box.shape
    total = box.sum()
    mass_row = box.sum(axis=1) @ np.arange(height) / total
    mass_col = box.sum(axis=0) @ np.arange(width) / total
    top = int(np.clip(rounding(top_from(mass_row, mass_col, height)), 0, 28 - height))
    left = int(np.clip(rounding(left_from(mass_row, mass_col, width)), 0, 28 - width))
    field = np.zeros((28, 28))
    field[top : top + height, left : left + width] = box
    return np.rint(field * 255 / field.max()).astype(np.uint8)


def good_centre(box):
    return _placed_by(box, lambda r, c, h: 14 - r, lambda r, c, w: 14 - c)


def test_centre_by_mass_check_accepts_a_right_answer(capsys):
    checks.check_centre_by_mass(good_centre)
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize(
    "broken, hint",
    [
        (lambda box: _placed_by(box, lambda r, c, h: (28 - h) / 2, lambda r, c, w: (28 - w) / 2), "外接矩形"),
        (lambda box: _placed_by(box, lambda r, c, h: 14 + r, lambda r, c, w: 14 + c), "方向反了"),
        (lambda box: _placed_by(box, lambda r, c, h: 14 - c, lambda r, c, w: 14 - r), "行和列弄反了"),
        (lambda box: _placed_by(box, lambda r, c, h: 14 - r, lambda r, c, w: 14 - c, int), "四舍五入"),
        (lambda box: good_centre(box).astype(np.float64), "uint8"),
        (lambda box: (good_centre(box) // 255).astype(np.uint8), "255"),
        (lambda box: good_centre(box[::-1]), "不一样"),
        (lambda box: good_centre(box)[:27], "28x28"),
    ],
)
def test_centre_by_mass_check_explains_what_is_wrong(broken, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_centre_by_mass(broken)


def test_centre_by_mass_check_on_the_stub():
    def stub(box):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match="还没有写"):
        checks.check_centre_by_mass(stub)


def _grey_28(path, **resize):
    from PIL import Image

    return np.asarray(Image.open(path).convert("L").resize((28, 28), **resize), dtype=np.float32).reshape(1, 1, 28, 28)


def test_original_preprocess_check_accepts_a_right_answer(capsys):
    from PIL import Image

    checks.check_original_preprocess(lambda path: 1.0 - _grey_28(path, resample=Image.Resampling.LANCZOS) / 255.0)
    assert capsys.readouterr().out.startswith("✅")


def _antialias(path):
    from PIL import Image

    return Image.open(path).resize((28, 28), Image.ANTIALIAS)


@pytest.mark.parametrize(
    "broken, hint",
    [
        (_antialias, "ANTIALIAS"),
        (lambda path: _grey_28(path, resample=3) / 255.0, "亮背景"),
        (lambda path: 1.0 - _grey_28(path, resample=0) / 255.0, "LANCZOS"),
        (lambda path: (1.0 - _grey_28(path, resample=1) / 255.0).astype(np.float64), "float32"),
        (lambda path: (1.0 - _grey_28(path, resample=1) / 255.0)[0, 0], r"\[1, 1, 28, 28\]"),
        (lambda path: 255.0 - _grey_28(path, resample=1), "0 到 1"),
        (lambda path: np.zeros((28, 28, 3), np.float32), "颜色通道"),
    ],
)
def test_original_preprocess_check_explains_what_is_wrong(broken, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_original_preprocess(broken)


def test_original_preprocess_check_on_the_stub():
    def stub(path):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match="还没有写"):
        checks.check_original_preprocess(stub)


def good_split(writers, held_out, seed):
    names = np.unique(writers)
    test = np.isin(writers, np.random.default_rng(seed).choice(names, held_out, replace=False))
    return np.flatnonzero(~test), np.flatnonzero(test)


def test_split_by_writer_check_accepts_a_right_answer(capsys):
    checks.check_split_by_writer(good_split)
    assert capsys.readouterr().out.startswith("✅")


def _split_by_digit(writers, held_out, seed):
    order = np.random.default_rng(seed).permutation(len(writers))
    return order[len(order) // 4 :], order[: len(order) // 4]


@pytest.mark.parametrize(
    "broken, hint",
    [
        (_split_by_digit, "两边都有"),
        (lambda w, h, s: good_split(w, h + 1, s), "held_out"),
        (lambda w, h, s: good_split(w, h, 0), "都一样"),
        (lambda w, h, s: good_split(w, h, None), "同一个 seed"),
        (lambda w, h, s: (good_split(w, h, s)[0][1:], good_split(w, h, s)[1]), "恰好分到一边"),
        (lambda w, h, s: (~np.isin(np.arange(len(w)), good_split(w, h, s)[1]), np.isin(np.arange(len(w)),
                                                                                           good_split(w, h, s)[1])),
         "整数索引"),
        (lambda w, h, s: good_split(w, h, s)[1], "两个索引数组"),
    ],
)
def test_split_by_writer_check_explains_what_is_wrong(broken, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_split_by_writer(broken)


def good_per_writer(writers, labels, predictions):
    return {name: float(np.mean(predictions[writers == name] == labels[writers == name])) for name in set(writers)}


def test_per_writer_accuracy_check_accepts_a_right_answer(capsys):
    checks.check_per_writer_accuracy(good_per_writer)
    assert capsys.readouterr().out.startswith("✅")


@pytest.mark.parametrize(
    "broken, hint",
    [
        (lambda w, l, p: {k: 100 * v for k, v in good_per_writer(w, l, p).items()}, "百分数"),
        (lambda w, l, p: {k: float(np.mean(p == l)) for k in set(w)}, "只数这个书写者"),
        (lambda w, l, p: dict(list(good_per_writer(w, l, p).items())[:-1]), "全部"),
        (lambda w, l, p: list(good_per_writer(w, l, p).values()), "字典"),
        (lambda w, l, p: None, "没有返回值"),
    ],
)
def test_per_writer_accuracy_check_explains_what_is_wrong(broken, hint):
    with pytest.raises(AssertionError, match=hint):
        checks.check_per_writer_accuracy(broken)
