import json
import os
import shutil
import subprocess
import sys

import paddle
import pytest

from course_utils import evaluation, prediction, training
from course_utils.tools import cli
from course_utils.checkpoint import save_checkpoint
from course_utils.tools.cli import main
from course_utils.models import DEFAULT_MODEL, MODELS, build_model
from course_utils.settings import PROJECT_ROOT


def test_train_end_to_end_in_fast_mode(tmp_path):
    checkpoint = tmp_path / "model.pdckpt"
    env = {**os.environ, "COURSE_FAST": "1", "COURSE_WORK_DIR": str(tmp_path / "work")}
    result = subprocess.run(
        [sys.executable, "-m", "course_utils", "train", "--model", "course_cnn", "--quiet", "--json",
         "--checkpoint", str(checkpoint)],
        capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(report) == {"test_accuracy", "val_accuracy", "train_seconds", "checkpoint"}
    assert 0.5 < report["test_accuracy"] <= 1 and report["checkpoint"] == str(checkpoint)
    assert checkpoint.is_file()
    assert "Traceback" not in result.stderr


def test_predict_reports_each_file_and_fails_on_bad_ones(trained, tmp_path, capsys):
    _, checkpoint = trained
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.jpg").write_text("this is not an image")
    example = PROJECT_ROOT / "work" / "example_0.jpg"
    code = main(["predict", str(example), str(tmp_path / "missing.png"), str(tmp_path / "empty.png"),
                 str(tmp_path / "notes.jpg"), str(example), "--checkpoint", str(checkpoint), "--json"])
    out, err = capsys.readouterr()
    assert code != 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["file"] for line in lines] == [str(example), str(example)]
    assert all(len(line["probabilities"]) == 10 and 0 <= line["digit"] <= 9 for line in lines)
    assert lines[0]["top_two"][0] == {"digit": 3, "probability": lines[0]["probabilities"][3]}
    assert lines[0]["uncertain"] is False
    errors = [line for line in err.strip().splitlines() if not line.startswith("note: ")]  # a first run exports
    assert len(errors) == 3 and all(line.startswith("error: ") for line in errors)
    for name, line in zip(["missing.png", "empty.png", "notes.jpg"], errors):
        assert name in line


