"""The notebook figures: right panels, titles, numbers and bar heights; bad input rejected; nothing left to pyplot."""
from __future__ import annotations

import io
import warnings
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import same_color  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.text import Annotation  # noqa: E402
from matplotlib.ticker import PercentFormatter  # noqa: E402
from PIL import Image  # noqa: E402

from course_utils import plots  # noqa: E402
from course_utils.prediction import is_uncertain  # noqa: E402


def digits(count: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(count, 28, 28), dtype=np.uint8)


def one_hot_probabilities(predictions: list[int], confidences: list[float]) -> np.ndarray:
    """Rows whose argmax is ``predictions[i]`` with probability ``confidences[i]``, the rest spread evenly."""
    rows = []
    for pred, confidence in zip(predictions, confidences):
        row = np.full(10, (1 - confidence) / 9)
        row[pred] = confidence
        rows.append(row)
    return np.array(rows)


def history(epochs: int) -> SimpleNamespace:
    steps = np.arange(1, epochs + 1)
    return SimpleNamespace(
        epoch=list(steps),
        train_loss=list(1.0 / steps),
        train_accuracy=list(0.9 + 0.01 * steps),
        val_loss=list(1.2 / steps),
        val_accuracy=list(0.88 + 0.01 * steps),
        seconds=[10.0] * epochs,
    )


def titles(fig: Figure) -> list[str]:
    return [ax.get_title() for ax in fig.axes]


def test_show_samples_titles_each_digit_with_its_label():
    images, labels = digits(20), np.arange(20) % 10
    fig = plots.show_samples(images, labels, n=10, cols=4)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 10  # 3 rows of 4, the two unused cells removed
    assert titles(fig) == [str(label) for label in labels[:10]]
    for ax, image in zip(fig.axes, images):
        np.testing.assert_array_equal(ax.images[0].get_array(), image)


def test_show_samples_marks_wrong_predictions_in_red():
    labels = np.array([3, 5, 7])
    fig = plots.show_samples(digits(3), labels, predictions=np.array([3, 6, 7]))
    assert titles(fig) == ["true 3 / pred 3", "true 5 / pred 6", "true 7 / pred 7"]
    colors = [ax.title.get_color() for ax in fig.axes]
    assert [same_color(color, plots.WRONG_COLOR) for color in colors] == [False, True, False]


@pytest.mark.parametrize(
    "images, labels, options",
    [
        (np.zeros((4, 28, 27), np.uint8), np.zeros(4), {}),
        (np.zeros((28, 28), np.uint8), np.zeros(1), {}),
        (np.zeros((4, 28, 28), np.uint8), np.zeros(3), {}),
        (np.zeros((4, 28, 28), np.uint8), np.zeros(4), {"predictions": np.zeros(5)}),
        (np.zeros((4, 28, 28), np.uint8), np.zeros(4), {"n": 0}),
        (np.zeros((4, 28, 28), np.uint8), np.zeros(4), {"cols": 0}),
    ],
)
def test_show_samples_rejects_bad_input(images, labels, options):
    with pytest.raises(ValueError):
        plots.show_samples(images, labels, **options)


def test_show_misclassified_shows_only_mistakes_most_confident_first():
    labels = np.array([0, 1, 2, 3, 4])
    probabilities = one_hot_probabilities([0, 7, 2, 5, 9], [0.99, 0.61, 0.95, 0.87, 0.5])
    fig = plots.show_misclassified(digits(5), labels, probabilities)
    assert titles(fig) == ["标签 3 · 预测 5 (0.87)", "标签 1 · 预测 7 (0.61)", "标签 4 · 预测 9 (0.50)"]
    images = digits(5)
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), images[3])

    assert len(plots.show_misclassified(images, labels, probabilities, n=2).axes) == 2


def test_show_misclassified_says_so_when_there_is_no_mistake():
    labels = np.array([4, 2])
    fig = plots.show_misclassified(digits(2), labels, one_hot_probabilities([4, 2], [0.9, 0.8]))
    assert len(fig.axes) == 1
    assert "全部正确 (no mistakes)" in fig.axes[0].texts[0].get_text()


