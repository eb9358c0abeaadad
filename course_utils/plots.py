"""The figures the notebooks show: sample digits, network diagrams, training curves (also live, while training
runs), a learning-rate sweep, a network's kernels and feature maps, confusion matrix, mistakes, predictions.

Every function returns a :class:`matplotlib.figure.Figure` that pyplot has already let go of (``plt.close``), so
Jupyter's inline backend does not show it a second time at the end of the cell, and figures made in a loop or in
tests are freed like any other object. In a notebook:

- make the call the cell's last expression: exactly one image (its output also carries the text
  ``<Figure size WxH with N Axes>``, which only depends on the figure size and number of panels);
- ``fig = plot_history(history)`` or a trailing ``;`` shows nothing; ``display(fig)`` shows it anywhere in a cell;
- ``plt.show()`` does not show these figures (pyplot does not know them); ``fig.savefig(path)`` saves one.

Chinese text: matplotlib's default font (DejaVu Sans) has no Chinese glyphs; it would draw boxes and print "Glyph ...
missing" warnings. Importing this module therefore adds the first installed font of :data:`CJK_FONTS` (e.g. Noto Sans
CJK, Debian's ``fonts-noto-cjk``) to ``font.family`` as a fallback: Latin text keeps the default font, Chinese
characters come from the fallback, in these figures and in a notebook's own ones. Labels follow the course's rule for
printed text: Chinese first, English in parentheses where it helps (``概率 (probability)``); where no CJK font is
installed, matplotlib draws boxes for the Chinese characters and the English in parentheses still reads.
"""
from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch
from matplotlib.ticker import MaxNLocator, PercentFormatter

from .prediction import is_uncertain, top_two

NUM_CLASSES = 10
RIGHT_COLOR = "black"
WRONG_COLOR = "tab:red"
HIGHLIGHT_COLOR = "tab:blue"

CJK_FONTS = (
    "Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
    "Microsoft YaHei", "SimHei", "PingFang SC", "Heiti SC", "Noto Sans CJK JP",
)
"""Fonts with Chinese glyphs, in order of preference (Linux, Windows, macOS): the first installed one is the fallback."""


def _add_cjk_fallback() -> str | None:
    """Append the first installed font of ``CJK_FONTS`` to ``font.family`` (matplotlib falls back along that list
    glyph by glyph) and return its name, or None when there is none."""
    installed = {font.name for font in font_manager.fontManager.ttflist}
    name = next((font for font in CJK_FONTS if font in installed), None)
    if name is not None:
        families = [family for family in plt.rcParams["font.family"] if family != name]
        plt.rcParams["font.family"] = [*families, name]
    return name


CJK_FONT = _add_cjk_fallback()
"""The fallback font used for Chinese characters, or None where no font of ``CJK_FONTS`` is installed."""


def show_samples(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    predictions: np.ndarray | None = None,
    n: int = 16,
    cols: int = 8,
) -> Figure:
    """A grid of the first ``n`` digits (uint8 ``[N, 28, 28]``) titled with their labels.

    With ``predictions`` each title reads ``true 3 / pred 5``, in red when the prediction is wrong. Pass a slice or
    fancy-indexed arrays to show other samples than the first ones.
    """
    images = _digit_images(images)
    labels = _class_ids(labels, len(images), "labels")
    count = _grid_count(n, len(images))
    if predictions is None:
        titles = [str(label) for label in labels[:count]]
        colors = [RIGHT_COLOR] * count
    else:
        predictions = _class_ids(predictions, len(images), "predictions")
        pairs = list(zip(labels[:count], predictions[:count]))
        titles = [f"true {label} / pred {pred}" for label, pred in pairs]
        colors = [RIGHT_COLOR if label == pred else WRONG_COLOR for label, pred in pairs]
    return _image_grid(images[:count], titles, colors, cols=cols, cell_width=1.5)


