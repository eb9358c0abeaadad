"""Chapter 5's exercises: 练习 5.1 counting correct predictions (a value), 5.2 ``confusion_matrix``."""
from __future__ import annotations

from typing import Mapping

import numpy as np

from . import Exercise, Failed, array_of, describe_value, number, prefixed, register

# 练习 5.1 accuracy (a value) ----------------------------------------------------------------------------------------


def _accuracy_collect(accuracy, model, split, *, cases: dict) -> dict:
    """The student's number, whether the model was left in training mode, and the model's real accuracy on *split*
    (counted here in evaluation mode, the model then put back as it was)."""
    from ..evaluation import predict_logits

    training = bool(model.training)
    predictions = predict_logits(model, split.images).argmax(axis=1)
    return {"training": training, "images": len(split), "expected": float(np.mean(predictions == split.labels)),
            **prefixed("answer_", number(accuracy))}


def _accuracy_judge(evidence: Mapping[str, object], cases: dict) -> str:
    if evidence["training"]:
        raise Failed("模型还处于训练模式 (model.training 为 True)：统计正确率之前要调用 model.eval()。训练模式下丢弃法 "
                     "(dropout) 会随机丢掉一部分特征，批归一化用的是当前这一批的统计量，结果既有随机性，又与模型真正的表现不同")
    if evidence["answer_kind"] != "number":
        raise Failed("accuracy 应是一个 0 到 1 之间的数")
    accuracy, expected = float(evidence["answer_value"]), float(evidence["expected"])  # type: ignore[arg-type]
    if accuracy > 1.0:
        raise Failed(f"正确率应是 0 到 1 之间的比例，得到 {accuracy}：是不是忘了除以样本总数，或者用了百分数？")
    if abs(accuracy - expected) > 1e-6:
        raise Failed(f"你的正确率 {accuracy:.4%} 与模型在这 {evidence['images']} 张图上的实际正确率不同。检查：是否遍历了"
                     "全部图像、是否用 argmax 取预测类别、是否与标签逐个比较")
    return "✅ 正确！正确率 = 预测正确的数量 / 总数，与模型的实际表现一致。"


register(Exercise(
    name="accuracy", chapter=5, title="练习 5.1：统计正确率", answer=None,
    cases=lambda seed: {}, collect=_accuracy_collect, judge=_accuracy_judge,
))


# 练习 5.2 confusion_matrix ------------------------------------------------------------------------------------------


def _confusion_cases(seed: int) -> dict:
    rng = np.random.default_rng([5, 2, seed])
    count = int(rng.integers(300, 600))
    missing = int(rng.integers(0, 10))  # a digit no image has, whose row must still be there
    labels = rng.choice([digit for digit in range(10) if digit != missing], count)
    predictions = np.where(rng.random(count) < 0.7, labels, rng.integers(0, 10, count))
    return {"pairs": [(labels, predictions), (np.array([0, 1, 1, 3]), np.array([0, 1, 2, 3]))]}


def _confusion_collect(confusion_matrix, *, cases: dict) -> dict:
    evidence: dict[str, object] = {}
    for index, (labels, predictions) in enumerate(cases["pairs"]):
        evidence.update(prefixed(f"case{index}_", describe_value(confusion_matrix(labels.copy(), predictions.copy()))))
    return evidence


def _confusion_judge(evidence: Mapping[str, object], cases: dict) -> str:
    from ..evaluation import confusion_matrix

    for index, (labels, predictions) in enumerate(cases["pairs"]):
        expected = confusion_matrix(labels, predictions)
        answer = array_of(evidence, f"case{index}_", "confusion_matrix")
        if answer.shape != (10, 10):
            raise Failed(f"形状应为 [10, 10] (10 个数字 × 10 个数字)，即使某个数字没有出现，实际为 {list(answer.shape)}")
        if np.array_equal(answer, expected):
            continue
        if np.array_equal(answer, expected.T):
            raise Failed("行和列反了：第 i 行第 j 列应是\"真实数字为 i、被预测为 j\"的图像数，即 confusion[label, prediction]")
        if np.array_equal(answer, (expected > 0).astype(answer.dtype)):
            raise Failed("同一个格子可能出现很多次：每张图要让对应的格子加 1 (+= 1)，而不是设为 1")
        if answer.sum() != expected.sum():
            raise Failed(f"所有格子之和应等于图像总数 {expected.sum()}，实际为 {answer.sum()}：每张图应恰好计数一次")
        raise Failed("计数与正确的混淆矩阵不同：对每一对 (label, prediction)，confusion[label, prediction] += 1")
    return "✅ 正确！行是真实数字，列是预测数字，每张图计数一次。"


register(Exercise(
    name="confusion_matrix", chapter=5, title="练习 5.2：混淆矩阵", answer="confusion_matrix",
    cases=_confusion_cases, collect=_confusion_collect, judge=_confusion_judge,
    forbidden=("course_utils.evaluation:confusion_matrix",),
))
