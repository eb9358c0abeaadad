"""Checks that follow each exercise in the notebooks: they say in Chinese whether the answer is right, and if not,
what is off. A right answer prints a line starting with ✅; a wrong one raises ``AssertionError`` with a hint."""
from __future__ import annotations

import numbers
from typing import Callable, Iterable

import numpy as np
import paddle
from paddle import nn

from .evaluation import confusion_matrix as reference_confusion_matrix
from .evaluation import predict_logits
from .imaging import centre_by_mass as imaging_centre_by_mass
from .mnist import Split
from .models import MODELS, CourseCNN, SoftmaxRegression
from .preprocess import MEAN, STD, normalize


def _fail(message: str) -> None:
    raise AssertionError("❌ " + message)


def _not_done(what: str) -> None:
    """The hint for an exercise whose stub still raises ``NotImplementedError``."""
    _fail(f"{what}还没有写：把 raise NotImplementedError() 换成你的代码，运行那个单元格，再运行这个检查")


def check_batch_generator(batch_generator: Callable[..., Iterable], split: Split) -> None:
    """Exercise (chapter 1): ``batch_generator(images, labels, batch_size, shuffle)`` yields normalized batches.

    Expected: float32 images ``[B, 1, 28, 28]`` exactly as ``normalize`` makes them, int64 labels ``[B]`` that still
    belong to their images, every sample once per pass, the last shorter batch kept, a new order when shuffling.
    """
    images, labels = split.images[:1050], split.labels[:1050]
    reference = normalize(images)
    for shuffle in (False, True):
        try:
            batches = list(batch_generator(images, labels, 100, shuffle))
        except NotImplementedError:
            _not_done("batch_generator ")
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


def check_flatten_size(answer: int | None) -> None:
    """Exercise (chapter 2): the number of values entering the course CNN's last linear layer.

    The hints point at the step that went wrong (a pooling forgotten, the channels forgotten) without the number.
    """
    features = CourseCNN()
    with paddle.no_grad():
        x = features.pool1(nn.functional.relu(features.conv1(paddle.zeros([1, 1, 28, 28]))))
        x = features.pool2(nn.functional.relu(features.conv2(x)))
    channels, height, width = (int(n) for n in x.shape[1:])
    expected = channels * height * width
    if answer is None:
        _fail("还没有填写：把你算出的数赋给 flatten_size，例如 flatten_size = 123")
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real) or not float(answer).is_integer():
        _fail(f"flatten_size 应是一个整数 (通道数 × 高 × 宽)，得到 {answer!r}")
    answer = int(answer)
    if answer == expected:
        print(f"✅ 正确！{channels} 个通道 × {height} × {width} = {expected}。")
        return
    side = {2 * height: "只算了一次池化：pool1 和 pool2 各把边长减半一次",
            4 * height: "边长一次都没有减半：两个 2x2、步长 2 的池化层各把边长减半"}
    for edge, hint in side.items():
        if answer == channels * edge * edge:
            _fail(f"不对：{answer}。{hint}。")
    if answer in (height * width, 2 * height * 2 * height, 4 * height * 4 * height):
        _fail(f"不对：{answer}。这只是一张特征图的 高 × 宽，还要乘以 pool2 输出的通道数 (conv2 的 out_channels)。")
    _fail(
        f"不对：{answer}。提示：用 W_out = (W - K + 2P) / S + 1 逐层算出 pool2 输出的高和宽 (padding=2 的 5x5 卷积、"
        "2x2 且步长 2 的池化)，再乘以 pool2 输出的通道数。"
    )


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
    try:
        output = model(x)
    except NotImplementedError:
        _not_done("forward ")
    if not isinstance(output, paddle.Tensor):
        _fail(f"forward 应返回一个张量 (Tensor)，得到的是 {type(output).__name__}：是不是忘了 return？")
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


def _as_array(value: object) -> np.ndarray:
    """A student's array or tensor as a NumPy array."""
    return value.numpy() if isinstance(value, paddle.Tensor) else np.asarray(value)


