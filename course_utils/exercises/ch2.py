"""Chapter 2's exercises: 练习 2.1 ``flatten_size``, 2.2 ``MyCourseCNN.forward``, 2.3 ``count_parameters``."""
from __future__ import annotations

from typing import Mapping

import numpy as np

from . import Exercise, Failed, array_of, describe_value, number, prefixed, register

# 练习 2.1 flatten_size (a value) ------------------------------------------------------------------------------------


def _pool2_shape() -> tuple[int, int, int]:
    """Channels, height and width of the course CNN's pool2 output, found by running its layers."""
    import paddle
    from paddle import nn

    from ..models import CourseCNN

    features = CourseCNN()
    with paddle.no_grad():
        x = features.pool1(nn.functional.relu(features.conv1(paddle.zeros([1, 1, 28, 28]))))
        x = features.pool2(nn.functional.relu(features.conv2(x)))
    channels, height, width = (int(n) for n in x.shape[1:])
    return channels, height, width


def _flatten_collect(flatten_size, *, cases: dict) -> dict:
    return number(flatten_size)


def _flatten_judge(evidence: Mapping[str, object], cases: dict) -> str:
    channels, height, width = _pool2_shape()
    expected = channels * height * width
    if evidence["kind"] == "none":
        raise Failed("还没有填写：把你算出的数赋给 flatten_size，例如 flatten_size = 123")
    answer = float(evidence["value"])  # type: ignore[arg-type]
    if evidence["kind"] != "number" or not answer.is_integer():
        raise Failed("flatten_size 应是一个整数 (通道数 × 高 × 宽)")
    answer = int(answer)
    if answer == expected:
        return f"✅ 正确！{channels} 个通道 × {height} × {width} = {expected}。"
    side = {2 * height: "只算了一次池化：pool1 和 pool2 各把边长减半一次",
            4 * height: "边长一次都没有减半：两个 2x2、步长 2 的池化层各把边长减半"}
    for edge, hint in side.items():
        if answer == channels * edge * edge:
            raise Failed(f"不对：{answer}。{hint}。")
    if answer in (height * width, 2 * height * 2 * height, 4 * height * 4 * height):
        raise Failed(f"不对：{answer}。这只是一张特征图的 高 × 宽，还要乘以 pool2 输出的通道数 (conv2 的 out_channels)。")
    raise Failed(
        f"不对：{answer}。提示：用 W_out = (W - K + 2P) / S + 1 逐层算出 pool2 输出的高和宽 (padding=2 的 5x5 卷积、"
        "2x2 且步长 2 的池化)，再乘以 pool2 输出的通道数。"
    )


register(Exercise(
    name="flatten_size", chapter=2, title="练习 2.1：展平后的大小", answer=None,
    cases=lambda seed: {}, collect=_flatten_collect, judge=_flatten_judge,
))


# 练习 2.2 forward --------------------------------------------------------------------------------------------------


def _forward_cases(seed: int) -> dict:
    from ..models import CourseCNN

    rng = np.random.default_rng([2, 2, seed])
    weights = {name: rng.normal(0, 0.1, tuple(value.shape)).astype(np.float32)
               for name, value in CourseCNN().state_dict().items()}
    return {"weights": weights, "x": rng.standard_normal((int(rng.integers(3, 7)), 1, 28, 28)).astype(np.float32)}


def _forward_collect(model_class, *, cases: dict) -> dict:
    import paddle

    if not isinstance(model_class, type):
        return {"is_class": False, "type": type(model_class).__name__}
    model = model_class()
    try:
        model.set_state_dict({name: paddle.to_tensor(value) for name, value in cases["weights"].items()})
        missing = sorted(set(cases["weights"]) - set(model.state_dict()))
    except Exception as error:  # a student's layers may differ in many ways
        return {"is_class": True, "loaded": False, "error": str(error)[:200]}
    if missing:
        return {"is_class": True, "loaded": False, "error": "缺少 " + ", ".join(missing)}
    model.eval()
    return {"is_class": True, "loaded": True, **prefixed("output_", describe_value(model(paddle.to_tensor(cases["x"]))))}