def show_misclassified(
    images: np.ndarray,
    labels: np.ndarray,
    probabilities: np.ndarray,
    *,
    n: int = 12,
    cols: int = 6,
) -> Figure:
    """A gallery of up to ``n`` wrongly predicted digits, most confident mistakes first.

    ``probabilities`` are the model's softmax outputs ``[N, 10]``. Each title reads ``标签 3 · 预测 5 (0.87)``, the
    number being the probability the model gave its (wrong) answer: confident mistakes are the instructive ones
    (an ambiguous digit, sometimes a wrong label). With no mistakes the figure says so instead.
    """
    images = _digit_images(images)
    labels = _class_ids(labels, len(images), "labels")
    probabilities = _probabilities(probabilities, len(images))
    predictions = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    wrong = np.flatnonzero(predictions != labels)
    chosen = wrong[np.argsort(-confidence[wrong], kind="stable")][: _grid_count(n, len(images))]
    if len(chosen) == 0:
        fig = _figure(4, 1)
        ax = fig.subplots()
        ax.text(0.5, 0.5, f"{len(images)} 张图像全部正确 (no mistakes)", ha="center", va="center")
        ax.set_axis_off()
        return fig
    titles = [f"标签 {labels[i]} · 预测 {predictions[i]} ({confidence[i]:.2f})" for i in chosen]
    return _image_grid(images[chosen], titles, [WRONG_COLOR] * len(chosen), cols=cols, cell_width=2.0)


@dataclass(frozen=True)
class _Block:
    """One row of an architecture diagram: what ran, the shape it produced (without the batch axis), its parameters."""

    label: str
    kind: str
    shape: tuple[int, ...]
    parameters: int


_BLOCK_COLORS = {
    "input": "#d9d9d9", "conv": "#9ecae1", "pool": "#a1d99b", "norm": "#dadaeb", "activation": "#f0f0f0",
    "linear": "#fdae6b", "flatten": "#fff3b0", "dropout": "#f0f0f0", "other": "#f0f0f0",
}


def plot_architecture(model: Any, input_shape: Sequence[int] = (1, 1, 28, 28)) -> Figure:
    """A diagram of ``model`` drawn from the model itself: every layer that runs, in order, as one block.

    One forward pass on zeros of ``input_shape`` (in evaluation mode, without gradients; the model's mode is restored
    afterwards) records each leaf layer's output through forward hooks. Each row shows the layer (kind and kernel or
    size), its output shape without the batch axis, and its trainable parameters; a block's width grows with the
    number of values it outputs, so the picture shows the data shrinking from image to ten logits. A reshape written
    in ``forward`` itself (``paddle.flatten``) appears as its own row; ``F.relu`` in ``forward`` changes no shape and
    does not. The title gives the model's class and its total of trainable parameters (``paddle.summary``'s
    "Trainable params").
    """
    blocks = _trace_blocks(model, input_shape)
    total = sum(block.parameters for block in blocks)
    sizes = [math.log10(max(math.prod(block.shape), 1)) for block in blocks]
    largest = max(sizes) or 1.0

    rows = len(blocks)
    fig = _figure(8.6, 0.42 * rows + 1.0)
    ax = fig.subplots()
    ax.set_xlim(0, 11)
    ax.set_ylim(rows - 0.4, -1.3)
    ax.set_axis_off()
    for x, heading, align in ((1.5, "数据量 (data size)", "center"), (3.2, "层 (layer)", "left"),
                              (7.4, "输出形状 (output shape)", "center"), (10.9, "参数 (parameters)", "right")):
        ax.text(x, -0.9, heading, ha=align, va="center", fontsize=9, fontweight="bold")
    for row, (block, size) in enumerate(zip(blocks, sizes)):
        width = 0.4 + 2.4 * size / largest
        ax.add_patch(FancyBboxPatch((1.5 - width / 2, row - 0.3), width, 0.6, boxstyle="round,pad=0.02",
                                    facecolor=_BLOCK_COLORS[block.kind], edgecolor="#555555", linewidth=0.8))
        if row:
            ax.annotate("", xy=(1.5, row - 0.32), xytext=(1.5, row - 0.68),
                        arrowprops={"arrowstyle": "->", "color": "#555555", "linewidth": 0.8})
        ax.text(3.2, row, block.label, ha="left", va="center", fontsize=9)
        ax.text(7.4, row, "×".join(str(n) for n in block.shape), ha="center", va="center", fontsize=9)
        ax.text(10.9, row, f"{block.parameters:,}" if block.kind != "input" else "", ha="right", va="center",
                fontsize=9)
    ax.set_title(f"{type(model).__name__}：可训练参数 (trainable parameters) {total:,}", fontsize=10)
    return fig