def check_normalize_pixels(normalize_pixels: Callable[[np.ndarray], np.ndarray], split: Split) -> None:
    """Exercise (chapter 1): ``normalize_pixels(images)`` turns uint8 ``[N, 28, 28]`` into float32 ``[N, 1, 28, 28]``
    with ``(x / 255 - MEAN) / STD``, exactly what ``preprocess.normalize`` gives. The hints name the usual slips:
    a missing channel axis, float64, no division by 255, no standardization, mean and std swapped or subtracted the
    wrong way round."""
    images = split.images[:64]
    try:
        result = normalize_pixels(images)
    except NotImplementedError:
        _not_done("normalize_pixels ")
    if result is None:
        _fail("normalize_pixels 没有返回值：函数最后要 return 归一化后的数组")
    result = _as_array(result)
    if result.shape != (64, 1, 28, 28):
        if result.shape == (64, 28, 28):
            _fail("形状是 [N, 28, 28]：网络要的是 [N, 1, 28, 28]，用 images[:, None] 或 reshape 加上通道这一维")
        _fail(f"64 张图应得到形状 [64, 1, 28, 28]，实际为 {list(result.shape)}")
    if result.dtype != np.float32:
        _fail(f"类型应为 float32 (飞桨的卷积层要 float32)，实际为 {result.dtype}：最后用 .astype(np.float32)")
    expected = normalize(images)
    if np.allclose(result, expected, atol=1e-5):
        print("✅ 正确！形状、类型和数值都与 preprocess.normalize 一致。")
        return
    low, high = float(result.min()), float(result.max())
    if high > 10:
        _fail(f"数值最大到 {high:.1f}：是不是忘了先除以 255？公式是 (x / 255 - MEAN) / STD")
    if low >= 0 and high <= 1.0 + 1e-6:
        _fail("数值都在 0 到 1 之间：只除以了 255，还要减去均值 MEAN、再除以标准差 STD")
    if np.allclose(result, -expected, atol=1e-5):
        _fail("符号反了：应是 (x / 255 - MEAN) / STD，不是 (MEAN - x / 255) / STD")
    background, ink = -MEAN / STD, (1 - MEAN) / STD
    _fail(
        f"数值与公式不同：背景像素 0 应变成 -MEAN/STD ≈ {background:.4f}，最浓的笔画 255 应变成 (1 - MEAN)/STD ≈ "
        f"{ink:.4f}，你的结果在 {low:.4f} 到 {high:.4f} 之间。检查 MEAN 和 STD 是否用反了、括号是否对"
    )


def check_dataset_getitem(dataset_class: type, split: Split) -> None:
    """Exercise (chapter 1): a ``paddle.io.Dataset`` subclass built as ``dataset_class(split)`` whose
    ``__getitem__(i)`` returns ``(normalize(images[i])[0], labels[i])``: a float32 ``[1, 28, 28]`` image and its int64
    label, so that ``paddle.io.DataLoader`` collates batches ``[B, 1, 28, 28]`` and ``[B]``."""
    part = Split(split.images[:40], split.labels[:40])
    dataset = dataset_class(part)
    if not isinstance(dataset, paddle.io.Dataset):
        _fail("这个类应继承 paddle.io.Dataset：class DigitDataset(paddle.io.Dataset)")
    try:
        sample = dataset[7]
    except NotImplementedError:
        _not_done("__getitem__ ")
    if not isinstance(sample, (tuple, list)) or len(sample) != 2:
        _fail("__getitem__ 应返回一对 (图像, 标签)，例如 return image, label")
    image, label = (_as_array(value) for value in sample)
    if image.shape != (1, 28, 28):
        if image.shape == (1, 1, 28, 28):
            _fail("图像形状是 [1, 1, 28, 28]：normalize 总是返回一批 [N, 1, 28, 28]，取一张要再加 [0]")
        _fail(f"一个样本的图像应为 [1, 28, 28] (通道、高、宽)，实际为 {list(image.shape)}")
    if image.dtype != np.float32:
        _fail(f"图像应是 float32 的归一化像素，实际为 {image.dtype}：用 normalize 处理 uint8 图像")
    if not np.allclose(image, normalize(part.images[7])[0], atol=1e-6):
        _fail("图像与 normalize(images[index]) 不同：要用同一个 normalize，并取第 index 张")
    if label.shape != () or label.dtype != np.int64:
        _fail(f"标签应是一个 int64 整数 (形状 [])，实际为 {label.dtype}、形状 {list(label.shape)}")
    if int(label) != int(part.labels[7]):
        _fail(f"dataset[7] 的标签是 {int(label)}，但第 7 张图的标签是 {int(part.labels[7])}：图像和标签要用同一个 index")
    loader = paddle.io.DataLoader(dataset, batch_size=8, shuffle=False)
    if len(dataset) != len(part) or len(loader) != 5:
        _fail(f"40 个样本的数据集 len() 应为 40，实际为 {len(dataset)}")
    images, labels = next(iter(loader))
    if list(images.shape) != [8, 1, 28, 28] or list(labels.shape) != [8]:
        _fail(f"DataLoader 拼出的批次应为 [8, 1, 28, 28] 和 [8]，实际为 {list(images.shape)} 和 {list(labels.shape)}")
    if not np.array_equal(labels.numpy(), part.labels[:8]):
        _fail("按顺序取出的前 8 个标签与数据不符：__getitem__(index) 要返回第 index 个样本")
    print("✅ 正确！样本的形状、类型、数值和标签都对，DataLoader 能把它们拼成批次。")


