"""Chapter 6's exercise: 练习 6.1 ``random_shift``."""
from __future__ import annotations

from typing import Mapping

import numpy as np

from ..preprocess import normalize
from . import Exercise, Failed, array_of, describe_value, one_line, prefixed, register

_MAX_SHIFT = 2


def _shift_cases(seed: int) -> dict:
    """Noise up to the images' borders, so that wrapping around (``np.roll``) or a wrong fill value shows."""
    rng = np.random.default_rng([6, 1, seed])
    count = int(rng.integers(300, 500))
    return {"images": normalize(rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)),
            "seeds": [int(n) for n in rng.integers(0, 2**31, 2)]}


def _shift_collect(random_shift, *, cases: dict) -> dict:
    images = cases["images"].copy()
    shifted = random_shift(images, _MAX_SHIFT, np.random.default_rng(cases["seeds"][0]))
    unchanged = bool(np.array_equal(images, cases["images"]))
    evidence = {"input_unchanged": unchanged, **prefixed("shifted_", describe_value(shifted))}
    try:  # judged after the shifts themselves, whose hints come first
        still = random_shift(cases["images"].copy(), 0, np.random.default_rng(cases["seeds"][1]))
        evidence.update(prefixed("still_", describe_value(still)))
    except Exception as error:
        evidence.update(still_kind="error", still_error=one_line(f"{type(error).__name__}: {error}"))
    return evidence


def _shift_judge(evidence: Mapping[str, object], cases: dict) -> str:
    images = cases["images"]
    if not evidence["input_unchanged"]:
        raise Failed("images 被修改了：不要原地修改输入，返回一个新数组 (例如先 np.pad，再切片)")
    shifted = array_of(evidence, "shifted_", "random_shift")
    if shifted.shape != images.shape or shifted.dtype != np.float32:
        raise Failed(f"结果应与输入一样是 float32、形状 {list(images.shape)}，实际为 {shifted.dtype}、{list(shifted.shape)}")
    offsets = [(dy, dx) for dy in range(-_MAX_SHIFT, _MAX_SHIFT + 1) for dx in range(-_MAX_SHIFT, _MAX_SHIFT + 1)]
    background = float(normalize(np.zeros((1, 28, 28), np.uint8)).flat[0])

    def matches(fill: float | None) -> np.ndarray:
        """[offsets, N]: which images equal their original moved by each offset (fill None: wrapped around)."""
        return np.stack([np.all(shifted == _moved(images, dy, dx, fill), axis=(1, 2, 3)) for dy, dx in offsets])

    found = matches(background)
    if not found.any(axis=0).all():
        if matches(None).any(axis=0).all():
            raise Failed("这是循环移位 (np.roll)：移出图像的像素不应从另一边回来；空出的位置要用背景值 BACKGROUND 填充")
        if matches(0.0).any(axis=0).all():
            raise Failed(f"空出的位置填成了 0：归一化之后黑色背景的值是 BACKGROUND ≈ {background:.4f}，不是 0")
        raise Failed("有的图像不是原图平移 -2..2 像素的结果：检查平移的范围、切片的起止位置和填充值")
    used = {offsets[index] for index in found.argmax(axis=0)}
    if len(used) == 1:
        raise Failed("所有图像平移得完全一样：每张图要各自抽取 dy、dx (在循环里，或一次抽 N 组)")
    for axis, name in ((0, "dy"), (1, "dx")):
        values = {offset[axis] for offset in used}
        if values != set(range(-_MAX_SHIFT, _MAX_SHIFT + 1)):
            raise Failed(f"{len(images)} 张图的 {name} 只出现了 {sorted(values)}：应覆盖 -max_shift 到 max_shift 的每个整数，"
                         "注意 rng.integers(low, high) 不包含 high，要写 max_shift + 1")
    if evidence["still_kind"] == "error":
        raise Failed(f"max_shift=0 时出错 ({evidence['still_error']})：这时 dy、dx 只能是 0")
    if not np.array_equal(array_of(evidence, "still_", "random_shift"), images):
        raise Failed("max_shift=0 时图像应保持不变")
    return "✅ 正确！每张图各自随机平移 -2..2 像素，移出的部分丢掉，空出的位置填背景。"


def _moved(images: np.ndarray, dy: int, dx: int, fill: float | None) -> np.ndarray:
    """``images`` with ``out[i, j] = in[i + dy, j + dx]``, uncovered pixels set to ``fill`` (None: wrapped around)."""
    if fill is None:
        return np.roll(images, (-dy, -dx), axis=(2, 3))
    h, w, m = *images.shape[2:], max(abs(dy), abs(dx))
    padded = np.pad(images, ((0, 0), (0, 0), (m, m), (m, m)), constant_values=fill)
    return padded[:, :, m + dy : m + dy + h, m + dx : m + dx + w]


register(Exercise(
    name="random_shift", chapter=6, title="练习 6.1：随机平移", answer="random_shift",
    cases=_shift_cases, collect=_shift_collect, judge=_shift_judge,
    forbidden=("course_utils.batching:random_shift", "course_utils.augment:augment_batch"),
))
