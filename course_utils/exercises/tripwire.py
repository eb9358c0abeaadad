"""Notice when an exercise's answer calls the course's own implementation of what the exercise asks for.

Chapter 1 asks for ``normalize_pixels``; ``course_utils.preprocess.normalize`` already does it, and the notebook
imports it. While an answer runs, :func:`watch` swaps the *code* of each forbidden function for a stub that records
the call and then runs the original. Swapping the code (not the module attribute) catches every way of reaching the
function: a name imported before, a method inherited from the library's class, a copy of the cell above that calls
it. The call still runs, so the answer's result is known too; the check then refuses the credit.
"""
from __future__ import annotations

import contextlib
import importlib
import types
from typing import Callable, Iterable, Iterator

_REGISTRY = "__course_exercise_tripwires__"
"""The name, in the forbidden function's module globals, of the dict its stub looks itself up in."""


def resolve(target: str) -> types.FunctionType:
    """The function named ``"package.module:Qual.name"`` (a plain function or a method defined in a class)."""
    module_name, _, qualname = target.partition(":")
    obj: object = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = vars(obj)[part] if isinstance(obj, type) else getattr(obj, part)
    if not isinstance(obj, types.FunctionType):
        raise TypeError(f"{target} is not a Python function")
    return obj


@contextlib.contextmanager
def watch(targets: Iterable[str]) -> Iterator[set[str]]:
    """Record, in the yielded set, which of *targets* are called inside the ``with`` block (by their short name)."""
    called: set[str] = set()
    swapped: list[tuple[types.FunctionType, types.CodeType, str]] = []
    try:
        for target in targets:
            function = resolve(target)
            short = target.partition(":")[2]
            original = types.FunctionType(function.__code__, function.__globals__, function.__name__,
                                          function.__defaults__, function.__closure__)
            original.__kwdefaults__ = function.__kwdefaults__
            function.__globals__.setdefault(_REGISTRY, {})[short] = _recorder(short, original, called)
            stub = _stub(function.__name__, short)
            swapped.append((function, function.__code__, short))
            function.__code__ = stub
        yield called
    finally:
        for function, code, short in reversed(swapped):
            function.__code__ = code
            registry = function.__globals__.get(_REGISTRY, {})
            registry.pop(short, None)
            if not registry:
                function.__globals__.pop(_REGISTRY, None)


def _recorder(short: str, original: Callable, called: set[str]) -> Callable:
    def record(*args: object, **kwargs: object) -> object:
        called.add(short)
        return original(*args, **kwargs)

    return record


def _stub(name: str, short: str) -> types.CodeType:
    """The code of ``def name(*args, **kwargs)`` that calls this module's registered recorder for *short*."""
    source = f"def {name}(*args, **kwargs):\n    return {_REGISTRY}[{short!r}](*args, **kwargs)\n"
    namespace: dict[str, object] = {}
    exec(compile(source, f"<course exercise tripwire {short}>", "exec"), namespace)
    return namespace[name].__code__  # type: ignore[attr-defined]