@pytest.mark.parametrize(
    "probabilities",
    [
        np.random.default_rng(1).normal(size=(3, 10)),  # logits, not probabilities
        np.full((3, 9), 1 / 9),
        np.full((2, 10), 0.1),
    ],
)
def test_show_misclassified_rejects_anything_but_softmax_rows(probabilities):
    with pytest.raises(ValueError):
        plots.show_misclassified(digits(3), np.zeros(3), probabilities)


def test_plot_history_draws_train_and_validation_per_epoch():
    run = history(3)
    fig = plots.plot_history(run)
    loss_ax, accuracy_ax = fig.axes
    expected = {loss_ax: (run.train_loss, run.val_loss), accuracy_ax: (run.train_accuracy, run.val_accuracy)}
    for ax, (train, val) in expected.items():
        train_line, val_line = ax.get_lines()
        np.testing.assert_array_equal(train_line.get_xdata(), [1, 2, 3])
        np.testing.assert_allclose(train_line.get_ydata(), train)
        np.testing.assert_allclose(val_line.get_ydata(), val)
        assert [text.get_text() for text in ax.get_legend().get_texts()] == ["训练集 (training)", "验证集 (validation)"]
    formatter = accuracy_ax.yaxis.get_major_formatter()
    assert isinstance(formatter, PercentFormatter) and formatter.xmax == 1  # accuracies are fractions


def test_plot_history_adds_every_batchs_loss_at_fractions_of_an_epoch():
    run = SimpleNamespace(**vars(history(2)), step_loss=[2.3, 1.0, 0.5, 0.4], steps_per_epoch=2)
    loss_ax, _ = plots.plot_history(run).axes
    batch_line = loss_ax.get_lines()[0]
    np.testing.assert_allclose(batch_line.get_xdata(), [0.5, 1.0, 1.5, 2.0])
    np.testing.assert_allclose(batch_line.get_ydata(), run.step_loss)
    assert loss_ax.get_yscale() == "log"


def test_live_history_redraws_while_training_and_always_at_an_epochs_end():
    live = plots.LiveHistory(interval=3600)  # no redraw after the first one until the last epoch is in
    run = SimpleNamespace(epoch=[], train_loss=[], train_accuracy=[], val_loss=[], val_accuracy=[], step_loss=[],
                          steps_per_epoch=3, total_epochs=1)
    for loss in (2.3, 1.2, 0.8):
        run.step_loss.append(loss)
        live(run)
    loss_ax, accuracy_ax = live.figure.axes
    assert len(loss_ax.get_lines()[0].get_xdata()) == 1  # drawn at the first step, then throttled
    run.epoch.append(1)
    run.train_loss.append(0.7)
    run.train_accuracy.append(0.8)
    run.val_loss.append(0.75)
    run.val_accuracy.append(0.78)
    live(run)
    batches, train, val = loss_ax.get_lines()
    np.testing.assert_allclose(batches.get_ydata(), [2.3, 1.2, 0.8])
    np.testing.assert_allclose(val.get_ydata(), [0.75])
    np.testing.assert_allclose(accuracy_ax.get_lines()[1].get_ydata(), [0.78])
    assert len(live.figure.axes) == 2 and plt.get_fignums() == []  # one figure, redrawn in place
    assert loss_ax.get_xlim()[1] >= 1 and accuracy_ax.get_xlim()[0] <= 0  # the whole run's epochs from the start


