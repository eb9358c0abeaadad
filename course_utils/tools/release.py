"""Build the folder students get when their work is graded: everything they need, no solutions.

``python -m course_utils release DIR`` writes

- ``student/``: the student notebooks (exercise cells are stubs, no outputs);
- ``course_utils/``: the package, tools included (students run ``download``, ``train``, ``predict`` and
  ``check-submission``). It holds no answers: the grader's hidden cases are drawn from a seed the instructor keeps,
  not read from files;
- ``work/``: the example images and ``work/README.md`` (no checkpoints, logs, caches or MNIST files);
- ``pyproject.toml``, ``environment.yml``, ``LICENSE`` and a short student ``README.md``.

Not in it: ``notebooks/`` (the solution notebooks), ``tests/``, ``benchmarks/``, ``docs/``. Without grading, hand
out the whole repository instead: there the solution notebooks are meant for comparing after trying.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import CourseError
from ..settings import PROJECT_ROOT
from .notebook_build import STUDENT_DIR

PROJECT_FILES = ("pyproject.toml", "environment.yml", "LICENSE")
WORK_FILES = ("README.md", "example_*")
"""What of ``work/`` students get: its README and the example photos chapter 4 reads."""
_NOT_COPIED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")

STUDENT_README = """\
# 手写数字识别 · Handwritten Digit Recognition with PaddlePaddle 3（学生版 / student copy）

按顺序打开 `student/` 里的笔记本 (notebooks)，从 `01_data.ipynb` 开始。每个练习在 `# YOUR CODE HERE` 处写代码，
后面的检查单元格会用中文告诉你答案对不对、哪里不对。练习只能用本章第一个代码单元格 (setup cell) 定义的名字，
而且要自己实现：直接调用课程库里现成的实现（例如在 `normalize_pixels` 里调用 `normalize`）不得分。

## 安装 / Install

需要 Python 3.10 及以上：

```bash
pip install -e ".[cpu]"          # 没有 Paddle 的电脑：连同 PaddlePaddle 的 CPU 版一起安装
pip install -e .                 # 已有 Paddle（AI Studio、GPU 机器）：不动已有的 Paddle
```

也可以用 conda：`conda env create -f environment.yml && conda activate paddle-mnist && pip install -e .`。
MNIST 会在第一次用到时下载到 `work/`（或 `python -m course_utils download`）。

## 提交之前 / Before you hand in

先保存笔记本 (Ctrl+S)，再运行：

```bash
python -m course_utils check-submission student/01_data.ipynb
```

它像老师的评分程序一样运行你的笔记本（用你没见过的输入检查每个练习），告诉你会批改哪一章、哪些练习，
还会发现空的、没保存（和发下来的一样）或者章节不对的笔记本。

## 命令行 / Command line

```
python -m course_utils train                 # 训练课程的 CNN
python -m course_utils predict work/example_0.jpg
```

每个子命令都有 `--help`。
"""


def release(dest: Path) -> list[Path]:
    """Write the student release into ``dest`` (which must not exist or be empty); return the files written."""
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise CourseError(f"{dest} exists and is not an empty folder: give a new folder for the release")
    notebooks = sorted((PROJECT_ROOT / STUDENT_DIR).glob("*.ipynb"))
    if not notebooks:
        raise CourseError(f"no student notebooks in {PROJECT_ROOT / STUDENT_DIR}: run "
                          "`python -m course_utils notebooks build` first")
    dest.mkdir(parents=True, exist_ok=True)
    (dest / STUDENT_DIR).mkdir()
    for notebook in notebooks:
        shutil.copy2(notebook, dest / STUDENT_DIR / notebook.name)
    shutil.copytree(PROJECT_ROOT / "course_utils", dest / "course_utils", ignore=_NOT_COPIED)
    (dest / "work").mkdir()
    for pattern in WORK_FILES:
        for path in sorted((PROJECT_ROOT / "work").glob(pattern)):
            if path.is_file():
                shutil.copy2(path, dest / "work" / path.name)
    for name in PROJECT_FILES:
        if (PROJECT_ROOT / name).is_file():
            shutil.copy2(PROJECT_ROOT / name, dest / name)
    (dest / "README.md").write_text(STUDENT_README, encoding="utf-8")
    return sorted(path for path in dest.rglob("*") if path.is_file())
