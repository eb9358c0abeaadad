"""Chapter 3's exercises: 练习 3.1 ``train_step``, 3.2 choosing a learning rate from a short sweep."""
from __future__ import annotations

from typing import Mapping

import numpy as np

from . import Exercise, Failed, number, prefixed, register

# 练习 3.1 train_step ------------------------------------------------------------------------------------------------

_STEPS = 2


def _step_cases(seed: int) -> dict:
    from ..models import SoftmaxRegression

    rng = np.random.default_rng([3, 1, seed])
    size = int(rng.integers(8, 24))
    return {
        "weights": {name: rng.normal(0, 0.05, tuple(value.shape)).astype(np.float32)
                    for name, value in SoftmaxRegression().state_dict().items()},
        "images": rng.standard_normal((_STEPS, size, 1, 28, 28)).astype(np.float32),
        "labels": rng.integers(0, 10, (_STEPS, size)).astype(np.int64),
        "learning_rate": float(rng.choice([0.05, 0.1, 0.2])),
    }


def _model(cases: dict):
    import paddle

    from ..models import SoftmaxRegression

    model = SoftmaxRegression()
    model.set_state_dict({name: paddle.to_tensor(value) for name, value in cases["weights"].items()})
    optimizer = paddle.optimizer.SGD(learning_rate=cases["learning_rate"], parameters=model.parameters())
    return model, optimizer


def _flat(model) -> np.ndarray:
    return np.concatenate([p.numpy().reshape(-1) for p in model.parameters()])


def _step_collect(train_step, *, cases: dict) -> dict:
    import paddle

    model, optimizer = _model(cases)
    evidence: dict[str, object] = {}
    for step in range(_STEPS):
        loss = train_step(model, optimizer, paddle.to_tensor(cases["images"][step]),
                          paddle.to_tensor(cases["labels"][step]))
        grads = [p.grad for p in model.parameters()]
        evidence.update(prefixed(f"loss{step}_", number(loss)))
        evidence.update({
            f"weights{step}": _flat(model),
            f"never_grad{step}": all(grad is None for grad in grads),
            f"grads_left{step}": any(grad is not None and bool(np.any(grad.numpy() != 0)) for grad in grads),
        })
    return evidence


def _step_judge(evidence: Mapping[str, object], cases: dict) -> str:
    import paddle
    from paddle import nn

    reference, optimizer = _model(cases)
    before = _flat(reference)
    for step in range(_STEPS):
        images, labels = paddle.to_tensor(cases["images"][step]), paddle.to_tensor(cases["labels"][step])
        logits = reference(images)
        expected = nn.functional.cross_entropy(logits, labels)
        twice = float(nn.functional.cross_entropy(nn.functional.softmax(logits), labels))
        expected.backward()
        optimizer.step()
        optimizer.clear_grad()
        after = _flat(reference)
        if evidence[f"loss{step}_kind"] == "none":
            raise Failed("train_step 没有返回损失：最后 return float(loss)")
        if evidence[f"loss{step}_kind"] != "number":
            raise Failed("train_step 应返回这一批的损失 (一个数)：return float(loss)")
        loss = float(evidence[f"loss{step}_value"])  # type: ignore[arg-type]
        if not np.isclose(loss, float(expected), rtol=1e-4, atol=1e-5):
            if np.isclose(loss, twice, rtol=1e-4, atol=1e-5):
                raise Failed("损失里做了两次 softmax：模型输出 logits，F.cross_entropy 会自己做 softmax，直接传 logits")
            raise Failed(f"第 {step + 1} 步返回的损失 {loss:.4f} 不是 F.cross_entropy(model(images), labels) = "
                         f"{float(expected):.4f}：要返回这一批、在更新参数之前算出的损失")
        weights = np.asarray(evidence[f"weights{step}"])
        delta, wanted = weights - before, after - before
        if np.all(delta == 0):
            if evidence[f"never_grad{step}"]:
                raise Failed("参数没有变化，也从来没有算过梯度：先 loss.backward() 求梯度，再 optimizer.step()，最后 "
                             "optimizer.clear_grad()")
            raise Failed("参数没有变化：梯度算出来了，但没有调用 optimizer.step() (或者在 step() 之前先 clear_grad() 了)")
        if not np.allclose(delta, wanted, rtol=1e-4, atol=1e-7):
            if np.allclose(delta, -wanted, rtol=1e-4, atol=1e-7):
                raise Failed("参数朝着让损失变大的方向走了：符号反了。对 loss 本身调用 backward()，由 optimizer.step() 沿负梯度更新")
            if step > 0 and evidence[f"grads_left{step}"]:
                raise Failed("梯度没有清空：飞桨会把新梯度累加到 .grad 上，第二步用的是两步梯度之和。每步 step() 之后调用 "
                             "optimizer.clear_grad()")
            raise Failed(f"第 {step + 1} 步之后的参数与一步 SGD 的结果不同：每一批只做一次 backward() 和一次 step()，"
                         "并使用传进来的 optimizer")
        before = after
    return "✅ 正确！损失、参数更新和梯度清空都对：前向 → 损失 → backward → step → clear_grad。"


