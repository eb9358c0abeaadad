"""Checks that follow each exercise in the notebooks: they say in Chinese whether the answer is right, and if not,
what is off. A right answer prints a line starting with ✅; a wrong one raises ``AssertionError`` with a hint."""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
import paddle
from paddle import nn

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
    """Exercise (chapter 5): the student's test accuracy must equal the fraction of correctly predicted images."""
    predictions = predict_logits(model, split.images).argmax(axis=1)
    expected = float(np.mean(predictions == split.labels))
    accuracy = float(accuracy)
    if accuracy > 1.0:
        _fail(f"正确率应是 0 到 1 之间的比例，得到 {accuracy}：是不是忘了除以样本总数，或者用了百分数？")
    if abs(accuracy - expected) > 1e-6:
        _fail(
            f"你的正确率 {accuracy:.4%} 与模型在这 {len(split)} 张图上的实际正确率不同。检查：是否遍历了全部图像、"
            "是否用 argmax 取预测类别、是否与标签逐个比较"
        )
    print("✅ 正确！正确率 = 预测正确的数量 / 总数，与模型的实际表现一致。")
