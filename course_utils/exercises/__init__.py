"""The course's exercises and how an answer is checked, split in two halves that a grader can trust.

Each exercise (:class:`Exercise`) has three parts:

- ``cases(seed)``: the inputs the answer is tried on, drawn from a seed. Notebooks use :data:`PUBLIC_SEED`; the
  grader draws its own, so an answer that hard-codes what the notebook's check expects fails.
- ``collect(*answer, cases=...)``: runs the student's answer on those inputs and returns what it did as plain data
  (numbers, strings, NumPy arrays): the *evidence*. Only this half runs the student's code.
- ``judge(evidence, cases)``: decides, from the evidence alone, whether the answer is right, and says what is off in
  Chinese. It returns the ✅ line or raises :class:`Failed`. It never touches the student's objects.

In a notebook, ``checks.check_<name>(...)`` runs all three in the student's kernel (:func:`check`) and prints the ✅
line or shows one ❌ line. The grader runs ``collect`` in a sandboxed process and ``judge`` in its own (see
``course_utils.tools.grading``), so nothing the student's code does to ``checks``, ``print`` or the collector can
turn into a pass: evidence that is missing or malformed is judged wrong.

While ``collect`` runs, the library functions an exercise asks the student to write themselves are watched
(:mod:`.tripwire`): an answer that calls ``preprocess.normalize`` for "write normalize" gets no credit.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from . import tripwire

PUBLIC_SEED = 0
"""The seed of the cases the notebooks' checks use."""

Evidence = dict[str, object]
"""What ``collect`` found: keys are names, values are numbers, strings or arrays (anything ``np.asarray`` turns
into a non-object array)."""


class Failed(Exception):
    """Raised by a judge: the answer is wrong; the message says what is off, in Chinese, without the ❌."""


class ExerciseFailed(AssertionError):
    """What a notebook's check raises for a wrong answer. IPython shows only its one line, not a traceback through
    the course's code."""

    def _render_traceback_(self) -> list[str]:
        return [str(self)]


@dataclass(frozen=True)
class Exercise:
    """One exercise of a chapter.

    ``answer`` is the name the exercise cell defines (a function or class) for exercises whose answer is code; those
    are graded from the cell's source in a fresh process. It is None for exercises whose answer is a value computed
    in the notebook (``flatten_size``, ``accuracy``), which are collected in the student's kernel. ``forbidden``
    names the library functions the answer must not call, as ``"package.module:Qual.name"``.
    """

    name: str
    chapter: int
    title: str
    answer: str | None
    cases: Callable[[int], dict]
    collect: Callable[..., Evidence]
    judge: Callable[[Mapping[str, object], dict], str]
    forbidden: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """The outcome of judging one answer: passed or not, and the line that says so (✅ ... or ❌ ...)."""

    passed: bool
    message: str
    attempted: bool = True


EXERCISES: dict[str, Exercise] = {}
"""Every exercise of the course by name (the ``<name>`` of ``checks.check_<name>``), filled by the chapter modules."""


def register(exercise: Exercise) -> Exercise:
    EXERCISES[exercise.name] = exercise
    return exercise


def collect(exercise: Exercise, answer: tuple, cases: dict, *, catch_errors: bool) -> Evidence:
    """Run ``exercise.collect`` on *answer* with the forbidden library functions watched, and return the evidence as
    it would arrive from another process (see :func:`to_bytes`).

    An answer that still raises ``NotImplementedError`` (the stub) gives ``status: not_done``. Any other exception
    from the student's code propagates when *catch_errors* is False (a student in a notebook wants the traceback of
    their own code) and becomes ``status: error`` with its one-line text otherwise (the grader).
    """
    with tripwire.watch(exercise.forbidden) as called:
        try:
            evidence = dict(exercise.collect(*answer, cases=cases))
            evidence.setdefault("status", "ok")
        except NotImplementedError:
            evidence = {"status": "not_done"}
        except Exception as error:
            if not catch_errors:
                raise
            evidence = {"status": "error", "error": one_line(f"{type(error).__name__}: {error}")}
    evidence["library_calls"] = ", ".join(sorted(called))
    return from_bytes(to_bytes(evidence))