def check_count_parameters(count_parameters: Callable[[nn.Layer], int]) -> None:
    """Exercise (chapter 2): ``count_parameters(model)`` counts the trainable values of a model, as the
    "Trainable params" line of ``paddle.summary`` does: every parameter with ``stop_gradient`` False, all its
    elements. Tried on each network of the registry, so that batch norm's running statistics must be left out."""
    for name, factory in MODELS.items():
        model = factory()
        trainable = sum(int(np.prod(p.shape)) for p in model.parameters() if not p.stop_gradient)
        everything = sum(int(np.prod(p.shape)) for p in model.parameters())
        biases = sum(int(np.prod(p.shape)) for p in model.parameters() if not p.stop_gradient and len(p.shape) == 1)
        try:
            answer = count_parameters(model)
        except NotImplementedError:
            _not_done("count_parameters ")
        if answer is None:
            _fail("count_parameters 没有返回值：函数最后要 return 数出来的个数")
        answer = int(answer)
        if answer == trainable:
            continue
        if answer == everything:
            _fail(
                f"{name} 多数了 {everything - trainable} 个：批归一化 (BN) 的滑动均值和方差也在 parameters() 里，但它们的 "
                "stop_gradient 为 True，不是可训练参数。只数 not p.stop_gradient 的参数"
            )
        if answer == len([p for p in model.parameters() if not p.stop_gradient]):
            _fail(f"{name} 得到 {answer}：这是参数张量的个数。要数的是元素个数：每个张量的形状各维相乘，再全部加起来")
        if answer == trainable - biases:
            _fail(f"{name} 少数了 {biases} 个：偏置 (bias) 也是可训练参数")
        _fail(f"{name} 应有 {trainable:,} 个可训练参数，你的函数得到 {answer:,}")
    print("✅ 正确！课程里每个网络的可训练参数个数都与 paddle.summary 的 Trainable params 一致。")