def test_predict_names_the_top_two_and_says_uncertain(trained, tmp_path, capsys):
    """The trained model is sure of example_0 (a 3); an untrained one, or the pair of them, is not."""
    _, checkpoint = trained
    untrained = tmp_path / "untrained.pdckpt"
    paddle.seed(3)
    save_checkpoint(untrained, build_model("small_cnn"), model="small_cnn")
    example = str(PROJECT_ROOT / "work" / "example_0.jpg")
    assert main(["predict", example, "--checkpoint", str(checkpoint), "--backend", "dynamic"]) == 0
    assert capsys.readouterr().out.startswith(f"{example}: 预测 (prediction): 3 (")
    assert main(["predict", example, "--checkpoint", str(untrained), "--backend", "dynamic", "--json"]) == 0
    alone = json.loads(capsys.readouterr().out)
    assert alone["uncertain"] is True and max(alone["probabilities"]) < 0.8
    assert main(["predict", example, "--checkpoint", str(checkpoint), str(untrained), "--backend", "dynamic"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{example}: 不确定 (uncertain): 3 (") and " 或 " in out


def test_predict_with_a_corrupt_onnx_file_notes_the_fallback_and_answers(trained, tmp_path, capsys):
    _, saved = trained
    checkpoint = tmp_path / "m.pdckpt"
    shutil.copy(saved, checkpoint)
    example = str(PROJECT_ROOT / "work" / "example_0.jpg")
    assert main(["predict", example, "--checkpoint", str(checkpoint), "--json"]) == 0  # exports
    expected = json.loads(capsys.readouterr().out)
    (tmp_path / "m.onnx").write_bytes(b"\0" * 100)
    assert main(["predict", example, "--checkpoint", str(checkpoint), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["digit"] == expected["digit"] == 3
    assert err.startswith("note: ") and err.count("\n") == 1 and "m.onnx is not a model ONNX Runtime can run" in err


def test_predict_refuses_a_checkpoint_of_another_model_in_one_line(tmp_path, capsys):
    wrong = tmp_path / "wrong.pdckpt"
    save_checkpoint(wrong, build_model("small_cnn"), model="mlp")  # says mlp, holds a small CNN's weights
    assert main(["predict", str(PROJECT_ROOT / "work" / "example_0.jpg"), "--checkpoint", str(wrong)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: this checkpoint holds mlp, which does not fit MLP") and err.count("\n") == 1


def test_the_command_lines_option_values_are_the_modules_own():
    """cli lists them so that building the parser imports neither Paddle nor NumPy."""
    assert cli.MODEL_NAMES == tuple(MODELS) and cli.DEFAULT_MODEL == DEFAULT_MODEL
    assert cli.EVALUATE_BACKENDS == evaluation.BACKENDS and cli.PREDICT_BACKENDS == prediction.PREDICT_BACKENDS
    assert cli.RECIPE_NAMES == tuple(training.RECIPES)
    # `train` with no options is TrainConfig():
    defaults, config = vars(cli.build_parser().parse_args(["train"])), training.TrainConfig()
    same = ("epochs", "batch_size", "optimizer", "schedule", "momentum", "beta1", "beta2", "shift", "augment", "seed")
    assert [defaults[name] for name in same] == [getattr(config, name) for name in same]
    assert defaults["lr"] == config.learning_rate


def test_evaluate_prints_accuracy_per_digit(trained, capsys):
    _, checkpoint = trained
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model"] == "small_cnn"
    assert report["test_accuracy"] > 0.95 and len(report["per_class_accuracy"]) == 10


def test_export_writes_the_inference_files(trained, tmp_path, capsys):
    _, checkpoint = trained
    assert main(["export", "--checkpoint", str(checkpoint), "--output", str(tmp_path / "digits")]) == 0
    assert (tmp_path / "digits.json").is_file() and (tmp_path / "digits.pdiparams").is_file()


@pytest.mark.parametrize("command", ["evaluate", "export", "predict x.png"])
def test_missing_checkpoint_is_one_line_without_traceback(command, tmp_path, capsys):
    code = main([*command.split(), "--checkpoint", str(tmp_path / "none.pdckpt")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: no checkpoint at") and err.count("\n") == 1


def test_every_command_has_help(capsys):
    for command in ["download", "train", "evaluate", "predict", "export", "sheet", "notebooks", "grade", "site"]:
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        assert "usage: python -m course_utils " + command in capsys.readouterr().out


def test_download_finds_the_files_already_there(capsys):
    assert main(["download", "--quiet"]) == 0  # COURSE_DATA_DIR points at the real files in the test session
    assert capsys.readouterr().out.startswith("MNIST already here: ")


def test_notebooks_build_takes_options_after_the_action(capsys):
    assert main(["notebooks", "build", "--check", "03"]) == 2
    assert "--check changes nothing" in capsys.readouterr().err


def test_child_processes_import_paddle_without_the_ccache_warning():
    import course_utils

    env = course_utils.quiet_paddle_import({**os.environ, "PYTHONWARNINGS": "default"})
    quiet = subprocess.run([sys.executable, "-c", "import paddle"], capture_output=True, text=True, env=env)
    assert quiet.returncode == 0 and "ccache" not in quiet.stderr
    assert env["PYTHONWARNINGS"].startswith("default,")


def test_evaluate_several_checkpoints_reports_the_ensemble_and_each_member(trained, tmp_path, capsys):
    from course_utils.checkpoint import load_model, save_checkpoint
    from course_utils.evaluation import evaluate_ensemble
    from course_utils.mnist import load_mnist

    _, checkpoint = trained
    other = tmp_path / "other.pdckpt"
    model, _ = load_model(checkpoint)
    for parameter in model.parameters():  # a second member that differs from the first
        parameter.set_value(parameter.numpy() * 0.9)
    save_checkpoint(other, model, model="small_cnn")
    assert main(["evaluate", "--checkpoint", str(checkpoint), str(other), "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    expected = evaluate_ensemble([checkpoint, other], load_mnist(progress=False).test, backend="dynamic")
    assert report["model"] == "ensemble" and [m["checkpoint"] for m in report["members"]] == [str(checkpoint),
                                                                                              str(other)]
    assert abs(report["test_accuracy"] - expected.result.accuracy) <= 2e-4  # runtimes differ in the last bits
    assert all(m["backend"] != "dynamic" for m in report["members"])  # each member took its fast path


def test_evaluate_refuses_another_models_checkpoint_in_one_line(trained, tmp_path, capsys):
    from course_utils.checkpoint import save_checkpoint
    from course_utils.models import build_model

    _, checkpoint = trained
    wrong = save_checkpoint(tmp_path / "wrong.pdckpt", build_model("lenet5"), model="small_cnn")
    assert main(["evaluate", "--checkpoint", str(checkpoint), str(wrong), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "does not fit SmallCNN" in err and err.count("\n") == 1


def test_recipe_best_is_a_documented_ensemble_preset(capsys):
    from course_utils.models import MODELS
    from course_utils.training import RECIPES

    best = RECIPES["best"]
    assert best.model in MODELS and best.members >= 2 and best.config.shift > 0
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "--recipe {best}" in capsys.readouterr().out.replace("\n", " ")
    assert main(["train", "--recipe", "best", "--epochs", "2"]) == 2
    error = "error: --recipe best sets the training options itself; leave out --epochs"
    assert capsys.readouterr().err.strip() == error
    assert main(["train", "--recipe", "best", "--augment"]) == 2  # not silently ignored
    assert capsys.readouterr().err.strip().endswith("leave out --augment")


def test_recipe_trains_each_member_and_evaluates_the_ensemble(tmp_path, capsys):
    from unittest import mock

    from course_utils.checkpoint import load_checkpoint
    from course_utils.evaluation import evaluate_ensemble
    from course_utils.mnist import load_mnist
    from course_utils.training import RECIPES, Recipe, TrainConfig

    tiny = Recipe(model="softmax", config=TrainConfig(epochs=1, batch_size=64, shift=1), members=2)
    with mock.patch.dict(RECIPES, {"best": tiny}):
        code = main(["train", "--recipe", "best", "--seed", "5", "--checkpoint", str(tmp_path / "e.pdckpt"),
                     "--procs", "1", "--quiet", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    paths = [tmp_path / "e-1.pdckpt", tmp_path / "e-2.pdckpt"]
    assert report["checkpoints"] == [str(p) for p in paths]
    configs = [load_checkpoint(p).meta["config"] for p in paths]
    assert [c["seed"] for c in configs] == [5, 6] and all(c["shift"] == 1 and c["batch_size"] == 64 for c in configs)
    expected = evaluate_ensemble(paths, load_mnist(progress=False).test, backend="dynamic")
    assert abs(report["test_accuracy"] - expected.result.accuracy) <= 2e-4
    assert len(report["member_test_accuracy"]) == 2 and report["test_accuracy"] > 0.5
