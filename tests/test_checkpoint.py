import numpy as np
import paddle
import pytest

from course_utils.checkpoint import load_checkpoint, load_model, load_weights, save_checkpoint
from course_utils.errors import CourseError
from course_utils.models import build_model


def _same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(np.array_equal(sa[k].numpy(), sb[k].numpy()) for k in sa)


def test_round_trip_restores_weights_and_metadata(tmp_path):
    paddle.seed(1)
    model = build_model("lenet5")
    optimizer = paddle.optimizer.Adam(parameters=model.parameters())
    path = save_checkpoint(tmp_path / "sub" / "m.pdckpt", model, optimizer, model="lenet5", epoch=3, val_accuracy=0.5)
    restored, meta = load_model(path)
    assert _same_weights(model, restored)
    assert meta["model"] == "lenet5" and meta["epoch"] == 3 and meta["val_accuracy"] == 0.5
    assert meta["versions"]["paddle"] == paddle.__version__
    assert meta["preprocessing"]["mean"] == pytest.approx(0.1307)
    assert not restored.training
    assert load_checkpoint(path).optimizer_state is not None
    assert [p.name for p in tmp_path.joinpath("sub").iterdir()] == ["m.pdckpt"]  # no temporary file left behind


def test_plain_paddle_state_dict_loads_into_its_model(tmp_path):
    model = build_model("mlp")
    paddle.save(model.state_dict(), str(tmp_path / "mlp.pdparams"))
    fresh = build_model("mlp")
    load_weights(fresh, tmp_path / "mlp.pdparams")
    assert _same_weights(model, fresh)
    with pytest.raises(CourseError, match="does not say which model"):
        load_model(tmp_path / "mlp.pdparams")


def test_checkpoint_of_another_model_is_refused(tmp_path):
    path = save_checkpoint(tmp_path / "lenet.pdckpt", build_model("lenet5"), model="lenet5")
    with pytest.raises(CourseError, match="holds lenet5, which does not fit SmallCNN"):
        load_weights(build_model("small_cnn"), path)


def test_checkpoint_of_an_older_version_of_the_same_model_says_to_train_again(tmp_path):
    from course_utils.models import SmallCNN

    path = save_checkpoint(tmp_path / "old.pdckpt", SmallCNN(channels=(24, 48)), model="small_cnn")
    with pytest.raises(CourseError, match=r"older version of small_cnn: train it again \(python -m course_utils train"):
        load_model(path)


def test_missing_and_corrupt_files_get_clear_errors(tmp_path):
    with pytest.raises(CourseError, match="no checkpoint at .*nothing.pdckpt.*train"):
        load_checkpoint(tmp_path / "nothing.pdckpt")
    (tmp_path / "text.pdckpt").write_text("not a checkpoint")
    with pytest.raises(CourseError, match="text.pdckpt is not a readable checkpoint"):
        load_checkpoint(tmp_path / "text.pdckpt")
    paddle.save({"numbers": [1, 2, 3]}, str(tmp_path / "other.pdckpt"))
    with pytest.raises(CourseError, match="holds no model weights"):
        load_checkpoint(tmp_path / "other.pdckpt")


def test_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "m.pdckpt"
    save_checkpoint(path, build_model("softmax"), model="softmax", epoch=1)
    before = path.read_bytes()

    def broken_save(obj, target, *args, **kwargs):
        with open(target, "wb") as handle:
            handle.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(paddle, "save", broken_save)
    with pytest.raises(OSError):
        save_checkpoint(path, build_model("softmax"), model="softmax", epoch=2)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.pdckpt"]
