"""The collect/judge split of the exercise checks: what a grader relies on.

The hint for each wrong answer is tested in test_checks.py; here: an answer that calls the library's own
implementation gets no credit, the cases depend on the seed (so hard-coded outputs fail), evidence that is missing
or made up is never a pass, and a failed check shows one line."""
from __future__ import annotations

import numpy as np
import paddle
import pytest

from course_utils import checks, exercises
from course_utils.exercises import EXERCISES, PUBLIC_SEED, Verdict, collect, judge, tripwire

CHAPTER_EXERCISES = {
    1: ["normalize_pixels", "batch_generator", "dataset_getitem"],
    2: ["flatten_size", "forward", "count_parameters"],
    3: ["train_step", "learning_rate"],
    4: ["centre_by_mass", "original_preprocess"],
    5: ["accuracy", "confusion_matrix"],
    6: ["random_shift"],
    7: ["per_writer_accuracy", "split_by_writer"],
}


def test_every_check_of_the_notebooks_is_a_registered_exercise():
    names = {name.removeprefix("check_") for name in vars(checks) if name.startswith("check_")}
    assert names == {name for chapter in CHAPTER_EXERCISES.values() for name in chapter}
    for chapter, chapter_names in CHAPTER_EXERCISES.items():
        assert [name for name in EXERCISES if EXERCISES[name].chapter == chapter] == chapter_names


def test_every_forbidden_name_resolves_to_a_function():
    for exercise in EXERCISES.values():
        for target in exercise.forbidden:
            assert callable(tripwire.resolve(target))


def test_the_tripwire_records_calls_through_names_imported_before_and_restores_the_function():
    from course_utils.preprocess import normalize  # a reference taken before the watch, as a notebook has

    images = np.zeros((2, 28, 28), np.uint8)
    before = normalize(images)
    with tripwire.watch(["course_utils.preprocess:normalize"]) as called:
        assert called == set()
        np.testing.assert_array_equal(normalize(images), before)  # the call still works
    assert called == {"normalize"}
    with tripwire.watch(["course_utils.preprocess:normalize"]) as called:
        pass
    assert called == set()
    np.testing.assert_array_equal(normalize(images), before)


LIBRARY_ANSWERS = {
    "normalize_pixels": lambda: (lambda images: __import__("course_utils.preprocess").preprocess.normalize(images),),
    "batch_generator": lambda: (_library_batches,),
    "dataset_getitem": lambda: (_LibraryDataset,),
    "forward": lambda: (_LibraryForward,),
    "centre_by_mass": lambda: (lambda box: __import__("course_utils.imaging").imaging.centre_by_mass(box),),
    "confusion_matrix": lambda: (lambda labels, predictions:
                                 __import__("course_utils.evaluation").evaluation.confusion_matrix(labels, predictions),),
    "random_shift": lambda: (lambda images, m, rng: __import__("course_utils.batching").batching.random_shift(images, m, rng),),
    "train_step": lambda: (lambda model, optimizer, images, labels:
                           __import__("course_utils.training").training.train_step(model, optimizer, images, labels),),
}


def _library_batches(images, labels, batch_size, shuffle):
    from course_utils.batching import ArrayLoader
    from course_utils.mnist import Split

    for x, y in ArrayLoader(Split(images, labels), batch_size, shuffle=shuffle):
        yield x, y


class _LibraryDataset(paddle.io.Dataset):
    def __init__(self, split):
        super().__init__()
        from course_utils.batching import MnistDataset

        self.inner = MnistDataset(split)

    def __getitem__(self, index):
        return self.inner[index]

    def __len__(self):
        return len(self.inner)


def _library_forward():
    from course_utils.models import CourseCNN

    class Mine(CourseCNN):
        def forward(self, x):
            return CourseCNN.forward(self, x)

    return Mine


_LibraryForward = _library_forward()


@pytest.mark.parametrize("name", sorted(LIBRARY_ANSWERS))
def test_an_answer_that_calls_the_library_gets_no_credit(name):
    exercise = EXERCISES[name]
    cases = exercise.cases(PUBLIC_SEED)
    verdict = judge(exercise, collect(exercise, LIBRARY_ANSWERS[name](), cases, catch_errors=True), cases)
    assert not verdict.passed
    assert "课程库自己的" in verdict.message


def test_every_exercise_whose_answer_is_code_forbids_the_library_version_if_there_is_one():
    assert set(LIBRARY_ANSWERS) == {name for name, exercise in EXERCISES.items() if exercise.forbidden}