register(Exercise(
    name="train_step", chapter=3, title="练习 3.1：一个训练步", answer="train_step",
    cases=_step_cases, collect=_step_collect, judge=_step_judge,
    forbidden=("course_utils.training:train_step",),
))


# 练习 3.2 the learning rate (values) --------------------------------------------------------------------------------


def _rate_collect(sweep, best_lr, learning_rates, *, cases: dict) -> dict:
    rates = [float(rate) for rate in learning_rates]
    sweep = dict(sweep or {})
    tried = [rate for rate in rates if rate in sweep]
    return {
        "rates": np.array(rates), "tried": np.array(tried, dtype=float),
        "losses": np.array([float(np.mean(np.asarray(sweep[rate], dtype=float))) for rate in tried], dtype=float),
        **prefixed("best_", number(best_lr)),
    }


def _rate_judge(evidence: Mapping[str, object], cases: dict) -> str:
    rates = [float(rate) for rate in np.asarray(evidence["rates"])]
    tried = [float(rate) for rate in np.asarray(evidence["tried"])]
    if not tried or evidence["best_kind"] == "none":
        raise Failed("还没有完成：对每个学习率运行 short_run，把结果存进 sweep，再把选出的学习率赋给 best_lr")
    missing = [rate for rate in rates if rate not in tried]
    if missing:
        raise Failed(f"sweep 里缺少这些学习率：{missing}。learning_rates 里的每一个都要试")
    losses = dict(zip(tried, (float(loss) for loss in np.asarray(evidence["losses"]))))
    finite = {rate: loss for rate, loss in losses.items() if np.isfinite(loss)}
    if not finite:
        raise Failed("所有的损失都是 nan 或 inf：检查 short_run 的返回值")
    if len(set(finite.values())) == 1 and len(finite) > 1:
        raise Failed("每个学习率的结果都一样：short_run 是否真的用了传给它的学习率？")
    best = float(evidence["best_value"])  # type: ignore[arg-type]
    if evidence["best_kind"] != "number" or best not in rates:
        raise Failed("best_lr 不在 learning_rates 里：要从试过的学习率中选一个")
    if best not in finite:
        raise Failed("你选的学习率发散了 (损失是 nan 或 inf，比任何数都差)：先去掉发散的学习率，再在剩下的里面选")
    lowest = min(finite, key=finite.__getitem__)
    if finite[best] > finite[lowest]:
        if best == max(finite, key=finite.__getitem__):
            raise Failed("你选的是最后损失最大的学习率：要选损失最小的 (min，不是 max)")
        raise Failed("还有学习率的最后损失更小：在没有发散的学习率里选损失最小的那个")
    return "✅ 正确！你从这次扫描中选出了没有发散、最后损失最小的学习率。"


register(Exercise(
    name="learning_rate", chapter=3, title="练习 3.2：选学习率", answer=None,
    cases=lambda seed: {}, collect=_rate_collect, judge=_rate_judge,
))
