"""Chapter 1's exercises: 练习 1.1 ``normalize_pixels``, 1.2 ``batch_generator``, 1.3 ``DigitDataset``."""
from __future__ import annotations

from typing import Mapping

import numpy as np

from ..preprocess import MEAN, STD, normalize
from . import Exercise, Failed, array_of, as_array, describe_value, one_line, prefixed, register


def _digits(rng: np.random.Generator, count: int) -> np.ndarray:
    """*count* uint8 28x28 images: a black field with a few bright random strokes, like MNIST's value range."""
    images = np.zeros((count, 28, 28), np.uint8)
    for image in images:
        for _ in range(rng.integers(2, 5)):
            row, col = rng.integers(4, 24, 2)
            image[row : row + rng.integers(2, 6), col : col + rng.integers(2, 6)] = rng.integers(80, 256)
    return images


# 练习 1.1 normalize_pixels ------------------------------------------------------------------------------------------


def _normalize_cases(seed: int) -> dict:
    rng = np.random.default_rng([1, 1, seed])
    return {"images": _digits(rng, int(rng.integers(40, 80)))}


def _normalize_collect(normalize_pixels, *, cases: dict) -> dict:
    return prefixed("result_", describe_value(normalize_pixels(cases["images"].copy())))


def _normalize_judge(evidence: Mapping[str, object], cases: dict) -> str:
    images = cases["images"]
    count = len(images)
    result = array_of(evidence, "result_", "normalize_pixels")
    if result.shape != (count, 1, 28, 28):
        if result.shape == (count, 28, 28):
            raise Failed("形状是 [N, 28, 28]：网络要的是 [N, 1, 28, 28]，用 images[:, None] 或 reshape 加上通道这一维")
        raise Failed(f"{count} 张图应得到形状 [{count}, 1, 28, 28]，实际为 {list(result.shape)}")
    if result.dtype != np.float32:
        raise Failed(f"类型应为 float32 (飞桨的卷积层要 float32)，实际为 {result.dtype}：最后用 .astype(np.float32)")
    expected = normalize(images)
    if np.allclose(result, expected, atol=1e-5):
        return "✅ 正确！形状、类型和数值都与 preprocess.normalize 一致。"
    low, high = float(result.min()), float(result.max())
    if high > 10:
        raise Failed(f"数值最大到 {high:.1f}：是不是忘了先除以 255？公式是 (x / 255 - MEAN) / STD")
    if low >= 0 and high <= 1.0 + 1e-6:
        raise Failed("数值都在 0 到 1 之间：只除以了 255，还要减去均值 MEAN、再除以标准差 STD")
    if np.allclose(result, -expected, atol=1e-5):
        raise Failed("符号反了：应是 (x / 255 - MEAN) / STD，不是 (MEAN - x / 255) / STD")
    background, ink = -MEAN / STD, (1 - MEAN) / STD
    raise Failed(
        f"数值与公式不同：背景像素 0 应变成 -MEAN/STD ≈ {background:.4f}，最浓的笔画 255 应变成 (1 - MEAN)/STD ≈ "
        f"{ink:.4f}，你的结果在 {low:.4f} 到 {high:.4f} 之间。检查 MEAN 和 STD 是否用反了、括号是否对"
    )


register(Exercise(
    name="normalize_pixels", chapter=1, title="练习 1.1：归一化", answer="normalize_pixels",
    cases=_normalize_cases, collect=_normalize_collect, judge=_normalize_judge,
    forbidden=("course_utils.preprocess:normalize",),
))


# 练习 1.2 batch_generator -------------------------------------------------------------------------------------------


def _batches_cases(seed: int) -> dict:
    rng = np.random.default_rng([1, 2, seed])
    batch_size = int(rng.integers(60, 130))
    count = batch_size * int(rng.integers(6, 11)) + int(rng.integers(1, batch_size))  # the last batch is short
    return {"images": _digits(rng, count), "labels": rng.integers(0, 10, count).astype(np.int64),
            "batch_size": batch_size}


