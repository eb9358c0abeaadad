"""The benchmarks: a faithful original recipe, data paths that read the same images, targets, and a quick run."""
import json
import os
import subprocess
import sys

import numpy as np
import paddle
import pytest
from PIL import Image

from benchmarks import __main__ as bench
from benchmarks import data, original_recipe, photos
from course_utils.mnist import MnistData, Split, write_aistudio_json
from course_utils.photo_sets import DRAWING_CONDITIONS, PHOTO_CONDITIONS, drawing_set
from course_utils.settings import PROJECT_ROOT


@pytest.fixture(scope="module")
def small_json(mnist, tmp_path_factory):
    """An AI Studio mnist.json.gz of the first 250 training, 50 validation and 50 test images."""
    path = tmp_path_factory.mktemp("json") / "mnist.json.gz"
    cut = {name: Split(getattr(mnist, name).images[:n], getattr(mnist, name).labels[:n])
           for name, n in [("train", 250), ("val", 50), ("test", 50)]}
    write_aistudio_json(MnistData(**cut), path)
    return path


def test_original_reader_builds_batches_sample_by_sample_like_the_original(small_json, mnist):
    parsed = original_recipe.parse_json(str(small_json))
    batches = list(original_recipe.load_data(parsed, "train")())
    assert [len(labels) for _, labels in batches] == [100, 100, 50]
    images, labels = batches[0]
    assert images.shape == (100, 1, 28, 28) and images.dtype == np.float32
    assert labels.shape == (100, 1) and labels.dtype == np.int64
    assert images.min() == 0.0 and images.max() == 255 / 256  # the file's p/256 pixels in [0, 1), used as they are
    seen = np.concatenate([labels[:, 0] for _, labels in batches])
    assert sorted(seen) == sorted(mnist.train.labels[:250]) and not np.array_equal(seen, mnist.train.labels[:250])
    in_order = np.concatenate([labels[:, 0] for _, labels in original_recipe.load_data(parsed, "eval")()])
    np.testing.assert_array_equal(in_order, mnist.test.labels[:50])


def test_original_model_ends_in_softmax_and_its_loss_takes_probabilities_as_in_1x(small_json):
    paddle.seed(0)
    model = original_recipe.OriginalCNN()
    model.eval()
    probabilities = model(paddle.randn([4, 1, 28, 28]))
    np.testing.assert_allclose(probabilities.numpy().sum(axis=1), 1.0, rtol=1e-5)
    labels = paddle.to_tensor([[0], [3], [5], [9]], dtype="int64")
    # 1.x's cross_entropy: -log(p[label]) on the probabilities, with no softmax of its own.
    expected = -np.log(probabilities.numpy()[np.arange(4), [0, 3, 5, 9]]).mean()
    np.testing.assert_allclose(float(original_recipe.original_loss(probabilities, labels)), expected, rtol=1e-5)
    reader = original_recipe.load_data(original_recipe.parse_json(str(small_json)), "train")
    optimizer = paddle.optimizer.SGD(learning_rate=0.1, parameters=model.parameters())
    losses = [loss for _ in range(6) for loss in original_recipe.train_epoch(model, reader, optimizer)]
    # A second softmax would keep the loss above log(e + 9) - 1 = 1.461; the faithful loss falls below it.
    assert len(losses) == 18 and min(losses[-3:]) < np.log(np.e + 9) - 1


def test_both_data_paths_hand_out_the_same_training_images(small_json):
    original = data.measure("original", str(small_json))
    course = data.measure("course", os.environ["COURSE_DATA_DIR"], limit=250)
    for report in (original, course):
        assert report["images"] == 250 and 0 < report["first_batch_seconds"] <= report["full_pass_seconds"]
        assert report["peak_mb"] >= report["baseline_mb"] > 0
    assert original["label_sum"] == course["label_sum"]


