"""The grader's inner runner: what runs inside one submission's sandbox, and nothing that decides a grade.

``grading.grade_submission`` writes a plan (``plan.json``) into the submission's private folder and runs
``python -m course_utils.tools.grade_runner plan.json`` there, in the sandbox. This runner reads the plan, deletes it
(it holds the solution's exercise cells, which the student's code must not read) and collects *evidence* for each
exercise (see ``course_utils.exercises``) into ``evidence/<name>.npz``:

- An exercise whose answer is code (a function or class) is collected in a fresh Python process per exercise
  (``grade_runner --collect``): the chapter's setup cell from the instructor's notebook runs, then the student's
  exercise cell, then the exercise's collector on cases drawn from the grader's seed. Nothing else of the student's
  notebook runs there, so nothing it did to ``checks``, ``print`` or the collector can matter.
- An exercise whose answer is a value computed in the notebook (``flatten_size``, ``accuracy``, the learning-rate
  sweep) needs the notebook's state: the submission runs in a Jupyter kernel, cell by cell. Check cells do not run;
  after the student's exercise cell, a collector cell built from the instructor's check call saves the evidence, and
  then the solution's version of the exercise cell runs, so later exercises see the state a student who solved it
  would have. Code exercises' cells are replaced by the solution's in that run. Other cells run as they are; their
  errors are passed over, as a student would.

The verdicts are reached outside, in the grader's own process, from the evidence files alone. ``result.json`` only
adds what this runner saw, as codes from :data:`NOTES` (a missing exercise cell, a time limit, a dead kernel), which
the grader turns into its own fixed messages: nothing a student's code writes reaches the grade report as text.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

EVIDENCE_DIR = "evidence"
RESULT_FILE = "result.json"
PLAN_FILE = "plan.json"
NOTES = {
    "missing": "缺少练习单元格 the exercise cell is missing from the notebook",
    "timeout": "超时 timed out: 这个练习运行得太久",
    "crashed": "练习的进程出错 the exercise's process failed before it was collected",
    "inputs": "检查所需的变量有误 the check's inputs failed (a name the check cell uses)",
    "stopped": "未评分 not graded: 笔记本没有运行到这个练习 (the notebook stopped before it)",
}
"""What the runner may say about an exercise beside its evidence: a code here, a fixed message in the grader."""
_SETUP_NAME = "<setup cell>"
_ANSWER_NAME = "<exercise cell>"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.tools.grade_runner")
    parser.add_argument("plan", nargs="?", help="the plan grading.grade_submission wrote (deleted once read)")
    parser.add_argument("--collect", metavar="EXERCISE", help="collect one code exercise in this process")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--setup", help="file with the chapter's setup cell")
    parser.add_argument("--answer", help="file with the student's exercise cell")
    parser.add_argument("--out", help="where the evidence goes")
    args = parser.parse_args(argv)
    if args.collect:
        _collect_code(args.collect, args.seed, Path(args.setup), Path(args.answer), Path(args.out))
    plan_path = Path(args.plan)
    plan = json.loads(plan_path.read_text(encoding="utf-8"))
    plan_path.unlink()
    result = run_plan(plan)
    Path(RESULT_FILE).write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    return 0


def run_plan(plan: dict) -> dict:
    """Collect the evidence of every exercise of *plan* into ``evidence/``; return what was seen on the way."""
    deadline = time.monotonic() + plan["seconds"]
    evidence = Path(EVIDENCE_DIR).resolve()
    evidence.mkdir(exist_ok=True)
    notes: dict[str, str] = {}
    problem = None
    student = _read(Path(plan["submission"]))
    for exercise in plan["exercises"]:
        if exercise["kind"] != "code":
            continue
        source = _answer_source(student, exercise)
        if source is None:
            notes[exercise["name"]] = "missing"
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 1:
            problem = f"超时 timed out: 超过 {plan['seconds']} s 的时限 time limit"
            break
        note = _run_collector(exercise["name"], plan, source, evidence, min(remaining, plan["exercise_seconds"]))
        if note:
            notes[exercise["name"]] = note
    values = [exercise for exercise in plan["exercises"] if exercise["kind"] == "value"]
    if values and problem is None:
        problem = _run_kernel(student, plan, evidence, deadline, notes)
    return {"problem": problem, "notes": notes}


def _read(path: Path) -> dict:
    """The submission as JSON (the grader has checked that it is a notebook)."""
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _answer_source(nb: dict, exercise: dict) -> str | None:
    """The student's exercise cell: the cell with the solution cell's id; for a notebook that lost its ids, the cell
    that defines the answer's name, else the cell right before the one that calls its check."""
    cells = [cell for cell in nb.get("cells", []) if cell.get("cell_type") == "code"]
    for cell in cells:
        if cell.get("id") == exercise["cell_id"]:
            return _source(cell)
    if exercise.get("answer"):
        defines = re.compile(rf"^\s*(?:def|class)\s+{re.escape(exercise['answer'])}\b", re.MULTILINE)
        for cell in cells:
            if defines.search(_source(cell)):
                return _source(cell)
    calls = _check_call(exercise["name"])
    for before, cell in zip(cells, cells[1:]):
        if calls.search(_source(cell)):
            return _source(before)
    return None