def _batches_collect(batch_generator, *, cases: dict) -> dict:
    evidence: dict[str, object] = {}
    for shuffle in (False, True):
        tag = "shuffled_" if shuffle else "ordered_"
        batches = list(batch_generator(cases["images"].copy(), cases["labels"].copy(), cases["batch_size"], shuffle))
        pairs = [tuple(batch) for batch in batches]
        if any(len(pair) != 2 for pair in pairs):
            return {f"{tag}pairs": False}
        images = [as_array(pair[0]) for pair in pairs]
        labels = [as_array(pair[1]) for pair in pairs]
        evidence.update({
            f"{tag}pairs": True,
            f"{tag}sizes": np.array([len(batch) for batch in labels]),
            f"{tag}first_images_dtype": str(images[0].dtype), f"{tag}first_images_shape": np.array(images[0].shape),
            f"{tag}first_labels_dtype": str(labels[0].dtype), f"{tag}first_labels_shape": np.array(labels[0].shape),
            f"{tag}images": np.concatenate([batch.reshape(len(batch), -1) for batch in images]).astype(np.float32),
            f"{tag}labels": np.concatenate([batch.reshape(-1) for batch in labels]),
        })
    return evidence


def _batches_judge(evidence: Mapping[str, object], cases: dict) -> str:
    images, labels, batch_size = cases["images"], cases["labels"], cases["batch_size"]
    count = len(images)
    full, rest = divmod(count, batch_size)
    reference = normalize(images).reshape(count, -1)
    index_of = {row.tobytes(): i for i, row in enumerate(reference)}
    for tag, shuffle in (("ordered_", False), ("shuffled_", True)):
        if not evidence[f"{tag}pairs"]:
            raise Failed("每个批次应是一对 (图像, 标签)：yield batch_images, batch_labels")
        sizes = [int(size) for size in np.asarray(evidence[f"{tag}sizes"])]
        if sizes != [batch_size] * full + [rest]:
            raise Failed(f"{count} 个样本、batch_size={batch_size} 应得到 {full} 个 {batch_size} 的批次和最后一个 "
                         f"{rest} 的批次，实际批次大小为 {sizes}")
        shape = [int(n) for n in np.asarray(evidence[f"{tag}first_images_shape"])]
        if shape != [batch_size, 1, 28, 28] or evidence[f"{tag}first_images_dtype"] != "float32":
            raise Failed(f"图像批次应为 float32、形状 [{batch_size}, 1, 28, 28]，实际为 "
                         f"{evidence[f'{tag}first_images_dtype']}、{shape}")
        shape = [int(n) for n in np.asarray(evidence[f"{tag}first_labels_shape"])]
        if shape != [batch_size] or evidence[f"{tag}first_labels_dtype"] != "int64":
            raise Failed(f"标签批次应为 int64、形状 [{batch_size}]，实际为 {evidence[f'{tag}first_labels_dtype']}、{shape}")
        seen = np.asarray(evidence[f"{tag}images"], np.float32)
        order = [index_of.get(row.tobytes(), -1) for row in seen]
        if -1 in order:
            raise Failed("有的图像与 normalize(images) 的结果不一致：请用 course_utils.preprocess.normalize 做归一化")
        if sorted(order) != list(range(count)):
            raise Failed("每个样本在一轮 (epoch) 中应恰好出现一次：有的样本重复了或丢失了")
        if not np.array_equal(labels[order], np.asarray(evidence[f"{tag}labels"])):
            raise Failed("标签与图像对不上了：打乱顺序时，图像和标签要用同一个索引顺序")
        if shuffle and order == sorted(order):
            raise Failed("shuffle=True 时应打乱样本顺序 (例如 random.shuffle 一个索引列表)")
        if not shuffle and order != sorted(order):
            raise Failed("shuffle=False 时应保持原来的顺序")
    return "✅ 正确！批次大小、形状、归一化、打乱和最后一个不满的批次都对了。"


register(Exercise(
    name="batch_generator", chapter=1, title="练习 1.2：批次生成器", answer="batch_generator",
    cases=_batches_cases, collect=_batches_collect, judge=_batches_judge,
    forbidden=("course_utils.batching:ArrayLoader.__iter__", "course_utils.batching:MnistDataset.__getitem__"),
))


# 练习 1.3 DigitDataset ----------------------------------------------------------------------------------------------


def _dataset_cases(seed: int) -> dict:
    rng = np.random.default_rng([1, 3, seed])
    count = int(rng.integers(30, 50))
    return {"images": _digits(rng, count), "labels": rng.integers(0, 10, count).astype(np.int64),
            "index": int(rng.integers(1, count - 8)), "batch_size": int(rng.integers(4, 9))}