def _trace_blocks(model: Any, input_shape: Sequence[int]) -> list[_Block]:
    """Run ``model`` once on zeros and list the blocks of its diagram (see ``plot_architecture``)."""
    import paddle  # here, not at the top: the other figures (and the command line's predict) do without Paddle

    if len(input_shape) < 2 or any(int(n) < 1 for n in input_shape):
        raise ValueError(f"expected an input shape with a batch axis such as (1, 1, 28, 28), got {list(input_shape)}")
    leaves = [layer for layer in model.sublayers() if not layer.sublayers()]
    if not leaves:
        raise ValueError(f"{type(model).__name__} has no layers to draw")
    ran: list[tuple[Any, tuple[int, ...], tuple[int, ...]]] = []

    def record(layer: Any, inputs: tuple, output: Any) -> None:
        ran.append((layer, tuple(inputs[0].shape[1:]), tuple(output.shape[1:])))

    modes = [(layer, layer.training) for layer in model.sublayers(include_self=True)]
    hooks = [layer.register_forward_post_hook(record) for layer in leaves]
    try:
        model.eval()
        with paddle.no_grad():
            model(paddle.zeros([int(n) for n in input_shape], dtype="float32"))
    finally:
        for hook in hooks:
            hook.remove()
        for layer, training in modes:
            layer.training = training

    blocks = [_Block("输入 (input)", "input", tuple(int(n) for n in input_shape[1:]), 0)]
    for layer, shape_in, shape_out in ran:
        if shape_in != blocks[-1].shape:  # forward reshaped the data between two layers
            kind = "flatten" if len(shape_in) == 1 else "other"
            label = "展平 (flatten)，写在 forward 里" if kind == "flatten" else "变形 (reshape)，写在 forward 里"
            blocks.append(_Block(label, kind, shape_in, 0))
        label, kind = _describe_layer(layer)
        trainable = sum(math.prod(p.shape) for p in layer.parameters() if not p.stop_gradient)
        blocks.append(_Block(label, kind, shape_out, int(trainable)))
    return blocks


def _describe_layer(layer: Any) -> tuple[str, str]:
    """A short label for one layer (in the glossary's words) and the kind that colours its block."""
    name = type(layer).__name__
    if name.startswith("Conv"):
        kernel = "×".join(str(n) for n in layer.weight.shape[2:])
        return f"卷积 ({name}) {kernel}", "conv"
    if "Pool" in name:
        size = layer.ksize if isinstance(layer.ksize, int) else "×".join(str(n) for n in layer.ksize)
        size = f"{size}×{size}" if isinstance(size, int) else size
        return f"池化 ({name}) {size}", "pool"
    if name == "Linear":
        n_in, n_out = layer.weight.shape
        return f"全连接层 (Linear) {n_in} → {n_out}", "linear"
    if name.startswith("BatchNorm"):
        return f"批归一化 ({name})", "norm"
    if name == "Flatten":
        return "展平 (Flatten)", "flatten"
    if name.startswith("Dropout"):
        return f"丢弃法 (Dropout) p = {layer.p}", "dropout"
    if name in ("ReLU", "Sigmoid", "Tanh", "LeakyReLU", "GELU", "Softmax"):
        return f"激活函数 {name}", "activation"
    return name, "other"


def plot_history(history: Any) -> Figure:
    """Loss and accuracy per epoch, training vs validation, from a ``training.History``.

    Uses the list attributes ``epoch``, ``train_loss``, ``train_accuracy``, ``val_loss`` and ``val_accuracy``
    (accuracies as fractions); each point is marked, so a one-epoch run is visible too. A history that also has
    ``step_loss`` and ``steps_per_epoch`` adds every batch's loss as a thin line, placed at fractions of an epoch.
    """
    epochs = _epochs(history)
    for name in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
        _series(history, name, len(epochs))
    fig = _figure(10, 3.8)
    _draw_history(fig.subplots(1, 2), history)
    return fig