def _forward_judge(evidence: Mapping[str, object], cases: dict) -> str:
    import paddle

    from ..models import CourseCNN

    if not evidence["is_class"]:
        raise Failed(f"要把类本身交给检查 (check_forward(MyCourseCNN))，不是一个 {evidence['type']} 对象")
    if not evidence["loaded"]:
        raise Failed(f"模型的层与 CourseCNN 不一致，无法比较 ({evidence['error']})：保留 __init__ 里给出的层和名字")
    output = array_of(evidence, "output_", "forward")
    count = len(cases["x"])
    if list(output.shape) != [count, 10]:
        raise Failed(f"forward 应返回形状 [N, 10] 的 logits，实际为 {list(output.shape)}")
    if np.allclose(output.sum(axis=1), 1.0, atol=1e-4):
        raise Failed("输出的每一行加起来等于 1：这是 softmax 概率。模型应返回 logits，损失函数会自己做 softmax")
    reference = CourseCNN()
    reference.set_state_dict({name: paddle.to_tensor(value) for name, value in cases["weights"].items()})
    reference.eval()
    if not np.allclose(output, reference(paddle.to_tensor(cases["x"])).numpy(), atol=1e-4):
        raise Failed("输出与参考实现不同：检查顺序 conv1 → relu → pool1 → conv2 → relu → pool2 → flatten → fc")
    return "✅ 正确！forward 的输出与参考实现一致，返回的是 logits。"


register(Exercise(
    name="forward", chapter=2, title="练习 2.2：写 forward", answer="MyCourseCNN",
    cases=_forward_cases, collect=_forward_collect, judge=_forward_judge,
    forbidden=("course_utils.models:CourseCNN.forward",),
))


# 练习 2.3 count_parameters ------------------------------------------------------------------------------------------


def _count_cases(seed: int) -> dict:
    from ..models import MODELS

    rng = np.random.default_rng([2, 3, seed])
    names = list(MODELS)
    rng.shuffle(names)
    return {"models": names, "hidden": [int(n) for n in rng.integers(8, 64, 2)]}


def _build(name: str, hidden: list[int]):
    """A network of the registry, or (``"extra"``) a small one with batch norm whose size comes from the cases."""
    from paddle import nn

    from ..models import MODELS

    if name != "extra":
        return MODELS[name]()
    return nn.Sequential(nn.Flatten(), nn.Linear(784, hidden[0]), nn.BatchNorm1D(hidden[0]), nn.ReLU(),
                         nn.Linear(hidden[0], hidden[1], bias_attr=False), nn.BatchNorm1D(hidden[1]),
                         nn.Linear(hidden[1], 10))


def _count_collect(count_parameters, *, cases: dict) -> dict:
    evidence: dict[str, object] = {}
    for name in [*cases["models"], "extra"]:
        evidence.update(prefixed(f"{name}_", number(count_parameters(_build(name, cases["hidden"])))))
    return evidence


def _count_judge(evidence: Mapping[str, object], cases: dict) -> str:
    for name in [*cases["models"], "extra"]:
        model = _build(name, cases["hidden"])
        parameters = model.parameters()
        trainable = sum(int(np.prod(p.shape)) for p in parameters if not p.stop_gradient)
        everything = sum(int(np.prod(p.shape)) for p in parameters)
        biases = sum(int(np.prod(p.shape)) for p in parameters if not p.stop_gradient and len(p.shape) == 1)
        label = "一个带批归一化的小网络" if name == "extra" else name
        if evidence[f"{name}_kind"] == "none":
            raise Failed("count_parameters 没有返回值：函数最后要 return 数出来的个数")
        answer = float(evidence[f"{name}_value"])  # type: ignore[arg-type]
        if evidence[f"{name}_kind"] != "number" or not answer.is_integer():
            raise Failed("count_parameters 应返回一个整数")
        answer = int(answer)
        if answer == trainable:
            continue
        if answer == everything:
            raise Failed(
                f"{label} 多数了 {everything - trainable} 个：批归一化 (BN) 的滑动均值和方差也在 parameters() 里，但它们的 "
                "stop_gradient 为 True，不是可训练参数。只数 not p.stop_gradient 的参数"
            )
        if answer in (len(parameters), len([p for p in parameters if not p.stop_gradient])):
            raise Failed(f"{label} 得到 {answer}：这是参数张量的个数。要数的是元素个数：每个张量的形状各维相乘，再全部加起来")
        if answer == trainable - biases:
            raise Failed(f"{label} 少数了 {biases} 个：偏置 (bias) 也是可训练参数")
        raise Failed(f"{label} 应有 {trainable:,} 个可训练参数，你的函数得到 {answer:,}")
    return "✅ 正确！课程里每个网络的可训练参数个数都与 paddle.summary 的 Trainable params 一致。"


register(Exercise(
    name="count_parameters", chapter=2, title="练习 2.3：数参数", answer="count_parameters",
    cases=_count_cases, collect=_count_collect, judge=_count_judge,
))