def test_learning_rate_sweep_marks_the_diverged_runs():
    sweep = {0.01: 1.0, 0.1: 0.3, 1.0: float("nan")}
    curves = {0.01: [2.3, 1.5, 1.0], 0.1: [2.3, 0.8, 0.3], 1.0: [2.3, 40.0, float("nan")]}
    end_ax, step_ax = plots.plot_learning_rate_sweep(sweep, curves).axes
    final, crosses = end_ax.get_lines()
    np.testing.assert_allclose(final.get_xdata(), [0.01, 0.1])
    np.testing.assert_allclose(crosses.get_xdata(), [1.0])
    assert crosses.get_ydata()[0] > max(final.get_ydata())  # at the top, above every finite loss
    diverged_curve = step_ax.get_lines()[-2]
    np.testing.assert_allclose(diverged_curve.get_ydata(), [2.3])  # stops where the loss left the panel
    with pytest.raises(ValueError):
        plots.plot_learning_rate_sweep(sweep, {0.01: [1.0]})


def test_kernels_share_one_scale_centred_on_zero():
    weights = np.random.default_rng(0).standard_normal((12, 1, 5, 5))
    fig = plots.show_kernels(weights)
    images = [ax.get_images()[0] for ax in fig.axes if ax.get_images()]
    assert len(images) == 12
    limit = np.abs(weights).max()
    assert all(image.get_clim() == pytest.approx((-limit, limit)) for image in images)
    np.testing.assert_allclose(images[3].get_array(), weights[3, 0])
    with pytest.raises(ValueError):
        plots.show_kernels(np.zeros((12, 3, 5, 5)))  # three input channels: not a first layer on greyscale


def test_feature_maps_show_the_digit_then_one_panel_per_channel():
    maps = np.random.default_rng(0).random((12, 24, 24))
    fig = plots.show_feature_maps(digits(1)[0], maps)
    assert titles(fig)[0] == "输入 (input)" and titles(fig)[1:] == [f"通道 (channel) {i}" for i in range(12)]
    np.testing.assert_allclose(fig.axes[5].get_images()[0].get_array(), maps[4])
    with pytest.raises(ValueError):
        plots.show_feature_maps(digits(1)[0], maps[0])


def test_plot_history_shows_a_single_epoch():
    fig = plots.plot_history(history(1))
    for ax in fig.axes:
        assert all(line.get_marker() not in (None, "None", "") for line in ax.get_lines())  # a lone point is visible
        low, high = ax.get_xlim()
        ticks = [tick for tick in ax.get_xticks() if low <= tick <= high]
        assert ticks == [1]  # whole epochs, not 0.96, 0.98, ...


@pytest.mark.parametrize(
    "run",
    [
        history(0),
        SimpleNamespace(**{**vars(history(3)), "val_loss": [0.5, 0.4]}),
        SimpleNamespace(**{**vars(history(3)), "val_accuracy": []}),
    ],
)
def test_plot_history_rejects_empty_or_inconsistent_history(run):
    with pytest.raises(ValueError):
        plots.plot_history(run)


def test_plot_histories_compares_runs_by_name():
    runs = {"SGD": history(2), "Momentum": history(3), "Adam": history(4)}
    fig = plots.plot_histories(runs)
    accuracy_ax, loss_ax = fig.axes
    assert [text.get_text() for text in accuracy_ax.get_legend().get_texts()] == ["SGD", "Momentum", "Adam"]
    for line, run in zip(accuracy_ax.get_lines(), runs.values()):
        np.testing.assert_allclose(line.get_ydata(), run.val_accuracy)
    for line, run in zip(loss_ax.get_lines(), runs.values()):
        np.testing.assert_allclose(line.get_ydata(), run.train_loss)


def test_plot_histories_needs_a_run():
    with pytest.raises(ValueError):
        plots.plot_histories({})


def test_confusion_matrix_cells_show_the_counts():
    matrix = np.random.default_rng(2).integers(0, 50, size=(10, 10))
    np.fill_diagonal(matrix, 900)
    fig = plots.plot_confusion_matrix(matrix)
    (ax,) = fig.axes
    cells = {(round(text.get_position()[1]), round(text.get_position()[0])): text.get_text() for text in ax.texts}
    assert cells == {(row, col): str(matrix[row, col]) for row in range(10) for col in range(10)}
    assert ax.get_xlabel() == "预测的数字 (predicted)" and ax.get_ylabel() == "真实的数字 (true label)"
    assert f"{np.trace(matrix) / matrix.sum():.2%}" in ax.get_title()