def check_train_step(train_step: Callable[..., object]) -> None:
    """Exercise (chapter 3): ``train_step(model, optimizer, images, labels)`` does one training step (forward,
    ``F.cross_entropy``, ``backward``, ``optimizer.step()``, ``optimizer.clear_grad()``) and returns the batch's loss.

    Two steps on a small model with plain SGD are compared with the same two steps done here: the returned losses,
    the parameters after each step, and what is left in the gradients. The hints name the step that is missing.
    """
    rng = np.random.default_rng(0)
    batches = [
        (paddle.to_tensor(rng.standard_normal((16, 1, 28, 28)).astype("float32")),
         paddle.to_tensor(rng.integers(0, 10, 16).astype("int64")))
        for _ in range(2)
    ]
    student, reference = SoftmaxRegression(), SoftmaxRegression()
    reference.set_state_dict(student.state_dict())
    optimizer = paddle.optimizer.SGD(learning_rate=0.1, parameters=student.parameters())
    reference_optimizer = paddle.optimizer.SGD(learning_rate=0.1, parameters=reference.parameters())

    def weights(model: nn.Layer) -> list[np.ndarray]:
        return [p.numpy().copy() for p in model.parameters()]

    for number, (images, labels) in enumerate(batches, start=1):
        before = weights(student)
        logits = reference(images)
        expected_loss = nn.functional.cross_entropy(logits, labels)
        twice = float(nn.functional.cross_entropy(nn.functional.softmax(logits), labels))
        expected_loss.backward()
        reference_optimizer.step()
        reference_optimizer.clear_grad()
        try:
            loss = train_step(student, optimizer, images, labels)
        except NotImplementedError:
            _not_done("train_step ")
        if loss is None:
            _fail("train_step 没有返回损失：最后 return float(loss)")
        loss = float(_as_array(loss))
        if not np.isclose(loss, float(expected_loss), rtol=1e-4, atol=1e-5):
            if np.isclose(loss, twice, rtol=1e-4, atol=1e-5):
                _fail("损失里做了两次 softmax：模型输出 logits，F.cross_entropy 会自己做 softmax，直接传 logits")
            _fail(f"第 {number} 步返回的损失 {loss:.4f} 不是 F.cross_entropy(model(images), labels) = "
                  f"{float(expected_loss):.4f}：要返回这一批、在更新参数之前算出的损失")
        after = weights(student)
        delta = [a - b for a, b in zip(after, before)]
        wanted = [a - b for a, b in zip(weights(reference), before)]
        grads_left = any(p.grad is not None and np.any(p.grad.numpy() != 0) for p in student.parameters())
        if all(np.all(d == 0) for d in delta):
            if all(p.grad is None for p in student.parameters()):
                _fail("参数没有变化，也从来没有算过梯度：先 loss.backward() 求梯度，再 optimizer.step()，最后 "
                      "optimizer.clear_grad()")
            _fail("参数没有变化：梯度算出来了，但没有调用 optimizer.step() (或者在 step() 之前先 clear_grad() 了)")
        if all(np.allclose(d, w, rtol=1e-4, atol=1e-7) for d, w in zip(delta, wanted)):
            continue
        if all(np.allclose(d, -w, rtol=1e-4, atol=1e-7) for d, w in zip(delta, wanted)):
            _fail("参数朝着让损失变大的方向走了：符号反了。对 loss 本身调用 backward()，由 optimizer.step() 沿负梯度更新")
        if number == 2 and grads_left:
            _fail("梯度没有清空：Paddle 会把新梯度累加到 .grad 上，第二步用的是两步梯度之和。每步 step() 之后调用 "
                  "optimizer.clear_grad()")
        _fail(f"第 {number} 步之后的参数与一步 SGD 的结果不同：每一批只做一次 backward() 和一次 step()，"
              "并使用传进来的 optimizer")
    print("✅ 正确！损失、参数更新和梯度清空都对：前向 → 损失 → backward → step → clear_grad。")


def check_learning_rate(sweep: dict, best_lr: float | None, learning_rates: Iterable[float]) -> None:
    """Exercise (chapter 3): ``sweep`` maps each tried learning rate to the loss its short run ended with, and
    ``best_lr`` is the rate with the lowest loss among the runs that did not diverge (a NaN or infinite loss)."""
    learning_rates = list(learning_rates)
    if not sweep or best_lr is None:
        _fail("还没有完成：对每个学习率运行 short_run，把结果存进 sweep，再把选出的学习率赋给 best_lr")
    missing = [rate for rate in learning_rates if rate not in sweep]
    if missing:
        _fail(f"sweep 里缺少这些学习率：{missing}。learning_rates 里的每一个都要试")
    losses = {rate: float(np.mean(_as_array(sweep[rate]))) for rate in learning_rates}
    finite = {rate: loss for rate, loss in losses.items() if np.isfinite(loss)}
    if not finite:
        _fail("所有的损失都是 nan 或 inf：检查 short_run 的返回值")
    if len(set(finite.values())) == 1 and len(finite) > 1:
        _fail("每个学习率的结果都一样：short_run 是否真的用了传给它的学习率？")
    if best_lr not in learning_rates:
        _fail(f"best_lr = {best_lr!r} 不在 learning_rates 里：要从试过的学习率中选一个")
    if best_lr not in finite:
        _fail("你选的学习率发散了 (损失是 nan 或 inf，比任何数都差)：先去掉发散的学习率，再在剩下的里面选")
    lowest = min(finite, key=finite.get)
    if finite[best_lr] > finite[lowest]:
        if best_lr == max(finite, key=finite.get):
            _fail("你选的是最后损失最大的学习率：要选损失最小的 (min，不是 max)")
        _fail("还有学习率的最后损失更小：在没有发散的学习率里选损失最小的那个")
    print("✅ 正确！你从这次扫描中选出了没有发散、最后损失最小的学习率。")


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


