"""Checks that follow each exercise in the notebooks: they say in Chinese whether the answer is right, and if not,
what is off. A right answer prints a line starting with ✅; a wrong one raises ``AssertionError`` with a hint."""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
import paddle
from paddle import nn

from .evaluation import confusion_matrix as reference_confusion_matrix
from .evaluation import predict_logits
from .mnist import Split
from .models import CourseCNN
from .preprocess import normalize


def _fail(message: str) -> None:
    raise AssertionError("❌ " + message)


def check_batch_generator(batch_generator: Callable[..., Iterable], split: Split) -> None:
    """Exercise (chapter 1): ``batch_generator(images, labels, batch_size, shuffle)`` yields normalized batches.

    Expected: float32 images ``[B, 1, 28, 28]`` exactly as ``normalize`` makes them, int64 labels ``[B]`` that still
    belong to their images, every sample once per pass, the last shorter batch kept, a new order when shuffling.
    """
    images, labels = split.images[:1050], split.labels[:1050]
    reference = normalize(images)
    for shuffle in (False, True):
        batches = list(batch_generator(images, labels, 100, shuffle))
        sizes = [len(batch[1]) for batch in batches]
        if sizes != [100] * 10 + [50]:
            _fail(f"1050 个样本、batch_size=100 应得到 10 个 100 的批次和最后一个 50 的批次，实际批次大小为 {sizes}")
        batch_images, batch_labels = (np.asarray(part) for part in batches[0])
        if batch_images.shape != (100, 1, 28, 28) or batch_images.dtype != np.float32:
            _fail(f"图像批次应为 float32、形状 [100, 1, 28, 28]，实际为 {batch_images.dtype}、{list(batch_images.shape)}")
        if batch_labels.shape != (100,) or batch_labels.dtype != np.int64:
            _fail(f"标签批次应为 int64、形状 [100]，实际为 {batch_labels.dtype}、{list(batch_labels.shape)}")
        seen_images = np.concatenate([np.asarray(b[0]) for b in batches]).reshape(len(images), -1)
        seen_labels = np.concatenate([np.asarray(b[1]) for b in batches])
        index_of = {row.tobytes(): i for i, row in enumerate(reference.reshape(len(images), -1))}
        order = [index_of.get(row.tobytes(), -1) for row in seen_images]
        if -1 in order:
            _fail("有的图像与 normalize(images) 的结果不一致：请用 course_utils.preprocess.normalize 做归一化")
        if sorted(order) != list(range(len(images))):
            _fail("每个样本在一轮 (epoch) 中应恰好出现一次：有的样本重复了或丢失了")
        if not np.array_equal(labels[order], seen_labels):
            _fail("标签与图像对不上了：打乱顺序时，图像和标签要用同一个索引顺序")
        if shuffle and order == sorted(order):
            _fail("shuffle=True 时应打乱样本顺序 (例如 random.shuffle 一个索引列表)")
        if not shuffle and order != sorted(order):
            _fail("shuffle=False 时应保持原来的顺序")
    print("✅ 正确！批次大小、形状、归一化、打乱和最后一个不满的批次都对了。")


def check_flatten_size(answer: int) -> None:
    """Exercise (chapter 2): the number of values entering the course CNN's last linear layer."""
    features = CourseCNN()
    with paddle.no_grad():
        x = features.pool1(nn.functional.relu(features.conv1(paddle.zeros([1, 1, 28, 28]))))
        x = features.pool2(nn.functional.relu(features.conv2(x)))
    expected = int(np.prod(x.shape[1:]))
    if answer != expected:
        _fail(
            f"不对：{answer}。提示：padding=2 的 5x5 卷积保持 28x28，每次 2x2 池化把边长减半 (28 → 14 → 7)，"
            "再乘以通道数 20。"
        )
    print(f"✅ 正确！20 个通道 × 7 × 7 = {expected}。")