def _run_collector(name: str, plan: dict, answer: str, evidence: Path, seconds: float) -> str | None:
    """Collect code exercise *name* in a fresh Python process; return a :data:`NOTES` code if it went wrong."""
    work = Path(f".collect-{name}").resolve()
    work.mkdir(exist_ok=True)
    (work / "setup.py").write_text(plan["setup"], encoding="utf-8")
    (work / "answer.py").write_text(answer, encoding="utf-8")
    command = [sys.executable, "-m", "course_utils.tools.grade_runner", "--collect", name, "--seed",
               str(plan["seed"]), "--setup", str(work / "setup.py"), "--answer", str(work / "answer.py"),
               "--out", str(evidence / f"{name}.npz")]
    try:
        finished = subprocess.run(command, cwd=work, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, timeout=seconds, start_new_session=True)
    except subprocess.TimeoutExpired:
        return "timeout"
    if finished.returncode != 0 and not (evidence / f"{name}.npz").exists():
        return "crashed"
    return None


def _collect_code(name: str, seed: int, setup: Path, answer: Path, out: Path) -> None:
    """``--collect``: run the setup cell and the student's cell here, collect, write the evidence, and leave at once
    (``os._exit``: no exit handler the student's code registered runs after the evidence is written)."""
    write, open_, close, leave = os.write, os.open, os.close, os._exit  # taken before any student code runs
    from course_utils import exercises

    exercise = exercises.EXERCISES[name]
    cases = exercise.cases(seed)
    namespace: dict[str, object] = {"__name__": "__main__"}
    evidence: dict[str, object]
    try:
        exec(compile(_python(setup.read_text(encoding="utf-8")), _SETUP_NAME, "exec"), namespace)
    except BaseException as error:  # the instructor's setup cell should not fail; say so if it does
        evidence = {"status": "error", "error": exercises.one_line(f"本章的设置单元格出错 setup cell failed: {error!r}")}
    else:
        evidence = _collect_answer(exercise, answer.read_text(encoding="utf-8"), namespace, cases)
    data = exercises.to_bytes({**{"library_calls": ""}, **evidence})
    handle = open_(str(out), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    write(handle, data)
    close(handle)
    leave(0)


def _collect_answer(exercise, source: str, namespace: dict, cases: dict) -> dict:
    from course_utils import exercises

    try:
        exec(compile(_python(source), _ANSWER_NAME, "exec"), namespace)
    except NotImplementedError:
        return {"status": "not_done"}
    except BaseException as error:  # a syntax error, a name the setup cell does not define, a SystemExit, ...
        return {"status": "error", "error": exercises.one_line(
            f"练习单元格运行出错 the exercise cell failed: {type(error).__name__}: {error}. 练习单元格只能用本章第一个"
            "代码单元格导入的名字 (the exercise cell may only use what the chapter's setup cell imports)")}
    if exercise.answer not in namespace:
        return {"status": "error", "error": f"练习单元格没有定义 {exercise.answer} (the cell does not define it)"}
    return exercises.collect(exercise, (namespace[exercise.answer],), cases, catch_errors=True)


def _python(source: str) -> str:
    """A cell's source as plain Python (IPython's ``%magic`` and ``!shell`` lines become calls)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _run_kernel(student: dict, plan: dict, evidence: Path, deadline: float, notes: dict[str, str]) -> str | None:
    """Run the submission in a kernel to collect its value exercises; return why it stopped early, if it did."""
    import nbformat

    from course_utils import exercises
    from course_utils.tools.notebook_build import CHECK_CALL
    from course_utils.tools.notebook_runner import NotebookRunner, Stopped

    nb = nbformat.reads(json.dumps(student), as_version=4)
    by_id = {exercise["cell_id"]: exercise for exercise in plan["exercises"]}
    checks = {exercise["check_id"] for exercise in plan["exercises"]}
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    os.environ["COURSE_EVIDENCE_DIR"] = str(evidence)
    folder = Path(plan["submission"]).resolve().parent
    reached: set[str] = set()
    try:
        with NotebookRunner(nb, folder, timeout=deadline - time.monotonic(), quiet=True) as runner:
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code" or "nbval-skip" in cell.get("metadata", {}).get("tags", []):
                    continue
                exercise = by_id.get(cell.get("id"))
                if exercise is None:
                    if cell.get("id") not in checks and not CHECK_CALL.search(cell.source):
                        runner.run(cell, index)
                    continue
                reached.add(exercise["name"])
                if exercise["kind"] == "value":
                    error = runner.run(cell, index)
                    if error is not None:
                        status = {"status": "not_done"} if error.ename == "NotImplementedError" else {
                            "status": "error", "error": exercises.one_line(str(error))}
                        (evidence / f"{exercise['name']}.npz").write_bytes(
                            exercises.to_bytes({**status, "library_calls": ""}))
                    else:
                        collector = nbformat.v4.new_code_cell(_collector_source(exercise))
                        error = runner.run(collector, index)
                        if error is not None:
                            notes[exercise["name"]] = "inputs"
                cell.source = exercise["solution_source"]  # the state a student who solved it would have
                runner.run(cell, index)
    except Stopped as stop:
        for exercise in plan["exercises"]:
            if exercise["kind"] == "value" and exercise["name"] not in reached:
                notes[exercise["name"]] = "stopped"
        return str(stop)
    return None


def _collector_source(exercise: dict) -> str:
    """The instructor's check call with ``checks.check_<name>(`` turned into the value collector's call."""
    return ("from course_utils.tools.grade_runner import collect_value as __course_collect_value\n"
            + _check_call(exercise["name"]).sub(f"__course_collect_value({exercise['name']!r}, ",
                                                exercise["check_source"], count=1))


def _check_call(name: str) -> re.Pattern[str]:
    """``checks.check_<name>(``, as a check cell writes it."""
    return re.compile(rf"\bchecks\s*\.\s*check_{re.escape(name)}\s*\(")


def collect_value(name: str, *answer: object) -> None:
    """Called in the submission's kernel: collect value exercise *name* into ``$COURSE_EVIDENCE_DIR/<name>.npz``."""
    from course_utils import exercises

    exercise = exercises.EXERCISES[name]
    evidence = exercises.collect(exercise, answer, exercise.cases(0), catch_errors=True)
    (Path(os.environ["COURSE_EVIDENCE_DIR"]) / f"{name}.npz").write_bytes(exercises.to_bytes(evidence))


if __name__ == "__main__":
    raise SystemExit(main())