@pytest.mark.parametrize(
    "matrix",
    [np.zeros((10, 9), int), np.zeros(10, int), np.full((10, 10), 0.5), np.full((10, 10), -1)],
)
def test_confusion_matrix_rejects_non_count_matrices(matrix):
    with pytest.raises(ValueError):
        plots.plot_confusion_matrix(matrix)


def test_show_prediction_bars_are_the_probabilities_with_the_answer_highlighted():
    probabilities = one_hot_probabilities([7], [0.8])[0]
    fig = plots.show_prediction(digits(1)[0], probabilities)
    image_ax, bar_ax = fig.axes
    bars = bar_ax.patches
    np.testing.assert_allclose([bar.get_height() for bar in bars], probabilities)
    assert [same_color(bar.get_facecolor(), plots.HIGHLIGHT_COLOR) for bar in bars] == [i == 7 for i in range(10)]
    assert bar_ax.get_title() == "预测 (prediction): 7 (0.80)"
    np.testing.assert_array_equal(image_ax.images[0].get_array(), digits(1)[0])


def test_show_prediction_puts_the_original_photo_first():
    photo = Image.new("RGB", (120, 90), (200, 180, 160))
    fig = plots.show_prediction(digits(1)[0], one_hot_probabilities([2], [0.9]), original=photo)
    assert titles(fig)[:2] == ["原图 (original)", "模型的输入 (model input) 28x28"]
    assert fig.axes[0].images[0].get_array().shape == (90, 120, 3)


@pytest.mark.parametrize(
    "image, probabilities",
    [
        (np.zeros((1, 28, 28), np.uint8), np.full(10, 0.1)),
        (np.zeros((28, 28), np.uint8), np.full(9, 1 / 9)),
        (np.zeros((28, 28), np.uint8), np.full((2, 10), 0.1)),
    ],
)
def test_show_prediction_rejects_bad_shapes(image, probabilities):
    with pytest.raises(ValueError):
        plots.show_prediction(image, probabilities)


def test_show_pipeline_titles_each_step():
    steps = [
        ("photo", Image.new("RGB", (64, 48), "white")),
        ("grayscale", np.full((48, 64), 200, np.uint8)),
        ("threshold", np.zeros((48, 64), bool)),
        ("28x28", digits(1)[0]),
        ("normalized", np.zeros((1, 1, 28, 28), np.float32)),
    ]
    fig = plots.show_pipeline(steps)
    assert titles(fig) == [name for name, _ in steps]
    assert [ax.images[0].get_array().shape for ax in fig.axes] == [(48, 64, 3), (48, 64), (48, 64), (28, 28), (28, 28)]


@pytest.mark.parametrize("steps", [[], [("bad", np.zeros((28, 28, 2), np.uint8))]])
def test_show_pipeline_rejects_bad_steps(steps):
    with pytest.raises(ValueError):
        plots.show_pipeline(steps)


def diagram_rows(fig: Figure) -> list[tuple[str, ...]]:
    """The texts of an architecture diagram, row by row (top to bottom), left to right; the header row first."""
    (ax,) = fig.axes
    rows: dict[float, list] = {}
    for text in ax.texts:
        if isinstance(text, Annotation):  # the arrows between blocks
            continue
        x, y = text.get_position()
        rows.setdefault(round(y, 3), []).append((x, text.get_text()))
    return [tuple(text for _, text in sorted(row)) for _, row in sorted(rows.items())]