def check_forward(model: nn.Layer) -> None:
    """Exercise (chapter 2): a CourseCNN-like model whose ``forward`` must compute what ``CourseCNN`` computes.

    The student's model gets the reference model's weights, so only the order of operations is compared.
    """
    reference = CourseCNN()
    try:
        model.set_state_dict(reference.state_dict())
    except Exception as error:  # a student's layer names may differ in many ways
        _fail(f"模型的层与 CourseCNN 不一致，无法比较 ({error})")
    x = paddle.randn([4, 1, 28, 28])
    model.eval()
    reference.eval()
    output = model(x)
    if list(output.shape) != [4, 10]:
        _fail(f"forward 应返回形状 [N, 10] 的 logits，实际为 {list(output.shape)}")
    if np.allclose(output.numpy().sum(axis=1), 1.0, atol=1e-4):
        _fail("输出的每一行加起来等于 1：这是 softmax 概率。模型应返回 logits，损失函数会自己做 softmax")
    if not np.allclose(output.numpy(), reference(x).numpy(), atol=1e-5):
        _fail("输出与参考实现不同：检查顺序 conv1 → relu → pool1 → conv2 → relu → pool2 → flatten → fc")
    print("✅ 正确！forward 的输出与参考实现一致，返回的是 logits。")


def check_accuracy(accuracy: float, model: nn.Layer, split: Split) -> None:
    """Exercise (chapter 5): the student's test accuracy must equal the fraction of correctly predicted images.

    The chapter hands the student the model in training mode, as a training loop leaves it: an answer that forgot
    ``model.eval()`` leaves it there (and its dropout and batch-norm statistics made the count differ).
    """
    predictions = predict_logits(model, split.images).argmax(axis=1)  # in evaluation mode, then back as it was
    expected = float(np.mean(predictions == split.labels))
    if model.training:
        _fail("模型还处于训练模式 (model.training 为 True)：统计正确率之前要调用 model.eval()。训练模式下 dropout 会随机"
              "丢掉一部分特征，批归一化用的是当前这一批的统计量，结果既有随机性，又与模型真正的表现不同")
    try:
        accuracy = float(accuracy)
    except (TypeError, ValueError):
        _fail(f"accuracy 应是一个 0 到 1 之间的数，得到的是 {type(accuracy).__name__}")
    if accuracy > 1.0:
        _fail(f"正确率应是 0 到 1 之间的比例，得到 {accuracy}：是不是忘了除以样本总数，或者用了百分数？")
    if abs(accuracy - expected) > 1e-6:
        _fail(
            f"你的正确率 {accuracy:.4%} 与模型在这 {len(split)} 张图上的实际正确率不同。检查：是否遍历了全部图像、"
            "是否用 argmax 取预测类别、是否与标签逐个比较"
        )
    print("✅ 正确！正确率 = 预测正确的数量 / 总数，与模型的实际表现一致。")