def test_targets_are_judged_from_the_measured_figures():
    results = {
        "data": {"first_batch_speedup_cold": 25.0, "first_batch_speedup_warm": 60.0, "data_memory_ratio": 8.0,
                 "total_memory_ratio": 5.0},
        "inference": {"speedup_over_dynamic": 6.0, "fastest": "ONNX Runtime", "identical_accuracy": False},
        "notebooks": {"wall_seconds": 200.0, "summary": "6 passed", "returncode": 0},
        "photos": {
            "overall": {"samples": 200, "refused": 2, "course_utils accuracy": 0.975, "resize-only accuracy": 0.2},
            "sets": {"photos": {"conditions": {"plain": {"course_utils accuracy": 1.0},
                                               "marker": {"course_utils accuracy": 0.88}}},
                     "drawings": {"conditions": {"thin_on_white": {"course_utils accuracy": 0.95}}}},
        },
    }
    met = {target["id"]: target["met"] for target in bench.targets(results)}
    assert met == {"data_first_batch": True, "data_memory": False, "inference": False, "notebooks": True,
                   "photos_overall": True, "photos_conditions": False}
    measured = {target["id"]: target["measured"] for target in bench.targets(results)}
    assert measured["photos_conditions"] == "worst: photos/marker 88.0%"


def test_photos_part_reads_each_condition_both_ways(trained):
    _, checkpoint = trained
    result = photos.run(checkpoint, per_condition=2)
    assert list(result["sets"]["photos"]["conditions"]) == list(PHOTO_CONDITIONS)
    assert list(result["sets"]["drawings"]["conditions"]) == list(DRAWING_CONDITIONS)
    for part in result["sets"].values():
        for row in part["conditions"].values():
            assert row["samples"] == 2 and row["refused"] <= 2 - row["course_utils"]
            assert len(row["misread"]) == 2 - row["course_utils"]
    total = result["overall"]
    assert total["samples"] == 2 * (len(PHOTO_CONDITIONS) + len(DRAWING_CONDITIONS))
    # Squeezing the whole photo into 28x28 loses the digit; to_mnist finds it.
    assert total["course_utils accuracy"] > total["resize-only accuracy"] + 0.3
    worst, accuracy = photos.worst_condition(result)
    name, condition = worst.split("/")
    assert accuracy == result["sets"][name]["conditions"][condition]["course_utils accuracy"]
    assert accuracy == min(row["course_utils accuracy"] for part in result["sets"].values()
                           for row in part["conditions"].values())
    table = photos.render(result)
    assert "thin_pen" in table and "brush_transparent" in table and "both" in table


def test_photos_write_saves_the_pictures_and_a_contact_sheet_per_set(tmp_path, mnist):
    written = photos.write(tmp_path, per_condition=1)
    assert {p.name for p in written if p.parent == tmp_path} == {"photos-sheet.png", "drawings-sheet.png"}
    assert len(written) == 2 + 10 + 6
    first = drawing_set(1, conditions=("thin_transparent",), test=mnist.test)[0]
    saved = Image.open(tmp_path / "drawings" / f"thin_transparent-0-label{first.label}.png")
    np.testing.assert_array_equal(np.asarray(saved), np.asarray(first.image))


def test_the_predict_cold_start_target_needs_the_time_the_same_answer_and_no_paddle():
    def judged(fast: float, same: bool = True, paddle_imported: bool = False) -> bool:
        cold = {"median_seconds": {"fast": fast, "paddle": 2.5}, "same_answer": same,
                "fast_path_imports_paddle": paddle_imported}
        found = bench.targets({"inference": {"speedup_over_dynamic": 6.0, "fastest": "ONNX Runtime",
                                             "identical_accuracy": True, "cold_predict": cold}})
        return {target["id"]: target["met"] for target in found}["predict_cold_start"]

    assert judged(0.6) and not judged(1.6) and not judged(0.6, same=False) and not judged(0.6, paddle_imported=True)