class LiveHistory:
    """Training curves that grow while ``train_model`` runs: ``train_model(..., callback=plots.LiveHistory())``.

    The figure is ``plot_history``'s, its epoch axis fixed to the whole run, redrawn in place in one notebook output
    (an IPython display handle): at most every ``interval`` seconds (a redraw takes a few tenths of a second), and
    always after the last epoch's validation, so the output left in the notebook is the final figure. Outside IPython
    it only keeps ``figure`` up to date, e.g. to save it.
    """

    def __init__(self, interval: float = 2.0) -> None:
        self.interval = interval
        self.figure = _figure(10, 3.8)
        self._axes = self.figure.subplots(1, 2)
        self._handle: Any = None
        self._drawn_at = -math.inf
        self._epochs_drawn = 0

    def __call__(self, history: Any) -> None:
        finished = len(history.epoch) != self._epochs_drawn and len(history.epoch) == history.total_epochs
        if not finished and time.monotonic() - self._drawn_at < self.interval:
            return
        for ax in self._axes:
            ax.clear()
        _draw_history(self._axes, history)
        self._epochs_drawn = len(history.epoch)
        self._drawn_at = time.monotonic()
        self._show()

    def _show(self) -> None:
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:
            return
        if get_ipython() is None:
            return
        if self._handle is None:
            self._handle = display(self.figure, display_id=True)
        else:
            self._handle.update(self.figure)


def _draw_history(axes: Sequence[Axes], history: Any) -> None:
    """``plot_history``'s two panels on ``axes``; a history without epochs yet shows its step losses only."""
    loss_ax, accuracy_ax = axes
    epochs = list(history.epoch)
    steps = list(getattr(history, "step_loss", []))
    per_epoch = getattr(history, "steps_per_epoch", 0)
    if steps and per_epoch:
        loss_ax.plot((np.arange(len(steps)) + 1) / per_epoch, steps, lw=0.6, alpha=0.4, color="tab:gray",
                     label="每批 (batch)")
    for ax, metric in ((loss_ax, "loss"), (accuracy_ax, "accuracy")):
        ax.plot(epochs, list(getattr(history, f"train_{metric}"))[: len(epochs)], "o-", color="tab:blue",
                label="训练集 (training)")
        ax.plot(epochs, list(getattr(history, f"val_{metric}"))[: len(epochs)], "s--", color="tab:orange",
                label="验证集 (validation)")
    _style_epoch_axes(loss_ax, "损失 (loss)", "loss")
    _style_epoch_axes(accuracy_ax, "正确率 (accuracy)", "accuracy")
    if steps:
        loss_ax.set_yscale("log")
    total = getattr(history, "total_epochs", 0)
    if total:  # the whole run's epoch axis from the start, so a live figure shows how far training has come
        for ax in axes:
            ax.set_xlim(-0.03 * total, 1.03 * total)


def plot_learning_rate_sweep(sweep: Mapping[float, float], curves: Mapping[float, Sequence[float]]) -> Figure:
    """A learning-rate sweep: the loss each rate ended with (left) and every step's loss of each run (right).

    ``sweep`` maps a rate to the loss its short run ended with, ``curves`` the same rates to every step's loss. A run
    that diverged (a NaN or infinite loss) has no point to draw: it is marked with a red x at the top of the left
    panel, and on the right its curve stops where the loss left the panel, marked the same way.
    """
    if not sweep or set(curves) != set(sweep):
        raise ValueError("plot_learning_rate_sweep needs one short run per learning rate, in sweep and in curves")
    rates = sorted(sweep)
    finite = [rate for rate in rates if np.isfinite(sweep[rate])]
    diverged = [rate for rate in rates if rate not in finite]
    fig = _figure(11, 3.8)
    end_ax, step_ax = fig.subplots(1, 2)
    end_ax.plot(finite, [sweep[rate] for rate in finite], "o-", color=HIGHLIGHT_COLOR, label="最后的损失 (final loss)")
    top = 2 * max([sweep[rate] for rate in finite] or [1.0])
    end_ax.set_ylim(0, top)
    if diverged:
        end_ax.plot(diverged, [0.95 * top] * len(diverged), "x", color=WRONG_COLOR, ms=12, mew=3, clip_on=False,
                    label="发散 (diverged)")
    end_ax.set_xscale("log")
    end_ax.set_xticks(rates, [f"{rate:g}" for rate in rates])
    end_ax.minorticks_off()
    end_ax.set(title="扫描结果 (sweep)", xlabel="学习率 (learning rate)", ylabel="最后 10 步的平均损失 (loss)")

    first_losses = [float(curves[rate][0]) for rate in rates if len(curves[rate]) and np.isfinite(curves[rate][0])]
    ceiling = 2 * max(first_losses, default=2.5)  # twice the loss the runs started from
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(rates)))
    for rate, color in zip(rates, colors):
        losses = np.asarray(curves[rate], dtype=float)
        out = np.flatnonzero(~np.isfinite(losses) | (losses > ceiling))
        stop = out[0] if len(out) else len(losses)
        step_ax.plot(np.arange(1, stop + 1), losses[:stop], color=color, label=f"{rate:g}")
        if len(out):
            step_ax.plot(stop + 1, ceiling, "x", color=WRONG_COLOR, ms=10, mew=3, clip_on=False)
    step_ax.set_ylim(0, ceiling)
    step_ax.set(title="每一步的损失 (loss per step)", xlabel="训练步 (step)", ylabel="损失 (loss)")
    step_ax.legend(title="学习率 (learning rate)", fontsize=8)
    for ax in (end_ax, step_ax):
        ax.grid(alpha=0.3)
    end_ax.legend()
    return fig