def check_confusion_matrix(confusion_matrix: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> None:
    """Exercise (chapter 5): ``confusion_matrix(labels, predictions)`` counts ``[10, 10]``, row = true digit, column =
    predicted digit, every digit present whether or not it occurs."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 9, 500)  # no 9 among the labels, and a few among the predictions
    predictions = np.where(rng.random(500) < 0.7, labels, rng.integers(0, 10, 500))
    cases = [(labels, predictions), (np.array([0, 1, 1, 3]), np.array([0, 1, 2, 3]))]
    for case_labels, case_predictions in cases:
        expected = reference_confusion_matrix(case_labels, case_predictions)
        answer = np.asarray(confusion_matrix(case_labels.copy(), case_predictions.copy()))
        if answer.shape != (10, 10):
            _fail(f"形状应为 [10, 10] (10 个数字 × 10 个数字)，即使某个数字没有出现，实际为 {list(answer.shape)}")
        if np.array_equal(answer, expected):
            continue
        if np.array_equal(answer, expected.T):
            _fail("行和列反了：第 i 行第 j 列应是\"真实数字为 i、被预测为 j\"的图像数，即 confusion[label, prediction]")
        if np.array_equal(answer, (expected > 0).astype(answer.dtype)):
            _fail("同一个格子可能出现很多次：每张图要让对应的格子加 1 (+= 1)，而不是设为 1")
        if answer.sum() != expected.sum():
            _fail(f"所有格子之和应等于图像总数 {expected.sum()}，实际为 {answer.sum()}：每张图应恰好计数一次")
        _fail("计数与正确的混淆矩阵不同：对每一对 (label, prediction)，confusion[label, prediction] += 1")
    print("✅ 正确！行是真实数字，列是预测数字，每张图计数一次。")


def check_random_shift(random_shift: Callable[[np.ndarray, int, np.random.Generator], np.ndarray]) -> None:
    """Exercise (chapter 6): ``random_shift(images, max_shift, rng)`` moves each normalized image ``[N, 1, 28, 28]`` by
    its own random ``dy, dx`` in ``-max_shift..max_shift``, fills what is uncovered with the background, returns float32
    of the same shape and leaves ``images`` unchanged.

    The test images are noise up to their borders, so that wrapping around (``np.roll``) or a wrong fill value shows.
    """
    rng = np.random.default_rng(0)
    images = normalize(rng.integers(0, 256, size=(400, 28, 28), dtype=np.uint8))
    original = images.copy()
    shifted = np.asarray(random_shift(images, 2, np.random.default_rng(1)))
    if not np.array_equal(images, original):
        _fail("images 被修改了：不要原地修改输入，返回一个新数组 (例如先 np.pad，再切片)")
    if shifted.shape != images.shape or shifted.dtype != np.float32:
        _fail(f"结果应与输入一样是 float32、形状 {list(images.shape)}，实际为 {shifted.dtype}、{list(shifted.shape)}")
    offsets = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)]
    background = float(normalize(np.zeros((1, 28, 28), np.uint8)).flat[0])

    def matches(fill: float | None) -> np.ndarray:
        """[offsets, N]: which images equal their original moved by each offset (fill None: wrapped around)."""
        return np.stack([np.all(shifted == _moved(images, dy, dx, fill), axis=(1, 2, 3)) for dy, dx in offsets])

    found = matches(background)
    if not found.any(axis=0).all():
        if matches(None).any(axis=0).all():
            _fail("这是循环移位 (np.roll)：移出图像的像素不应从另一边回来；空出的位置要用背景值 BACKGROUND 填充")
        if matches(0.0).any(axis=0).all():
            _fail(f"空出的位置填成了 0：归一化之后黑色背景的值是 BACKGROUND ≈ {background:.4f}，不是 0")
        _fail("有的图像不是原图平移 -2..2 像素的结果：检查平移的范围、切片的起止位置和填充值")
    used = {offsets[index] for index in found.argmax(axis=0)}
    if len(used) == 1:
        _fail("所有图像平移得完全一样：每张图要各自抽取 dy、dx (在循环里，或一次抽 N 组)")
    for axis, name in ((0, "dy"), (1, "dx")):
        values = {offset[axis] for offset in used}
        if values != {-2, -1, 0, 1, 2}:
            _fail(f"400 张图的 {name} 只出现了 {sorted(values)}：应覆盖 -max_shift 到 max_shift 的每个整数，"
                  "注意 rng.integers(low, high) 不包含 high，要写 max_shift + 1")
    if not np.array_equal(np.asarray(random_shift(images, 0, np.random.default_rng(2))), images):
        _fail("max_shift=0 时图像应保持不变")
    print("✅ 正确！每张图各自随机平移 -2..2 像素，移出的部分丢掉，空出的位置填背景。")


def _moved(images: np.ndarray, dy: int, dx: int, fill: float | None) -> np.ndarray:
    """``images`` with ``out[i, j] = in[i + dy, j + dx]``, uncovered pixels set to ``fill`` (None: wrapped around)."""
    if fill is None:
        return np.roll(images, (-dy, -dx), axis=(2, 3))
    h, w, m = *images.shape[2:], max(abs(dy), abs(dx))
    padded = np.pad(images, ((0, 0), (0, 0), (m, m), (m, m)), constant_values=fill)
    return padded[:, :, m + dy : m + dy + h, m + dx : m + dx + w]