def judge(exercise: Exercise, evidence: Mapping[str, object], cases: dict) -> Verdict:
    """Judge *evidence* (trusted code only): a verdict whatever the evidence holds; only a judge's ✅ passes."""
    try:
        status = str(_item(evidence, "status"))
        called = str(_item(evidence, "library_calls"))
        if status == "not_done":
            what = exercise.answer or exercise.name
            return Verdict(False, f"❌ {what} 还没有写：把 raise NotImplementedError() 换成你的代码，运行那个单元格，"
                                  "再运行这个检查", attempted=False)
        if called:
            return Verdict(False, f"❌ 你的答案调用了课程库自己的 {called}：这个练习要你自己写出来，不能调用它")
        if status == "error":
            return Verdict(False, f"❌ 运行出错 error: {_item(evidence, 'error')}")
        if status != "ok":
            raise ValueError(f"unknown status {status!r}")
        message = exercise.judge(evidence, cases)
    except Failed as failure:
        return Verdict(False, f"❌ {failure}")
    except Exception as error:  # evidence that is missing, malformed or made up: never a pass
        return Verdict(False, f"❌ 检查结果不完整或被改动 evidence incomplete or tampered with ({type(error).__name__})")
    return Verdict(True, message)


def check(name: str, *answer: object) -> None:
    """The notebook's check of exercise *name*: print the ✅ line, or raise :class:`ExerciseFailed` with the ❌ line."""
    exercise = EXERCISES[name]
    cases = exercise.cases(PUBLIC_SEED)
    verdict = judge(exercise, collect(exercise, answer, cases, catch_errors=False), cases)
    if not verdict.passed:
        raise ExerciseFailed(verdict.message)
    print(verdict.message)


def to_bytes(evidence: Evidence) -> bytes:
    """Evidence as an ``.npz`` archive: plain arrays only (``allow_pickle=False`` on both sides)."""
    arrays = {}
    for key, value in evidence.items():
        array = np.asarray(value)
        if array.dtype == object:
            raise TypeError(f"evidence {key!r} is not plain data")
        arrays[key] = array
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def from_bytes(data: bytes) -> Evidence:
    """The evidence :func:`to_bytes` wrote: 0-d arrays come back as Python scalars and strings."""
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        return {key: (archive[key].item() if archive[key].ndim == 0 else archive[key]) for key in archive.files}


def one_line(text: str, limit: int = 300) -> str:
    """*text* on one line, at most *limit* characters."""
    return " ".join(str(text).split())[:limit]


def _item(evidence: Mapping[str, object], key: str) -> object:
    if key not in evidence:
        raise KeyError(key)
    return evidence[key]


# Helpers shared by the chapters' collectors and judges.


def as_array(value: object) -> np.ndarray:
    """A student's result (NumPy array, Paddle tensor, list) as a NumPy array, for the evidence."""
    numpy = getattr(value, "numpy", None)
    return np.asarray(numpy() if callable(numpy) else value)


def describe_value(value: object) -> Evidence:
    """A student's result as evidence: ``{"kind": "none"}``, ``{"kind": "array", "value": ...}`` or
    ``{"kind": "other", "type": ...}`` for something that is not array-like."""
    if value is None:
        return {"kind": "none"}
    try:
        array = as_array(value)
    except Exception:  # a student's object may fail in any way when converted
        array = np.asarray(None)
    if array.dtype == object:
        return {"kind": "other", "type": type(value).__name__}
    return {"kind": "array", "value": array}


def number(value: object) -> Evidence:
    """A student's numeric answer as evidence: ``kind`` none/bool/number/other, ``value`` a float."""
    if value is None:
        return {"kind": "none", "value": math.nan}
    if isinstance(value, (bool, np.bool_)):
        return {"kind": "bool", "value": float(value)}
    try:
        array = as_array(value).reshape(())
    except Exception:  # a list, a tensor of several values, an object numpy cannot convert, ...
        array = np.asarray(None)
    if array.dtype.kind not in "iuf":  # a string is not a number, even "980"
        return {"kind": "other", "value": math.nan, "type": type(value).__name__}
    return {"kind": "number", "value": float(array)}


def array_of(evidence: Mapping[str, object], key: str, what: str) -> np.ndarray:
    """The array a judge needs from ``evidence[key + "_kind"/"_value"]``, or :class:`Failed` naming *what*."""
    kind = evidence[f"{key}kind"]
    if kind == "none":
        raise Failed(f"{what} 没有返回值：函数最后要 return 结果")
    if kind != "array":
        raise Failed(f"{what} 返回的是 {evidence[f'{key}type']}，不是数组")
    return np.asarray(evidence[f"{key}value"])


def prefixed(prefix: str, evidence: Evidence) -> Evidence:
    return {f"{prefix}{key}": value for key, value in evidence.items()}


# The chapters register their exercises on import.
from . import ch1, ch2, ch3, ch4, ch5, ch6, ch7  # noqa: E402  (they need the names above)

__all__ = ["EXERCISES", "PUBLIC_SEED", "Exercise", "ExerciseFailed", "Failed", "Verdict", "check", "collect",
           "from_bytes", "judge", "to_bytes"]