@pytest.mark.parametrize("name", [name for name, exercise in EXERCISES.items() if exercise.answer])
def test_the_cases_change_with_the_seed(name):
    first, second = (exercises.to_bytes(_flatten(EXERCISES[name].cases(seed))) for seed in (0, 1))
    assert first != second


def _flatten(cases, prefix=""):
    flat = {}
    for key, value in (cases.items() if isinstance(cases, dict) else enumerate(cases)):
        if isinstance(value, (dict, list, tuple)) and not isinstance(value, np.ndarray) and (
                isinstance(value, dict) or any(isinstance(item, (np.ndarray, tuple)) for item in value)):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def test_outputs_hard_coded_for_the_notebooks_cases_fail_on_other_cases():
    """A student who stores what the notebook's check saw and replays it gets no credit from the grader."""
    exercise = EXERCISES["confusion_matrix"]
    public = exercise.cases(PUBLIC_SEED)
    answers = iter([__import__("course_utils.evaluation").evaluation.confusion_matrix(*pair) for pair in public["pairs"]])
    replay = (lambda labels, predictions: next(answers),)
    hidden = exercise.cases(12345)
    verdict = judge(exercise, collect(exercise, replay, hidden, catch_errors=True), hidden)
    assert not verdict.passed


@pytest.mark.parametrize(
    "evidence",
    [{}, {"status": "ok"}, {"status": "ok", "library_calls": ""}, {"status": "passed", "library_calls": ""},
     {"status": "ok", "library_calls": "", "result_kind": "array", "result_value": np.zeros(3)}],
)
def test_missing_or_made_up_evidence_is_never_a_pass(evidence):
    for exercise in EXERCISES.values():
        cases = exercise.cases(PUBLIC_SEED)
        assert not judge(exercise, evidence, cases).passed


def test_a_judge_that_breaks_on_odd_evidence_says_so_instead_of_passing():
    exercise = EXERCISES["normalize_pixels"]
    verdict = judge(exercise, {"status": "ok", "library_calls": "", "result_kind": "array",
                               "result_value": np.array("text")}, exercise.cases(PUBLIC_SEED))
    assert verdict == Verdict(False, verdict.message) and verdict.message.startswith("❌")


def test_evidence_survives_its_trip_between_processes_as_plain_data():
    evidence = {"status": "ok", "n": 3, "x": 0.5, "name": "中文", "array": np.arange(6).reshape(2, 3)}
    back = exercises.from_bytes(exercises.to_bytes(evidence))
    assert back["n"] == 3 and back["x"] == 0.5 and back["name"] == "中文"
    np.testing.assert_array_equal(back["array"], evidence["array"])
    with pytest.raises(TypeError, match="plain data"):
        exercises.to_bytes({"object": object()})


def test_a_failed_check_renders_as_one_line_in_ipython():
    with pytest.raises(exercises.ExerciseFailed) as failure:
        checks.check_flatten_size(1000)
    lines = failure.value._render_traceback_()
    assert len(lines) == 1 and lines[0].startswith("❌")


def test_errors_in_the_students_code_keep_their_traceback_in_the_notebook_and_are_one_line_for_the_grader():
    def broken(images):
        return images.no_such_attribute

    with pytest.raises(AttributeError):
        checks.check_normalize_pixels(broken)
    exercise = EXERCISES["normalize_pixels"]
    cases = exercise.cases(PUBLIC_SEED)
    verdict = judge(exercise, collect(exercise, (broken,), cases, catch_errors=True), cases)
    assert not verdict.passed and "AttributeError" in verdict.message


def test_an_untouched_stub_is_not_attempted():
    def stub(images):
        raise NotImplementedError()

    exercise = EXERCISES["normalize_pixels"]
    cases = exercise.cases(PUBLIC_SEED)
    verdict = judge(exercise, collect(exercise, (stub,), cases, catch_errors=True), cases)
    assert not verdict.passed and not verdict.attempted


def test_centre_by_mass_that_does_not_clip_is_told_to_clip():
    """The review's defect 9: placing a lopsided digit without clipping crashes on real drawings."""

    def unclipped(box):
        height, width = box.shape
        total = box.sum()
        top = round(14 - box.sum(axis=1) @ np.arange(height) / total)
        left = round(14 - box.sum(axis=0) @ np.arange(width) / total)
        field = np.zeros((28, 28))
        field[top : top + height, left : left + width] = box
        return np.rint(field * 255 / field.max()).astype(np.uint8)

    with pytest.raises(exercises.ExerciseFailed, match="np.clip"):
        checks.check_centre_by_mass(unclipped)