def check_centre_by_mass(centre_by_mass: Callable[[np.ndarray], np.ndarray]) -> None:
    """Exercise (chapter 4): ``centre_by_mass(box)`` places a cropped digit (float, at most 20x20, ink bright) in a
    black 28x28 field so that its centre of mass lands on pixel (14, 14), scaled to uint8 with maximum 255: what
    ``imaging.centre_by_mass`` does. The test digits are lopsided (their centre of mass is far from the middle of
    their box), so that centring the box instead of the mass, a wrong sign or swapped axes show."""
    boxes = []
    seven = np.zeros((14, 10))
    seven[:3, :] = 1.0  # a heavy bar on top and a thin stem: the mass sits high and to the right
    seven[3:, 7:9] = 0.5
    boxes.append(seven)
    ell = np.zeros((16, 20))
    ell[:, :3] = 0.8  # an L lying on its side: the mass sits low and to the left
    ell[-5:, :] = 0.8
    boxes.append(ell)
    boxes.append(np.random.default_rng(0).random((20, 9)) * np.linspace(0.1, 1.0, 9))
    for box in boxes:
        try:
            answer = centre_by_mass(box.copy())
        except NotImplementedError:
            _not_done("centre_by_mass ")
        if answer is None:
            _fail("centre_by_mass 没有返回值：函数最后要 return 28x28 的画布")
        answer = _as_array(answer)
        if answer.shape != (28, 28):
            _fail(f"结果应是 28x28 的画布，实际形状为 {list(answer.shape)}")
        if answer.dtype != np.uint8:
            _fail(f"类型应为 uint8 (与 MNIST 文件相同)，实际为 {answer.dtype}：最后用 np.rint(...).astype(np.uint8)")
        if answer.max() != 255:
            _fail(f"最亮的像素应为 255，实际为 {answer.max()}：把画布乘以 255 / 最大值，再取整")
        expected = imaging_centre_by_mass(box)
        if np.array_equal(answer, expected):
            continue
        row, col = _centre_of_mass(answer)
        if _contains(answer, box) and abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5:
            continue  # the offset rounded the other way at a half pixel: just as good
        mass_row, mass_col = _centre_of_mass(box)
        height, width = box.shape
        slips = {
            "你把外接矩形放在了画布正中：MNIST 居中的是笔迹的重心 (centre of mass)，不是矩形的中心":
                ((28 - height) / 2, (28 - width) / 2),
            "平移的方向反了：左上角应放在 14 - 重心 的位置，不是 14 + 重心": (14 + mass_row, 14 + mass_col),
            "行和列弄反了：重心的行坐标来自 box.sum(axis=1)，列坐标来自 box.sum(axis=0)": (14 - mass_col, 14 - mass_row),
            "平移量要四舍五入 (round)，不是截断 (int)：截断会让重心偏离 (14, 14) 超过半个像素":
                (int(14 - mass_row), int(14 - mass_col)),
        }
        for hint, (top, left) in slips.items():
            if any(np.array_equal(answer, _placed(box, rounding(top), rounding(left))) for rounding in (round, int)):
                _fail(hint)
        if not _contains(answer, box):
            _fail("画布上的数字与输入的 box 不一样：把 box 原样放进画布 (不要翻转、缩放或转置)，只按比例调到最亮 255")
        _fail(f"重心在 ({row:.1f}, {col:.1f})，应在 (14, 14)：左上角放在 (round(14 - 重心行), round(14 - 重心列))")
    print("✅ 正确！数字的重心落在 (14, 14)，与 imaging.centre_by_mass 一致。")


