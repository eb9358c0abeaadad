"""Chapter 7's exercises: 练习 7.1 ``per_writer_accuracy``, 7.2 ``split_by_writer``."""
from __future__ import annotations

from typing import Mapping

import numpy as np

from . import Exercise, Failed, array_of, describe_value, prefixed, register

# 练习 7.1 per_writer_accuracy ---------------------------------------------------------------------------------------


def _accuracy_cases(seed: int) -> dict:
    rng = np.random.default_rng([7, 2, seed])
    names = np.array([f"writer_{i}" for i in range(int(rng.integers(4, 8)))])
    count = int(rng.integers(200, 400))
    writers = names[rng.integers(0, len(names), count)]
    labels = rng.integers(0, 10, count)
    skill = {name: rng.uniform(0.6, 1.0) for name in names}  # each writer read right this often
    right = rng.random(count) < np.array([skill[name] for name in writers])
    predictions = np.where(right, labels, (labels + rng.integers(1, 10, count)) % 10)
    return {"writers": writers, "labels": labels, "predictions": predictions}


def _accuracy_collect(per_writer_accuracy, *, cases: dict) -> dict:
    result = per_writer_accuracy(cases["writers"].copy(), cases["labels"].copy(), cases["predictions"].copy())
    if not isinstance(result, dict):
        return {"kind": "none" if result is None else "other", "type": type(result).__name__}
    names = [str(name) for name in result]
    try:
        values = np.array([float(result[name]) for name in result], dtype=np.float64)
    except (TypeError, ValueError):
        return {"kind": "values", "type": "non-numbers"}
    return {"kind": "dict", "names": np.array(names, dtype=str), "values": values}


def _accuracy_judge(evidence: Mapping[str, object], cases: dict) -> str:
    kind = evidence["kind"]
    if kind == "none":
        raise Failed("per_writer_accuracy 没有返回值：函数最后要 return 一个字典 {书写者: 正确率}")
    if kind == "values":
        raise Failed("字典的值应是数 (正确率)，例如 float(np.mean(...))")
    if kind != "dict":
        raise Failed(f"per_writer_accuracy 应返回字典 {{书写者: 正确率}}，实际返回 {evidence['type']}")
    names = [str(name) for name in np.atleast_1d(evidence["names"])]
    values = np.atleast_1d(np.asarray(evidence["values"], dtype=np.float64))
    writers, labels, predictions = cases["writers"], cases["labels"], cases["predictions"]
    expected = {str(name): float(np.mean(predictions[writers == name] == labels[writers == name]))
                for name in np.unique(writers)}
    if sorted(names) != sorted(expected):
        raise Failed(f"字典的键应是全部 {len(expected)} 个书写者 (每人一项)，实际有 {len(names)} 项")
    answer = dict(zip(names, values))
    if all(value > 1.0 for value in values):
        raise Failed("正确率应是 0 到 1 之间的比例：是用了百分数，还是忘了除以这个书写者的数字个数？")
    for name, value in answer.items():
        if abs(value - expected[name]) > 1e-9:
            raise Failed(f"{name} 的正确率应为 {expected[name]:.4f}，得到 {value:.4f}：只数这个书写者的数字，"
                         "预测正确的个数除以他的数字总数")
    return "✅ 正确！每个书写者一项，正确率只按他自己的数字计算。"


register(Exercise(
    name="per_writer_accuracy", chapter=7, title="练习 7.1：每个书写者的正确率", answer="per_writer_accuracy",
    cases=_accuracy_cases, collect=_accuracy_collect, judge=_accuracy_judge,
))


# 练习 7.2 split_by_writer -------------------------------------------------------------------------------------------

_SEEDS = (0, 1, 2, 3)


def _split_cases(seed: int) -> dict:
    """Writers' names for the digits of a class, in the interleaved order a class's file has (several sheets read
    one after another, canvas drawings added later), and how many writers to hold out."""
    rng = np.random.default_rng([7, 1, seed])
    cases = []
    for writers, held_out in ((10, 3), (6, 2)):
        names = [f"writer_{chr(97 + i)}{int(rng.integers(10, 99))}" for i in range(writers)]
        counts = rng.integers(20, 90, writers)
        column = np.repeat(np.array(names), counts)
        cases.append((column[rng.permutation(len(column))], held_out))
    return {"cases": cases}


def _split_collect(split_by_writer, *, cases: dict) -> dict:
    """What the answer returns for each case and seed (the first seed twice: the same seed must give the same
    split)."""
    evidence: dict[str, object] = {}
    for index, (writers, held_out) in enumerate(cases["cases"]):
        for run, seed in enumerate((*_SEEDS, _SEEDS[0])):
            result = split_by_writer(writers.copy(), held_out, seed)
            if not isinstance(result, tuple) or len(result) != 2:
                evidence[f"case{index}_run{run}_pair"] = False
                continue
            evidence[f"case{index}_run{run}_pair"] = True
            evidence.update(prefixed(f"case{index}_run{run}_train_", describe_value(result[0])))
            evidence.update(prefixed(f"case{index}_run{run}_test_", describe_value(result[1])))
    return evidence


def _split_judge(evidence: Mapping[str, object], cases: dict) -> str:
    for index, (writers, held_out) in enumerate(cases["cases"]):
        held_sets = []
        for run in range(len(_SEEDS) + 1):
            key = f"case{index}_run{run}_"
            if not evidence[f"{key}pair"]:
                raise Failed("split_by_writer 应返回两个索引数组 (train_indices, test_indices)")
            train = array_of(evidence, f"{key}train_", "train_indices")
            test = array_of(evidence, f"{key}test_", "test_indices")
            for name, part in (("train_indices", train), ("test_indices", test)):
                if part.ndim != 1 or (part.size and part.dtype.kind not in "iu"):
                    raise Failed(f"{name} 应是一维的整数索引数组 (例如 np.flatnonzero(mask) 的结果)，"
                                 f"实际为 {part.dtype}、形状 {list(part.shape)}")
                if part.size and (part.min() < 0 or part.max() >= len(writers)):
                    raise Failed(f"{name} 里有超出范围的索引：索引应在 0 到 {len(writers) - 1} 之间")
            everything = np.concatenate([train, test])
            if len(everything) != len(writers) or len(np.unique(everything)) != len(writers):
                raise Failed("每个数字应恰好分到一边：训练和测试的索引合起来应包含每个索引一次，不重复、不遗漏")
            shared = sorted(set(writers[train]) & set(writers[test]))
            if shared:
                raise Failed(f"书写者 {shared[0]} 的数字两边都有：同一个书写者的所有数字必须在同一边，这正是按书写者划分的意义")
            held = frozenset(writers[test].tolist())
            if len(held) != held_out:
                raise Failed(f"测试集应有 held_out={held_out} 个书写者的数字，实际有 {len(held)} 个书写者")
            held_sets.append(held)
        if held_sets[-1] != held_sets[0]:
            raise Failed("同一个 seed 两次调用得到了不同的划分：用 np.random.default_rng(seed) 生成随机数，结果才可重复")
        if len(set(held_sets)) == 1:
            raise Failed(f"seed 为 {', '.join(map(str, _SEEDS))} 时留出的书写者都一样：应按 seed 随机选择书写者，"
                         "例如 np.random.default_rng(seed).choice(...)")
    return "✅ 正确！每个书写者的数字都在同一边，测试集恰好有 held_out 个书写者，同一个 seed 得到同一个划分。"


register(Exercise(
    name="split_by_writer", chapter=7, title="练习 7.2：按书写者划分", answer="split_by_writer",
    cases=_split_cases, collect=_split_collect, judge=_split_judge,
))
