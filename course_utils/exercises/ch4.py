"""Chapter 4's exercises: 练习 4.1 ``centre_by_mass``, 4.2 ``original_preprocess``."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Mapping

import numpy as np

from . import Exercise, Failed, array_of, describe_value, one_line, prefixed, register

# 练习 4.1 centre_by_mass --------------------------------------------------------------------------------------------


def _boxes(seed: int) -> list[np.ndarray]:
    """Lopsided digits, whose centre of mass is far from the middle of their box, so that centring the box, a wrong
    sign or swapped axes show; and two so lopsided that the rule puts them partly outside the field unless the
    position is clipped, as ``imaging.centre_by_mass`` does."""
    rng = np.random.default_rng([4, 1, seed])
    boxes = []
    height, width = int(rng.integers(12, 17)), int(rng.integers(8, 12))
    seven = np.zeros((height, width))
    seven[:3, :] = 1.0  # a heavy bar on top and a thin stem: the mass sits high and to the right
    seven[3:, width - 3 : width - 1] = 0.5
    boxes.append(seven)
    height, width = int(rng.integers(14, 19)), int(rng.integers(16, 21))
    ell = np.zeros((height, width))
    ell[:, :3] = 0.8  # an L lying on its side: the mass sits low and to the left
    ell[-5:, :] = 0.8
    boxes.append(ell)
    width = int(rng.integers(7, 12))
    boxes.append(rng.random((20, width)) * np.linspace(0.1, 1.0, width))  # ink fading from right to left
    top_heavy = np.zeros((20, int(rng.integers(10, 15))))
    top_heavy[:4, :] = 1.0  # a 7 with a heavy bar: its mass lies in its top quarter, so 14 - centre + 20 > 28
    top_heavy[4:, 1] = 0.05
    boxes.append(top_heavy)
    left_heavy = np.zeros((int(rng.integers(8, 13)), 20))
    left_heavy[:, :4] = 1.0
    left_heavy[0, 4:] = 0.05
    boxes.append(left_heavy)
    return boxes


def _centre_cases(seed: int) -> dict:
    return {"boxes": _boxes(seed)}


def _centre_collect(centre_by_mass, *, cases: dict) -> dict:
    evidence: dict[str, object] = {}
    for index, box in enumerate(cases["boxes"]):
        try:
            evidence.update(prefixed(f"box{index}_", describe_value(centre_by_mass(box.copy()))))
        except NotImplementedError:
            raise
        except Exception as error:  # a crash on one lopsided digit is this exercise's classic slip: judged below
            evidence[f"box{index}_kind"] = "error"
            evidence[f"box{index}_error"] = one_line(f"{type(error).__name__}: {error}")
    return evidence


def _centre_judge(evidence: Mapping[str, object], cases: dict) -> str:
    from ..imaging import centre_by_mass

    for index, box in enumerate(cases["boxes"]):
        height, width = box.shape
        mass_row, mass_col = _centre_of_mass(box)
        if evidence[f"box{index}_kind"] == "error":
            if _overflows(box):
                raise Failed(f"一个很偏的数字 ({height}x{width}，重心在 ({mass_row:.1f}, {mass_col:.1f})) 让程序出错了 "
                             f"({evidence[f'box{index}_error']})：按规则算出的位置会让数字伸出画布。用 np.clip 把 top 限制"
                             "在 0 到 28 - 高 之间、left 限制在 0 到 28 - 宽 之间")
            raise Failed(f"运行出错 error: {evidence[f'box{index}_error']}")
        answer = array_of(evidence, f"box{index}_", "centre_by_mass")
        if answer.shape != (28, 28):
            raise Failed(f"结果应是 28x28 的画布，实际形状为 {list(answer.shape)}")
        if answer.dtype != np.uint8:
            raise Failed(f"类型应为 uint8 (与 MNIST 文件相同)，实际为 {answer.dtype}：最后用 np.rint(...).astype(np.uint8)")
        if answer.max() != 255:
            raise Failed(f"最亮的像素应为 255，实际为 {answer.max()}：把画布乘以 255 / 最大值，再取整")
        if np.array_equal(answer, centre_by_mass(box)):
            continue
        row, col = _centre_of_mass(answer)
        if not _overflows(box) and _contains(answer, box) and abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5:
            continue  # the offset rounded the other way at a half pixel: just as good
        if _overflows(box) and _contains(answer, box):
            raise Failed("这个数字太偏，按规则会伸出画布：把 top、left 用 np.clip 限制在画布之内 (0 到 28 - 高/宽)，"
                         "让数字尽量靠近中心而不被截掉")
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
                raise Failed(hint)
        if not _contains(answer, box):
            raise Failed("画布上的数字与输入的 box 不一样：把 box 原样放进画布 (不要翻转、缩放或转置)，只按比例调到最亮 255")
        raise Failed(f"重心在 ({row:.1f}, {col:.1f})，应在 (14, 14)：左上角放在 (round(14 - 重心行), round(14 - 重心列))")
    return "✅ 正确！数字的重心落在 (14, 14)，与 imaging.centre_by_mass 一致。"


def _centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    from scipy import ndimage

    row, col = ndimage.center_of_mass(image.astype(np.float64))
    return float(row), float(col)


def _overflows(box: np.ndarray) -> bool:
    """Whether the unclipped rule puts *box* partly outside the 28x28 field."""
    row, col = _centre_of_mass(box)
    top, left = round(14 - row), round(14 - col)
    return top < 0 or left < 0 or top + box.shape[0] > 28 or left + box.shape[1] > 28


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


register(Exercise(
    name="centre_by_mass", chapter=4, title="练习 4.1：按重心居中", answer="centre_by_mass",
    cases=_centre_cases, collect=_centre_collect, judge=_centre_judge,
    forbidden=("course_utils.imaging:centre_by_mass",),
))


# 练习 4.2 original_preprocess ---------------------------------------------------------------------------------------


def _original_cases(seed: int) -> dict:
    """A colour photo that is not square: dark blue ink on light, unevenly lit paper."""
    rng = np.random.default_rng([4, 2, seed])
    height, width = int(rng.integers(50, 80)), int(rng.integers(80, 120))
    paper = np.linspace(rng.integers(180, 210), rng.integers(230, 252), width)[None, :, None] * np.ones((height, width, 3))
    top, left = int(rng.integers(5, height // 3)), int(rng.integers(10, width // 2))
    paper[top : top + height // 2, left : left + 10] = (20, 30, 90)
    return {"picture": np.clip(paper + rng.normal(0, 4, paper.shape), 0, 255).astype(np.uint8)}


def _original_collect(original_preprocess, *, cases: dict) -> dict:
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="course-check-") as folder:
        path = Path(folder) / "photo.png"
        Image.fromarray(cases["picture"]).save(path)
        try:
            return prefixed("result_", describe_value(original_preprocess(str(path))))
        except AttributeError as error:
            if "ANTIALIAS" in str(error):
                return {"antialias": True}
            raise


def _original_judge(evidence: Mapping[str, object], cases: dict) -> str:
    from PIL import Image

    if evidence.get("antialias"):
        raise Failed("Pillow 10 删除了 Image.ANTIALIAS：它现在叫 Image.Resampling.LANCZOS (同一个滤波器)")
    answer = array_of(evidence, "result_", "original_preprocess")
    grey = Image.fromarray(cases["picture"]).convert("L").resize((28, 28), Image.Resampling.LANCZOS)
    expected = 1.0 - np.asarray(grey, dtype=np.float32).reshape(1, 1, 28, 28) / 255.0
    if answer.size == 28 * 28 * 3:
        raise Failed("结果有 3 个颜色通道：原教程先用 .convert('L') 转成灰度")
    if answer.shape != (1, 1, 28, 28):
        raise Failed(f"形状应为 [1, 1, 28, 28] (一张图、一个通道)，实际为 {list(answer.shape)}：用 reshape(1, 1, 28, 28)")
    if answer.dtype != np.float32:
        raise Failed(f"类型应为 float32，实际为 {answer.dtype}：用 .astype(np.float32)")
    if answer.max() > 1.0 + 1e-6:
        raise Failed(f"数值最大到 {answer.max():.1f}：原教程用 1.0 - im / 255. 把像素缩放到 0 到 1")
    if np.median(answer) > 0.5:
        raise Failed("白纸变成了接近 1 的亮背景：原教程用 1 - x / 255 反转，让笔迹变亮、纸变暗，像 MNIST 一样")
    if np.allclose(answer, expected, atol=1e-5):
        return "✅ 正确！与原教程的预处理一致 (只把 ANTIALIAS 换成了 LANCZOS)。"
    if np.abs(answer - expected).mean() < 0.05:
        raise Failed("数值接近但不相同：缩放时要用 Image.Resampling.LANCZOS (原来的 ANTIALIAS)，不是默认的滤波器")
    raise Failed("结果与原教程的做法不同：顺序是 convert('L') → resize((28, 28), LANCZOS) → 1 - x / 255 → reshape")


register(Exercise(
    name="original_preprocess", chapter=4, title="练习 4.2：原教程的预处理", answer="original_preprocess",
    cases=_original_cases, collect=_original_collect, judge=_original_judge,
))