def _dataset_collect(dataset_class, *, cases: dict) -> dict:
    import paddle

    from ..mnist import Split

    if not isinstance(dataset_class, type):
        return {"is_class": False, "type": type(dataset_class).__name__}
    dataset = dataset_class(Split(cases["images"].copy(), cases["labels"].copy()))
    evidence: dict[str, object] = {"is_class": True, "is_dataset": isinstance(dataset, paddle.io.Dataset)}
    if not evidence["is_dataset"]:
        return evidence
    sample = dataset[cases["index"]]
    evidence["pair"] = isinstance(sample, (tuple, list)) and len(sample) == 2
    if not evidence["pair"]:
        return evidence
    evidence.update(prefixed("image_", describe_value(sample[0])))
    evidence.update(prefixed("label_", describe_value(sample[1])))
    evidence["length"] = len(dataset)
    try:  # judged after the sample itself, whose hints come first
        loader = paddle.io.DataLoader(dataset, batch_size=cases["batch_size"], shuffle=False, use_buffer_reader=False)
        images, labels = next(iter(loader))
        evidence.update(batches=len(loader), batch_images_shape=np.array(images.shape),
                        batch_labels_shape=np.array(labels.shape), batch_labels=labels.numpy())
    except Exception as error:
        evidence["loader_error"] = one_line(f"{type(error).__name__}: {error}")
    return evidence


def _dataset_judge(evidence: Mapping[str, object], cases: dict) -> str:
    images, labels, index, batch_size = cases["images"], cases["labels"], cases["index"], cases["batch_size"]
    if not evidence["is_class"]:
        raise Failed(f"要把类本身交给检查 (check_dataset_getitem(DigitDataset))，不是一个 {evidence['type']} 对象")
    if not evidence["is_dataset"]:
        raise Failed("这个类应继承 paddle.io.Dataset：class DigitDataset(paddle.io.Dataset)")
    if not evidence["pair"]:
        raise Failed("__getitem__ 应返回一对 (图像, 标签)，例如 return image, label")
    image = array_of(evidence, "image_", "__getitem__ 的图像")
    label = array_of(evidence, "label_", "__getitem__ 的标签")
    if image.shape != (1, 28, 28):
        if image.shape == (1, 1, 28, 28):
            raise Failed("图像形状是 [1, 1, 28, 28]：normalize 总是返回一批 [N, 1, 28, 28]，取一张要再加 [0]")
        raise Failed(f"一个样本的图像应为 [1, 28, 28] (通道、高、宽)，实际为 {list(image.shape)}")
    if image.dtype != np.float32:
        raise Failed(f"图像应是 float32 的归一化像素，实际为 {image.dtype}：用 normalize 处理 uint8 图像")
    if not np.allclose(image, normalize(images[index])[0], atol=1e-6):
        raise Failed("图像与 normalize(images[index]) 不同：要用同一个 normalize，并取第 index 张")
    if label.shape != () or label.dtype != np.int64:
        raise Failed(f"标签应是一个 int64 整数 (形状 [])，实际为 {label.dtype}、形状 {list(label.shape)}")
    if int(label) != int(labels[index]):
        raise Failed(f"dataset[{index}] 的标签是 {int(label)}，但第 {index} 张图的标签是 {int(labels[index])}："
                     "图像和标签要用同一个 index")
    if "loader_error" in evidence:
        raise Failed(f"paddle.io.DataLoader 从你的数据集取批次时出错：{evidence['loader_error']}")
    batches = -(-len(images) // batch_size)
    if evidence["length"] != len(images) or evidence["batches"] != batches:
        raise Failed(f"{len(images)} 个样本的数据集 len() 应为 {len(images)}，实际为 {evidence['length']}")
    shapes = [int(n) for n in np.asarray(evidence["batch_images_shape"])], \
        [int(n) for n in np.asarray(evidence["batch_labels_shape"])]
    if shapes != ([batch_size, 1, 28, 28], [batch_size]):
        raise Failed(f"DataLoader 拼出的批次应为 [{batch_size}, 1, 28, 28] 和 [{batch_size}]，实际为 {shapes[0]} 和 "
                     f"{shapes[1]}")
    if not np.array_equal(np.asarray(evidence["batch_labels"]), labels[:batch_size]):
        raise Failed(f"按顺序取出的前 {batch_size} 个标签与数据不符：__getitem__(index) 要返回第 index 个样本")
    return "✅ 正确！样本的形状、类型、数值和标签都对，DataLoader 能把它们拼成批次。"


register(Exercise(
    name="dataset_getitem", chapter=1, title="练习 1.3：Dataset", answer="DigitDataset",
    cases=_dataset_cases, collect=_dataset_collect, judge=_dataset_judge,
    forbidden=("course_utils.batching:MnistDataset.__getitem__",),
))