def test_architecture_diagram_lists_every_layer_with_its_output_shape_and_parameters():
    from course_utils.models import CourseCNN

    model = CourseCNN()
    fig = plots.plot_architecture(model, (1, 1, 28, 28))
    header, *rows = diagram_rows(fig)
    assert header == ("数据量 (data size)", "层 (layer)", "输出形状 (output shape)", "参数 (parameters)")
    assert rows == [
        ("输入 (input)", "1×28×28", ""),
        ("卷积 (Conv2D) 5×5", "20×28×28", "520"),
        ("池化 (MaxPool2D) 2×2", "20×14×14", "0"),
        ("卷积 (Conv2D) 5×5", "20×14×14", "10,020"),
        ("池化 (MaxPool2D) 2×2", "20×7×7", "0"),
        ("展平 (flatten)，写在 forward 里", "980", "0"),  # paddle.flatten in forward: not a layer, still a step
        ("全连接层 (Linear) 980 → 10", "10", "9,810"),
    ]
    assert fig.axes[0].get_title() == "CourseCNN：可训练参数 (trainable parameters) 20,350"
    assert len(fig.axes[0].patches) == len(rows)  # one block per row


@pytest.mark.parametrize("name", ["softmax", "mlp", "lenet5", "small_cnn"])
def test_architecture_diagram_counts_what_paddle_summary_counts(name):
    import paddle

    from course_utils.models import build_model

    model = build_model(name)
    fig = plots.plot_architecture(model)
    _, *rows = diagram_rows(fig)
    counted = sum(int(row[-1].replace(",", "")) for row in rows[1:])
    assert counted == paddle.summary(model, (1, 1, 28, 28))["trainable_params"]
    assert rows[-1][-2] == "10"  # ten logits
    assert len(rows) == 1 + sum(1 for layer in model.sublayers() if not layer.sublayers())  # input + every layer


def test_architecture_diagram_leaves_the_model_in_its_mode():
    from course_utils.models import build_model

    model = build_model("small_cnn")
    model.train()
    plots.plot_architecture(model)
    assert all(layer.training for layer in model.sublayers(include_self=True))
    model.eval()
    plots.plot_architecture(model)
    assert not any(layer.training for layer in model.sublayers(include_self=True))
    assert all(not layer._forward_post_hooks for layer in model.sublayers())  # the hooks are gone


@pytest.mark.parametrize("shape", [(28, 28)[:1], (1, 0, 28, 28)])
def test_architecture_diagram_rejects_a_shape_without_batch_axis(shape):
    from course_utils.models import build_model

    with pytest.raises(ValueError):
        plots.plot_architecture(build_model("softmax"), shape)


def test_every_figure_renders_silently_and_stays_out_of_pyplot():
    """No warning (e.g. a missing glyph) when drawn, and pyplot never tracks them, so Jupyter shows each once."""
    from course_utils.models import build_model

    images, labels = digits(12), np.arange(12) % 10
    probabilities = one_hot_probabilities(list((labels + 1) % 10), [0.7] * 12)
    figures = [
        plots.show_samples(images, labels, predictions=probabilities.argmax(axis=1)),
        plots.show_misclassified(images, labels, probabilities),
        plots.plot_history(history(3)),
        plots.plot_histories({"SGD": history(2), "Adam": history(2)}),
        plots.plot_confusion_matrix(np.eye(10, dtype=int) * 100),
        plots.show_prediction(images[0], probabilities[0], original=np.zeros((90, 120, 3), np.uint8)),
        plots.show_pipeline([("photo", np.zeros((90, 120), np.uint8)), ("28x28", images[0])]),
        plots.plot_architecture(build_model("small_cnn")),
        plots.plot_learning_rate_sweep({0.1: 0.5, 1.0: float("nan")}, {0.1: [2.3, 0.5], 1.0: [2.3, float("inf")]}),
        plots.show_kernels(np.ones((12, 1, 5, 5))),
        plots.show_feature_maps(images[0], np.ones((12, 24, 24))),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fig in figures:
            fig.savefig(io.BytesIO(), format="png")
    assert plt.get_fignums() == []


def test_show_prediction_says_uncertain_by_the_prediction_rule():
    probabilities = np.full(10, 0.01)
    probabilities[[4, 9]] = [0.55, 0.37]
    assert is_uncertain(probabilities)
    bar_ax = plots.show_prediction(digits(1)[0], probabilities).axes[-1]
    assert bar_ax.get_title() == "不确定 (uncertain): 4 (0.55) 或 9 (0.37)"
