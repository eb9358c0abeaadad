"""Data-parallel training with Paddle's own launcher: two CPU processes run the unchanged `train` command."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from course_utils.settings import PROJECT_ROOT

# Runs in each process under the launcher: the real command line, with the model and every checkpoint save recorded.
DRIVER = """
import json, os, sys
import numpy as np
import pytest
import paddle
from course_utils import training
from course_utils.tools import cli

models, saves = [], []
train_model, save_checkpoint = training.train_model, training.save_checkpoint
training.train_model = lambda model, *a, **k: (models.append(model), train_model(model, *a, **k))[1]
training.save_checkpoint = lambda path, *a, **k: (saves.append(str(path)), save_checkpoint(path, *a, **k))[1]
code = cli.main(sys.argv[1:])
rank, out = paddle.distributed.get_rank(), os.environ["DRIVER_OUT"]
np.savez(os.path.join(out, f"rank{rank}.npz"), **{k: v.numpy() for k, v in models[0].state_dict().items()})
with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
    json.dump({"code": code, "saves": saves, "world_size": paddle.distributed.get_world_size()}, f)
"""


def test_two_processes_train_as_one_model(tmp_path):
    (tmp_path / "driver.py").write_text(DRIVER)
    checkpoint = tmp_path / "model.pdckpt"
    env = {
        **os.environ,
        "COURSE_FAST": "1",
        "COURSE_WORK_DIR": str(tmp_path / "work"),
        "DRIVER_OUT": str(tmp_path),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir", str(tmp_path / "log"),
         str(tmp_path / "driver.py"), "train", "--quiet", "--json", "--checkpoint", str(checkpoint)],
        check=False, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600,
    )
    logs = [(tmp_path / "log" / f"workerlog.{rank}").read_text() for rank in range(2)]
    assert done.returncode == 0, done.stderr[-2000:] + logs[0][-2000:] + logs[1][-2000:]

    ranks = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in range(2)]
    assert [r["world_size"] for r in ranks] == [2, 2] and [r["code"] for r in ranks] == [0, 0]
    # Only rank 0 saves (once per epoch), validates, evaluates and prints.
    assert ranks[0]["saves"] == [str(checkpoint)] and ranks[1]["saves"] == []
    assert checkpoint.is_file()
    assert "第 1/1 轮" in logs[0] and "test accuracy" in logs[0]
    assert "epoch" not in logs[1] and "accuracy" not in logs[1]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["test_accuracy"] > 0.8

    # Gradients were averaged: every trained parameter is identical on both ranks. Batch norm's running statistics,
    # which each rank computes on its own half of every batch, are rank 0's on both after validation (each rank
    # validated its share of the images with them).
    weights = [np.load(tmp_path / f"rank{rank}.npz") for rank in range(2)]
    parameters = weights[0].files
    assert len(parameters) > 10 and any(key.endswith("_mean") for key in parameters)
    for key in parameters:
        np.testing.assert_array_equal(weights[0][key], weights[1][key], err_msg=key)
    from course_utils.checkpoint import load_checkpoint

    saved = load_checkpoint(checkpoint).model_state
    np.testing.assert_array_equal(saved["features.0.weight"].numpy(), weights[1]["features.0.weight"])


def test_procs_auto_means_one_process_per_core_that_divides_the_batch(monkeypatch):
    from course_utils import settings
    from course_utils.tools import cli
    from course_utils.errors import CourseError

    assert cli.training_processes("auto", 128) == 1  # fast mode (the test session): start-up would cost more
    monkeypatch.setattr(settings, "fast_mode", lambda: False)
    monkeypatch.setattr(settings, "usable_cores", lambda: 2)
    assert cli.training_processes("auto", 128) == 2
    assert cli.training_processes("auto", 127) == 1  # an odd batch cannot be split in two
    monkeypatch.setattr(settings, "usable_cores", lambda: 64)
    assert cli.training_processes("auto", 96) == 4 == cli.MAX_AUTO_PROCESSES
    assert cli.training_processes("3", 96) == 3
    for bad in ("0", "two"):
        with pytest.raises(CourseError, match="--procs must be a positive number or auto"):
            cli.training_processes(bad, 128)


def test_train_procs_runs_the_same_command_under_paddles_launcher(monkeypatch, tmp_path):
    from course_utils.tools import cli

    calls = []
    monkeypatch.setattr(subprocess, "call", lambda command, env: calls.append(command) or 0)
    monkeypatch.setenv("COURSE_WORK_DIR", str(tmp_path))
    assert cli.main(["train", "--procs", "2", "--epochs", "3"]) == 0
    [command] = calls
    assert command[:5] == [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2"]
    assert command[command.index("--log_dir") + 1].startswith(str(tmp_path / "logs" / "train-"))
    script = command[command.index("--log_level") + 2]
    assert script == str(PROJECT_ROOT / "course_utils" / "__main__.py")
    # Each process runs the same command as one of the launched ranks (the last --procs wins).
    assert command[-7:] == ["train", "--procs", "2", "--epochs", "3", "--procs", "1"]