def show_kernels(weights: np.ndarray, *, cols: int = 6) -> Figure:
    """The kernels of a convolution with one input channel, ``weights`` ``[C, 1, k, k]`` (``conv.weight.numpy()``).

    Each kernel on the same colour scale, centred on 0: red weights add the pixel's brightness to the output, blue
    ones subtract it, white ones ignore it.
    """
    kernels = np.asarray(weights, dtype=np.float64)
    if kernels.ndim != 4 or kernels.shape[1] != 1 or len(kernels) == 0:
        raise ValueError(f"expected kernels of shape [C, 1, k, k] with one input channel, got {list(kernels.shape)}")
    limit = float(np.abs(kernels).max()) or 1.0
    cols = min(cols, len(kernels))
    rows = math.ceil(len(kernels) / cols)
    fig = _figure(1.5 * cols + 0.8, 1.5 * rows + 0.4)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for index, (ax, kernel) in enumerate(zip(axes, kernels[:, 0])):
        image = ax.imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_title(str(index), fontsize=9)
        ax.set_axis_off()
    for ax in axes[len(kernels):]:
        ax.remove()
    fig.colorbar(image, ax=axes.tolist(), shrink=0.8, label="权重 (weight)")
    return fig


def show_feature_maps(image: np.ndarray, maps: np.ndarray, *, cols: int = 6) -> Figure:
    """One digit (uint8 ``[28, 28]``) and the feature maps ``[C, H, W]`` a layer made of it, one panel per channel.

    Each map has its own colour scale (bright: strong response), since only where a channel responds matters here.
    """
    feature_maps = np.asarray(maps, dtype=np.float64)
    if feature_maps.ndim != 3 or len(feature_maps) == 0:
        raise ValueError(f"expected feature maps of shape [C, H, W], got {list(feature_maps.shape)}")
    cols = min(cols, len(feature_maps))
    rows = math.ceil(len(feature_maps) / cols)
    fig = _figure(1.6 * (cols + 1), 1.7 * rows)
    grid = fig.add_gridspec(rows, cols + 1)
    _draw_image(fig.add_subplot(grid[:, 0]), _digit_images(np.asarray(image)[None])[0], "输入 (input)")
    for index, feature_map in enumerate(feature_maps):
        ax = fig.add_subplot(grid[index // cols, 1 + index % cols])
        ax.imshow(feature_map, cmap="magma", interpolation="nearest")
        ax.set_title(f"通道 (channel) {index}", fontsize=8)
        ax.set_axis_off()
    return fig


def plot_histories(histories: Mapping[str, Any]) -> Figure:
    """Compare runs, e.g. ``{"SGD": h1, "Momentum": h2, "Adam": h3}``: validation accuracy and training loss per epoch.

    The mapping's keys become the legend entries; each value is a ``training.History``.
    """
    if not histories:
        raise ValueError("plot_histories needs at least one run, e.g. {'Adam': history}")
    fig = _figure(10, 3.8)
    accuracy_ax, loss_ax = fig.subplots(1, 2)
    for name, history in histories.items():
        epochs = _epochs(history)
        accuracy_ax.plot(epochs, _series(history, "val_accuracy", len(epochs)), "o-", label=name)
        loss_ax.plot(epochs, _series(history, "train_loss", len(epochs)), "o-", label=name)
    _style_epoch_axes(accuracy_ax, "验证集正确率 (validation accuracy)", "accuracy")
    _style_epoch_axes(loss_ax, "训练损失 (training loss)", "loss")
    return fig


def plot_confusion_matrix(matrix: np.ndarray) -> Figure:
    """A confusion matrix of counts: row = true label, column = predicted label, the count written in each cell.

    The diagonal holds the correct predictions; everything else is a mistake, e.g. row 4, column 9 counts the fours
    taken for nines.
    """
    counts = np.asarray(matrix)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] == 0:
        raise ValueError(f"expected a square confusion matrix such as [10, 10], got {list(counts.shape)}")
    if not np.issubdtype(counts.dtype, np.number) or np.any(counts < 0) or np.any(counts != np.round(counts)):
        raise ValueError("a confusion matrix holds counts: non-negative whole numbers")
    counts = counts.astype(np.int64)
    size = counts.shape[0]
    total = int(counts.sum())
    accuracy = np.trace(counts) / total if total else 0.0

    fig = _figure(0.6 * size + 1.5, 0.6 * size + 1.2)
    ax = fig.subplots()
    ax.imshow(counts, cmap="Blues", vmin=0)
    threshold = counts.max() / 2
    for row in range(size):
        for col in range(size):
            count = counts[row, col]
            color = "white" if count > threshold else "black"
            ax.text(col, row, str(count), ha="center", va="center", fontsize=8, color=color)
    ax.set_xticks(range(size))
    ax.set_yticks(range(size))
    ax.set_xlabel("预测的数字 (predicted)")
    ax.set_ylabel("真实的数字 (true label)")
    ax.set_title(f"混淆矩阵 (confusion matrix)：{total} 张，正确率 {accuracy:.2%}")
    return fig


def show_prediction(image28: np.ndarray, probabilities: np.ndarray, *, original: Any = None) -> Figure:
    """What the model saw and what it answered: the 28x28 input and a bar chart of the ten probabilities.

    ``probabilities`` is one softmax output, shape ``[10]`` or ``[1, 10]``; the predicted digit's bar is highlighted.
    The title names the answer, or ``不确定 (uncertain): 4 (0.55) 或 9 (0.41)`` by the rule of
    ``prediction.is_uncertain``.
    ``original`` (a PIL image or an array, e.g. the student's photo) is shown first when given.
    """
    image = np.asarray(image28)
    if image.shape != (28, 28):
        raise ValueError(f"expected the model's input image of shape [28, 28], got {list(image.shape)}")
    probs = _probabilities(np.atleast_2d(probabilities), 1)[0]
    predicted = int(probs.argmax())

    panels = [] if original is None else [("原图 (original)", original)]
    panels.append(("模型的输入 (model input) 28x28", image))
    fig = _figure(2.6 * len(panels) + 4.5, 3)
    axes = fig.subplots(1, len(panels) + 1, width_ratios=[1] * len(panels) + [2])
    for ax, (title, picture) in zip(axes, panels):
        _draw_image(ax, picture, title)
    bar_ax = axes[-1]
    colors = [HIGHLIGHT_COLOR if digit == predicted else "lightgray" for digit in range(NUM_CLASSES)]
    bar_ax.bar(range(NUM_CLASSES), probs, color=colors)
    bar_ax.set_xticks(range(NUM_CLASSES))
    bar_ax.set_ylim(0, 1)
    bar_ax.set_xlabel("数字 (digit)")
    bar_ax.set_ylabel("概率 (probability)")
    (first, p1), (second, p2) = top_two(probs)
    if is_uncertain(probs):
        bar_ax.set_title(f"不确定 (uncertain): {first} ({p1:.2f}) 或 {second} ({p2:.2f})")
    else:
        bar_ax.set_title(f"预测 (prediction): {first} ({p1:.2f})")
    return fig


def show_pipeline(steps: Sequence[tuple[str, Any]]) -> Figure:
    """Each preprocessing step of a photo side by side, titled with its name, e.g. ``[("photo", img), ...]``.

    A step's image may be a PIL image, an RGB(A) array, a grayscale array or a boolean mask; uint8 grayscale keeps
    its absolute 0-255 scale, float arrays (such as normalized input) are stretched to their own range.
    """
    if not steps:
        raise ValueError("show_pipeline needs at least one (title, image) step")
    fig = _figure(2.4 * len(steps), 2.8)
    axes = fig.subplots(1, len(steps), squeeze=False)[0]
    for ax, (title, image) in zip(axes, steps):
        _draw_image(ax, image, title)
    return fig


def _figure(width: float, height: float) -> Figure:
    """A new figure with constrained layout that pyplot immediately forgets (see the module docstring).

    Creating it through pyplot matters: importing pyplot is what makes Jupyter's inline backend register the PNG
    display of figures; a bare ``Figure()`` in a kernel that never imported pyplot shows as text only.
    """
    fig = plt.figure(figsize=(width, height), layout="constrained")
    plt.close(fig)
    return fig


def _digit_images(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) == 0:
        raise ValueError(f"expected digit images of shape [N, 28, 28] with N > 0, got {list(images.shape)}")
    return images


def _class_ids(values: np.ndarray, count: int, name: str) -> np.ndarray:
    values = np.asarray(values)
    if values.shape != (count,):
        raise ValueError(f"expected {name} of shape [{count}] (one per image), got {list(values.shape)}")
    return values.astype(np.int64)


def _probabilities(probabilities: np.ndarray, count: int) -> np.ndarray:
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.shape != (count, NUM_CLASSES):
        raise ValueError(f"expected probabilities of shape [{count}, 10], got {list(probabilities.shape)}")
    if np.any(probabilities < 0) or not np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("probabilities must be non-negative and sum to 1 per image; apply softmax to logits first")
    return probabilities


def _grid_count(n: int, available: int) -> int:
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    return min(n, available)


def _image_grid(images: np.ndarray, titles: list[str], colors: list[str], *, cols: int, cell_width: float) -> Figure:
    """Images in rows of ``cols``, one titled panel each; the grid's unused cells are removed."""
    if cols < 1:
        raise ValueError(f"cols must be at least 1, got {cols}")
    cols = min(cols, len(images))
    rows = math.ceil(len(images) / cols)
    fig = _figure(cols * cell_width, rows * 1.7)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, image, title, color in zip(axes, images, titles, colors):
        _draw_image(ax, image, title, color=color)
    for ax in axes[len(images):]:
        ax.remove()
    return fig


def _draw_image(ax: Axes, image: Any, title: str, *, color: str = RIGHT_COLOR) -> None:
    """Draw one image without axes; small images as crisp pixels, uint8 grayscale on the fixed 0-255 scale."""
    if hasattr(image, "convert") and getattr(image, "mode", None) not in ("L", "RGB", "RGBA"):
        image = image.convert("RGB")  # PIL modes such as "1", "P" or "CMYK"
    pixels = np.asarray(image)
    while pixels.ndim > 2 and pixels.shape[0] == 1:  # [1, 28, 28] or [1, 1, 28, 28] model input
        pixels = pixels[0]
    if pixels.dtype == bool:
        pixels = pixels.astype(np.uint8) * 255
    if pixels.ndim == 2:
        scale = {"vmin": 0, "vmax": 255} if pixels.dtype == np.uint8 else {}
        options: dict[str, Any] = {"cmap": "gray", **scale}
    elif pixels.ndim == 3 and pixels.shape[-1] in (3, 4):
        options = {}
    else:
        raise ValueError(f"cannot draw an image of shape {list(pixels.shape)}: expected [H, W] or [H, W, 3|4]")
    interpolation = "nearest" if max(pixels.shape[:2]) <= 64 else None  # None: matplotlib's anti-aliased default
    ax.imshow(pixels, interpolation=interpolation, **options)
    ax.set_title(title, color=color, fontsize=9)
    ax.set_axis_off()


def _epochs(history: Any) -> list[int]:
    epochs = list(history.epoch)
    if not epochs:
        raise ValueError("the history has no epochs yet: train for at least one epoch first")
    return epochs


def _series(history: Any, name: str, length: int) -> list[float]:
    values = list(getattr(history, name))
    if len(values) != length:
        raise ValueError(f"history.{name} has {len(values)} values for {length} epochs")
    return values


def _style_epoch_axes(ax: Axes, title: str, metric: str) -> None:
    """Shared look of the per-epoch panels: whole-number epochs, accuracy in percent, grid and legend."""
    ax.set_title(title)
    ax.set_xlabel("轮 (epoch)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    if metric == "accuracy":
        ax.set_ylabel("正确率 (accuracy)")
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
    else:
        ax.set_ylabel("交叉熵损失 (cross-entropy loss)")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