def _training_rows(wall_1p, accuracy_1p, wall_2p, accuracy_2p, original_epoch=80.0):
    rows = {"original recipe, 1 epoch": {"processes": 1, "train_seconds": original_epoch}}
    for count, wall, accuracy in [(1, wall_1p, accuracy_1p), (2, wall_2p, accuracy_2p)]:
        rows[f"course_utils train, {count}"] = {
            "processes": count, "wall_seconds": wall, "test_accuracy": accuracy,
            "vs_original_epoch": wall / original_epoch, "vs_original_run": wall / (original_epoch + 20),
            "seconds_to_99": wall if accuracy >= 0.99 else None,
        }
    return {"rows": rows, "default_processes": 2}


@pytest.mark.parametrize(
    ("training", "best", "expected"),
    [
        (_training_rows(30.0, 0.991, 24.0, 0.9905), {"test_accuracy": 0.9961, "wall_minutes": 14.0},
         {"training": True, "best": True}),
        (_training_rows(30.0, 0.991, 24.5, 0.9905), {"test_accuracy": 0.9961, "wall_minutes": 15.5},  # > 0.3x, > 15 min
         {"training": False, "best": False}),
        (_training_rows(30.0, 0.991, 20.0, 0.9899), {"test_accuracy": 0.9959, "wall_minutes": 9.0},  # below 99%, 99.6%
         {"training": False, "best": False}),
    ],
)
def test_training_and_best_targets(training, best, expected):
    results = {"training": training, "best": {**best, "members": 4, "member_test_accuracy": [0.995] * 4}}
    assert {t["id"]: t["met"] for t in bench.targets(results)} == expected


def test_best_is_a_part_but_not_a_default_one():
    assert "best" in bench.PARTS and "best" not in bench.DEFAULT_PARTS


def test_profile_splits_a_step_and_the_fixed_costs(tmp_path):
    env = {**os.environ, "COURSE_WORK_DIR": str(tmp_path / "work"), "PROFILE_STARTED": "0"}
    done = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "benchmarks" / "training_profile.py"), "--steps", "8"],
        check=False, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    steps, fixed = report["step_ms"], report["fixed_seconds"]
    assert set(steps) == {"data", "forward", "backward", "optimizer", "bookkeeping", "total"}
    assert steps["forward"] > 0 and steps["backward"] > 0 and steps["total"] >= steps["backward"]
    assert {"launcher_start", "import_paddle", "load_mnist", "validation", "export", "test_evaluation"} <= set(fixed)
    assert fixed["launcher_start"] > 1e9  # measured from the epoch the test gave as the parent's start
    from benchmarks.training import render_profiles

    assert "step: forward (ms)" in render_profiles([report])


def test_quick_run_prints_the_tables_and_saves_json(trained, tmp_path):
    _, checkpoint = trained
    env = {**os.environ, "COURSE_WORK_DIR": str(tmp_path / "work")}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "data,inference,photos", "--checkpoint",
         str(checkpoint), "--results", str(tmp_path / "results")],
        check=False, capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for title in ("Data (training split", "Inference (small_cnn", "Photos and drawings (small_cnn", "Targets"):
        assert title in done.stdout
    saved = json.loads((tmp_path / "results" / "latest.json").read_text())
    assert saved["quick"] is True and set(saved["results"]) == {"data", "inference", "photos"}
    assert saved["results"]["photos"]["overall"]["samples"] == 3 * 16
    assert saved["machine_before"]["cpu_cores"] == os.cpu_count()
    rows = saved["results"]["inference"]["rows"]
    assert rows["dynamic graph"]["accuracy"] > 0.9 and saved["results"]["inference"]["identical_accuracy"]
    cold = saved["results"]["inference"]["cold_predict"]
    assert cold["same_answer"] and not cold["fast_path_imports_paddle"] and "Cold `predict`" in done.stdout
    assert not list((tmp_path / "work" / "benchmarks").glob("run-*"))  # the run's scratch folder is removed
