import numpy as np
import paddle
import pytest

from course_utils.checkpoint import load_checkpoint
from course_utils.errors import CourseError
from course_utils.mnist import MnistData, Split
from course_utils.models import build_model
from course_utils import training
from course_utils.evaluation import cross_entropy, evaluate
from course_utils.training import (
    FAST_STEPS, FAST_VAL_IMAGES, TrainConfig, make_optimizer, select_device, set_seed, train_model,
)


@pytest.fixture(scope="module")
def data(mnist) -> MnistData:
    return MnistData(
        train=Split(mnist.train.images[:8000], mnist.train.labels[:8000]),
        val=Split(mnist.val.images[:1000], mnist.val.labels[:1000]),
        test=mnist.test,
    )


def test_fast_mode_training_learns_and_records_history(data, tmp_path):
    set_seed(0)
    model = build_model("course_cnn")
    lines = []
    history = train_model(model, data, TrainConfig(epochs=2), checkpoint=tmp_path / "c.pdckpt", progress=False, log=lines.append)
    assert history.epoch == [1, 2]
    assert len(history.step_loss) == 2 * FAST_STEPS  # COURSE_FAST=1 in the test session
    assert np.mean(history.step_loss[-10:]) < 0.5 * np.mean(history.step_loss[:5])
    assert history.val_accuracy[-1] > 0.8
    assert history.seconds[0] < history.seconds[1]
    assert len(lines) == 2 and lines[1].startswith("第 2/2 轮 (epoch): 训练集 (train) 损失")
    meta = load_checkpoint(tmp_path / "c.pdckpt").meta
    assert meta["model"] == "course_cnn" and meta["epoch"] == 2 and meta["val_accuracy"] == history.val_accuracy[-1]


def test_resume_continues_where_the_checkpoint_stopped(data, tmp_path):
    config = TrainConfig(epochs=2, seed=3)
    set_seed(3)
    full = train_model(build_model("lenet5"), data, config, progress=False)

    def interrupt_after_first_epoch(line: str) -> None:
        if line.startswith("第 2/2 轮"):
            raise KeyboardInterrupt  # before epoch 2 is saved: the checkpoint holds epoch 1

    set_seed(3)
    with pytest.raises(KeyboardInterrupt):
        train_model(build_model("lenet5"), data, config, checkpoint=tmp_path / "run.pdckpt", progress=False,
                    log=interrupt_after_first_epoch)
    assert load_checkpoint(tmp_path / "run.pdckpt").meta["epoch"] == 1
    # A new process starts from a fresh model: resume must restore weights, optimizer, schedule and history.
    resumed = train_model(build_model("lenet5"), data, config, resume=tmp_path / "run.pdckpt", progress=False)
    assert resumed.epoch == [1, 2]
    assert resumed.train_loss[0] == full.train_loss[0]
    # The same data order and optimizer state: the second epoch matches the uninterrupted run.
    assert resumed.train_loss[1] == pytest.approx(full.train_loss[1], rel=1e-4)
    assert resumed.val_accuracy[1] == pytest.approx(full.val_accuracy[1], abs=2e-3)


def test_resume_from_weights_only_is_refused(data, tmp_path):
    model = build_model("softmax")
    paddle.save(model.state_dict(), str(tmp_path / "w.pdparams"))
    with pytest.raises(CourseError, match="no training state to resume"):
        train_model(model, data, resume=tmp_path / "w.pdparams", progress=False)


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_optimizers_and_schedules(name):
    model = build_model("softmax")
    for schedule in ["constant", "onecycle", "cosine"]:
        optimizer, scheduler = make_optimizer(
            TrainConfig(optimizer=name, schedule=schedule, learning_rate=0.1), model.parameters(), total_steps=10
        )
        assert type(optimizer).__name__.lower() == name
        assert (scheduler is None) == (schedule == "constant")
        if scheduler is not None:
            rates = []
            for _ in range(10):
                rates.append(optimizer.get_lr())
                scheduler.step()
            assert max(rates) == pytest.approx(0.1, rel=0.05) and rates[-1] < 0.05


def test_bad_config_is_refused():
    with pytest.raises(CourseError, match="unknown optimizer 'rmsprop'"):
        TrainConfig(optimizer="rmsprop")
    with pytest.raises(CourseError, match="unknown schedule"):
        TrainConfig(schedule="step")
    with pytest.raises(CourseError, match="momentum, beta1 and beta2"):
        TrainConfig(beta2=1.0)


def test_the_optimizers_settings_are_the_configs_fields():
    parameters = build_model("softmax").parameters()
    adam, _ = make_optimizer(TrainConfig(beta1=0.5, beta2=0.8), parameters, total_steps=10)
    assert (adam._beta1, adam._beta2) == (0.5, 0.8)
    default, _ = make_optimizer(TrainConfig(), parameters, total_steps=10)
    assert (default._beta1, default._beta2) == (0.7, 0.9)
    momentum, _ = make_optimizer(TrainConfig(optimizer="momentum", momentum=0.5), parameters, total_steps=10)
    assert momentum._momentum == 0.5


def test_train_model_is_train_step_for_every_batch(data, monkeypatch):
    """The loop students write in chapter 3 is the one that runs: train_model -> train_epoch -> train_step."""
    steps = []

    def counted(model, optimizer, images, labels):
        steps.append(len(labels))
        return real(model, optimizer, images, labels)

    real = training.train_step
    monkeypatch.setattr(training, "train_step", counted)
    seen = []
    history = train_model(build_model("softmax"), data, TrainConfig(batch_size=64), progress=False,
                          callback=lambda h: seen.append((len(h.step_loss), len(h.epoch))))
    assert steps == [64] * FAST_STEPS and len(history.step_loss) == FAST_STEPS
    # The callback sees every step as it happens, then the epoch once its metrics are in.
    assert seen == [(i, 0) for i in range(1, FAST_STEPS + 1)] + [(FAST_STEPS, 1)]
    assert history.steps_per_epoch == FAST_STEPS and history.total_epochs == 1


def test_history_records_each_steps_rate_and_measures_training_images_like_validation(data):
    set_seed(0)
    model = build_model("mlp")
    history = train_model(model, data, TrainConfig(), progress=False, log=lambda line: None)
    rates = history.step_learning_rate
    assert len(rates) == len(history.step_loss) == FAST_STEPS
    assert rates[0] < max(rates) == pytest.approx(0.02, rel=0.05) and rates[-1] < rates[0]  # one-cycle
    sample = Split(data.train.images[:FAST_VAL_IMAGES], data.train.labels[:FAST_VAL_IMAGES])
    measured = evaluate(model, sample)
    assert history.train_accuracy == [pytest.approx(measured.accuracy)]
    assert history.train_loss == [pytest.approx(cross_entropy(measured.logits, sample.labels), rel=1e-5)]


def test_device_is_the_cpu_here_and_announced_once(capsys):
    expected = "gpu" if paddle.device.cuda.device_count() > 0 else "cpu"
    assert select_device() == expected
    select_device()
    assert capsys.readouterr().out.count("device") <= 1