def _centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    weights = image.astype(np.float64)
    total = weights.sum()
    return (float(weights.sum(axis=1) @ np.arange(image.shape[0]) / total),
            float(weights.sum(axis=0) @ np.arange(image.shape[1]) / total))


def _placed(box: np.ndarray, top: int, left: int) -> np.ndarray:
    """``box`` scaled to 255 with its top-left corner at ``(top, left)`` of a black 28x28 uint8 field (clipped in)."""
    height, width = box.shape
    top, left = int(np.clip(top, 0, 28 - height)), int(np.clip(left, 0, 28 - width))
    field = np.zeros((28, 28))
    field[top : top + height, left : left + width] = box * (255.0 / box.max())
    return np.rint(field).astype(np.uint8)


def _contains(field: np.ndarray, box: np.ndarray) -> bool:
    """Whether ``field`` is ``box`` scaled to 255 somewhere on black (within rounding)."""
    height, width = box.shape
    return any(
        np.abs(field.astype(np.float64) - _placed(box, top, left)).max() <= 1.0
        for top in range(29 - height)
        for left in range(29 - width)
    )


def check_original_preprocess(original_preprocess: Callable[[str], np.ndarray], folder: str) -> None:
    """Exercise (chapter 4): ``original_preprocess(path)`` repeats the original tutorial's prediction-time
    preprocessing with today's Pillow: grey, resized to 28x28 with Lanczos (``Image.ANTIALIAS``'s current name),
    ``1 - x / 255``, float32 ``[1, 1, 28, 28]``. The check writes its own test pictures into ``folder`` (a colour
    photo that is not square, dark ink on light paper) and compares with that recipe."""
    from pathlib import Path

    from PIL import Image

    rng = np.random.default_rng(0)
    paper = np.linspace(200, 250, 90)[None, :, None] * np.ones((60, 90, 3))
    paper[15:45, 30:40] = (20, 30, 90)  # a dark blue stroke
    picture = np.clip(paper + rng.normal(0, 4, paper.shape), 0, 255).astype(np.uint8)
    path = Path(folder) / "check_original_preprocess.png"
    Image.fromarray(picture).save(path)
    try:
        answer = original_preprocess(str(path))
    except NotImplementedError:
        _not_done("original_preprocess ")
    except AttributeError as error:
        if "ANTIALIAS" in str(error):
            _fail("Pillow 10 删除了 Image.ANTIALIAS：它现在叫 Image.Resampling.LANCZOS (同一个滤波器)")
        raise
    if answer is None:
        _fail("original_preprocess 没有返回值：函数最后要 return 数组")
    answer = _as_array(answer)
    grey = np.asarray(Image.open(path).convert("L").resize((28, 28), Image.Resampling.LANCZOS), dtype=np.float32)
    expected = 1.0 - grey.reshape(1, 1, 28, 28) / 255.0
    if answer.size == 28 * 28 * 3:
        _fail("结果有 3 个颜色通道：原教程先用 .convert('L') 转成灰度")
    if answer.shape != (1, 1, 28, 28):
        _fail(f"形状应为 [1, 1, 28, 28] (一张图、一个通道)，实际为 {list(answer.shape)}：用 reshape(1, 1, 28, 28)")
    if answer.dtype != np.float32:
        _fail(f"类型应为 float32，实际为 {answer.dtype}：用 .astype(np.float32)")
    if answer.max() > 1.0 + 1e-6:
        _fail(f"数值最大到 {answer.max():.1f}：原教程用 1.0 - im / 255. 把像素缩放到 0 到 1")
    if np.median(answer) > 0.5:
        _fail("白纸变成了接近 1 的亮背景：原教程用 1 - x / 255 反转，让笔迹变亮、纸变暗，像 MNIST 一样")
    if np.allclose(answer, expected, atol=1e-5):
        print("✅ 正确！与原教程的预处理一致 (只把 ANTIALIAS 换成了 LANCZOS)。")
        return
    if np.abs(answer - expected).mean() < 0.05:
        _fail("数值接近但不相同：缩放时要用 Image.Resampling.LANCZOS (原来的 ANTIALIAS)，不是默认的滤波器")
    _fail("结果与原教程的做法不同：顺序是 convert('L') → resize((28, 28), LANCZOS) → 1 - x / 255 → reshape")
