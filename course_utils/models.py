"""The course's networks, from softmax regression to a batch-norm CNN, and a registry to build them by name.

Every model takes normalized images ``[N, 1, 28, 28]`` and returns **logits** ``[N, 10]``: raw scores, no softmax.
That is Paddle 2+'s convention: ``paddle.nn.functional.cross_entropy`` applies softmax itself (``use_softmax=True``).
The original 1.x tutorial ended its network in softmax and was right to, because 1.x's
``fluid.layers.cross_entropy`` took probabilities; a *literal* port of that network to ``F.cross_entropy`` applies
softmax twice (the loss then cannot fall below about 1.46 and gradients shrink: chapter 3 shows it). Call
``paddle.nn.functional.softmax`` on the logits only when you want probabilities to look at.
"""
from __future__ import annotations

from typing import Callable

import paddle
from paddle import nn

from .errors import CourseError


class SoftmaxRegression(nn.Layer):
    """A single linear layer on the 784 pixels: multinomial logistic regression (92.5% after one epoch: chapter 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(28 * 28, 10)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.fc(self.flatten(x))


class MLP(nn.Layer):
    """A multilayer perceptron: two hidden layers with ReLU between linear maps (96.7% after one epoch: chapter 2)."""

    def __init__(self, hidden: tuple[int, int] = (256, 128)) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(28 * 28, hidden[0]),
            nn.ReLU(),
            nn.Linear(hidden[0], hidden[1]),
            nn.ReLU(),
            nn.Linear(hidden[1], 10),
        )

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.net(x)


class CourseCNN(nn.Layer):
    """The original AI Studio course's CNN, written with the current API.

    Two 5x5 convolutions with 20 filters (padding 2 keeps 28x28), each followed by ReLU and 2x2 max pooling:
    28 -> 14 -> 7, and the final linear layer maps the flattened feature map to 10 scores. The original's last layer
    applied softmax for 1.x's probability-taking loss; this one returns logits, as Paddle 2+ losses expect.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2D(1, 20, kernel_size=5, padding=2)
        self.pool1 = nn.MaxPool2D(kernel_size=2, stride=2)
        self.conv2 = nn.Conv2D(20, 20, kernel_size=5, padding=2)
        self.pool2 = nn.MaxPool2D(kernel_size=2, stride=2)
        self.fc = nn.Linear(980, 10)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        x = self.pool1(nn.functional.relu(self.conv1(x)))
        x = self.pool2(nn.functional.relu(self.conv2(x)))
        return self.fc(paddle.flatten(x, start_axis=1))


class LeNet5(nn.Layer):
    """LeNet-5 (LeCun et al., 1998) with ReLU and max pooling in place of its original squashing and subsampling."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2D(1, 6, kernel_size=5, padding=2),  # 6 x 28 x 28
            nn.ReLU(),
            nn.MaxPool2D(2, 2),  # 6 x 14 x 14
            nn.Conv2D(6, 16, kernel_size=5),  # 16 x 10 x 10
            nn.ReLU(),
            nn.MaxPool2D(2, 2),  # 16 x 5 x 5
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, 10),
        )

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.classifier(self.features(x))


class SmallCNN(nn.Layer):
    """The course's default: a small CNN with batch normalization and dropout (99%+ after one epoch).

    A 5x5 convolution with 12 filters, then a 3x3 one with 32, each followed by max pool -> batch norm -> ReLU
    (28 -> 24 -> 12 -> 10 -> 5), then a hidden linear layer with batch norm and dropout. Batch norm keeps activations
    well scaled, so a large learning rate trains fast. The layers that batch norm follows have no bias
    (``bias_attr=False``): batch norm subtracts the mean of each channel and adds its own learned shift, so a bias
    there would be cancelled, and on a CPU its gradient made each training step about a third slower.

    On a CPU most of a step is the first convolution and its pooling, whose outputs are the largest (12 x 24 x 24 per
    image), so the channel counts are what one epoch needs: 16 and 32, or 24 and 48, reached the same test accuracy
    after one epoch (99.1% on average over three to five seeds) at 1.2x and 2.1x the time per step. ``wide_cnn``
    (32 and 64) pays off over more epochs.
    """

    def __init__(self, channels: tuple[int, int] = (12, 32), hidden: int = 256, dropout: float = 0.25) -> None:
        super().__init__()
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2D(1, c1, kernel_size=5, bias_attr=False),
            nn.MaxPool2D(2, 2),
            nn.BatchNorm2D(c1),
            nn.ReLU(),
            nn.Conv2D(c1, c2, kernel_size=3, bias_attr=False),
            nn.MaxPool2D(2, 2),
            nn.BatchNorm2D(c2),
            nn.ReLU(),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c2 * 5 * 5, hidden, bias_attr=False),
            nn.BatchNorm1D(hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, 10),
        )

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.classifier(self.features(x))


MODELS: dict[str, Callable[[], nn.Layer]] = {
    "softmax": SoftmaxRegression,
    "mlp": MLP,
    "course_cnn": CourseCNN,
    "lenet5": LeNet5,
    "small_cnn": SmallCNN,
    "wide_cnn": lambda: SmallCNN(channels=(32, 64)),
}
"""Model names and their constructors; ``small_cnn`` is the default of the command line."""

DEFAULT_MODEL = "small_cnn"


def build_model(name: str = DEFAULT_MODEL) -> nn.Layer:
    """A freshly initialised model from the registry by name, e.g. ``build_model("lenet5")``."""
    if name not in MODELS:
        raise CourseError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}")
    return MODELS[name]()


def registry_name(model: nn.Layer) -> str | None:
    """The registry name of ``model``'s architecture (same class and parameter shapes), or None for a custom model.

    Checkpoints record it so that ``checkpoint.load_model`` can rebuild the right network.
    """
    shapes = {key: list(value.shape) for key, value in model.state_dict().items()}
    for name, factory in MODELS.items():
        candidate = factory()
        if type(candidate) is type(model) and shapes == {k: list(v.shape) for k, v in candidate.state_dict().items()}:
            return name
    return None
