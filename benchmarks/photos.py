"""Photo benchmark: how many photographed and drawn digits (`course_utils.photo_sets`) one trained model reads right.

Every picture goes through the same model two ways:

- ``resize-only``, the original tutorial's prediction code: ``im = im.convert('L').resize((28, 28), LANCZOS)``
  (its ``Image.ANTIALIAS``, gone since Pillow 10, is the same filter), then ``1 - im / 255``. Those inputs lie in
  [0, 1] with ink bright, the scale the original's training data had (pixels p/256, nothing normalized), so the
  original model saw them on its training scale. The course's model was trained on ``normalize``'s scale instead, so
  the [0, 1] values are put on it: ``(x - MEAN) / STD``, which is ``normalize(255 - im)``. What is reproduced is the
  preprocessing (the whole picture squeezed to 28x28, inverted); the mismatch of scales is not, since chapter 4 shows
  that one separately.
- ``course_utils``: ``imaging.to_mnist`` then ``preprocess.normalize``, what ``predict`` does. A picture that
  ``to_mnist`` refuses ("no digit found", a ``CourseError``) counts as wrong, and the refusals are counted too.

Accuracy is given per condition, per set and overall. ``python -m benchmarks.photos --checkpoint X`` prints the
table; ``python -m benchmarks.photos --write DIR`` writes the pictures as PNG files, with a contact sheet per set that
shows each picture above its ``to_mnist`` result, for looking at them.
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from .common import print_report, table

PER_CONDITION = 100
QUICK_PER_CONDITION = 3
METHODS = ("resize-only", "course_utils")


def sets() -> dict[str, tuple[Callable[..., list], tuple[str, ...]]]:
    """The two evaluation sets, ``photos`` and ``drawings``: the function that makes each, and its conditions."""
    from course_utils import photo_sets

    return {"photos": (photo_sets.photo_set, photo_sets.PHOTO_CONDITIONS),
            "drawings": (photo_sets.drawing_set, photo_sets.DRAWING_CONDITIONS)}


def resize_only(image: Image.Image) -> np.ndarray:
    """The original tutorial's preprocessing of a picture, on the course model's input scale (module docstring)."""
    from course_utils.preprocess import normalize

    im = image.convert("L").resize((28, 28), Image.Resampling.LANCZOS)
    return normalize(255 - np.asarray(im))


def course_utils_input(image: Image.Image) -> np.ndarray | None:
    """``normalize(to_mnist(image))``, or ``None`` when ``to_mnist`` finds no digit."""
    from course_utils.errors import CourseError
    from course_utils.imaging import to_mnist
    from course_utils.preprocess import normalize

    try:
        return normalize(to_mnist(image))
    except CourseError:
        return None


def run(checkpoint: Path, *, per_condition: int = PER_CONDITION, seed: int = 0) -> dict[str, Any]:
    """Read every picture of both sets with the model in ``checkpoint``, both ways; accuracy per condition."""
    import paddle

    from course_utils.checkpoint import load_model
    from course_utils.mnist import load_mnist
    from course_utils.photo_sets import ALL_CONDITIONS, digit_indices
    from course_utils.preprocess import normalize

    model, meta = load_model(checkpoint)
    started = time.perf_counter()
    result: dict[str, Any] = {"model": meta.get("model"), "checkpoint": str(checkpoint), "seed": seed,
                              "per_condition": per_condition, "sets": {}}

    def predict(batch: np.ndarray) -> np.ndarray:
        with paddle.no_grad():
            return model(paddle.to_tensor(batch)).numpy().argmax(axis=1)

    test = load_mnist(download=False, progress=False).test
    chosen = np.concatenate([digit_indices(per_condition, condition, seed) for condition in ALL_CONDITIONS])
    # The ceiling: the same digits as the MNIST images they were drawn from.
    result["mnist_accuracy"] = float(np.mean(predict(normalize(test.images[chosen])) == test.labels[chosen]))
    for name, (make, conditions) in sets().items():
        # One condition at a time: 50 photos of 700x700 pixels are 75 MB, a whole set ten times that.
        rows = {condition: _measure(make(per_condition, seed, (condition,)), predict) for condition in conditions}
        result["sets"][name] = {"conditions": rows, "overall": _summary(list(rows.values()))}
    totals = [part["overall"] for part in result["sets"].values()]
    result["overall"] = _summary(totals)
    result["seconds"] = time.perf_counter() - started
    return result


def _measure(samples: list, predict: Callable[[np.ndarray], np.ndarray]) -> dict[str, Any]:
    """Counts for the pictures of one condition: right answers of each method, refusals, and the misread pictures."""
    naive = predict(np.concatenate([resize_only(s.image) for s in samples]))
    inputs = [course_utils_input(s.image) for s in samples]
    read = [i for i, x in enumerate(inputs) if x is not None]
    ours = np.full(len(samples), -1)
    if read:
        ours[read] = predict(np.concatenate([inputs[i] for i in read]))
    labels = np.array([s.label for s in samples])
    row: dict[str, Any] = {
        "samples": len(samples),
        "resize-only": int(np.sum(naive == labels)),
        "course_utils": int(np.sum(ours == labels)),
        "refused": len(samples) - len(read),
        # [MNIST test index, label, what course_utils read (-1: refused)]
        "misread": [[s.index, s.label, int(ours[i])] for i, s in enumerate(samples) if ours[i] != s.label],
    }
    for method in METHODS:
        row[f"{method} accuracy"] = row[method] / row["samples"]
    return row


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts summed over ``rows``, with the accuracies."""
    total = {key: sum(row[key] for row in rows) for key in ("samples", *METHODS, "refused")}
    for method in METHODS:
        total[f"{method} accuracy"] = total[method] / total["samples"]
    return total


def worst_condition(result: dict[str, Any]) -> tuple[str, float]:
    """The condition (``set/condition``) that ``course_utils`` reads worst, and its accuracy."""
    rows = {f"{name}/{condition}": row["course_utils accuracy"]
            for name, part in result["sets"].items() for condition, row in part["conditions"].items()}
    worst = min(rows, key=rows.__getitem__)
    return worst, rows[worst]


def render(result: dict[str, Any]) -> str:
    rows = []
    for name, part in result["sets"].items():
        for condition, row in [*part["conditions"].items(), ("all", part["overall"])]:
            rows.append([name, condition, row["samples"], f"{row['resize-only accuracy']:.1%}",
                         f"{row['course_utils accuracy']:.1%}", row["refused"]])
    total = result["overall"]
    rows.append(["both", "all", total["samples"], f"{total['resize-only accuracy']:.1%}",
                 f"{total['course_utils accuracy']:.1%}", total["refused"]])
    title = (f"Photos and drawings ({result['model']}, {result['per_condition']} MNIST test digits per condition, "
             f"seed {result['seed']})")
    footer = (f"\nThe same {total['samples']} digits as MNIST images: {result['mnist_accuracy']:.1%} read right. "
              "resize-only: the original tutorial's resize and inversion; course_utils: to_mnist + normalize.")
    return table(title, ["set", "condition", "pictures", "resize-only", "course_utils", "refused"], rows) + footer


def write(folder: Path, per_condition: int, seed: int = 0) -> list[Path]:
    """Write both sets into ``folder`` as PNG files (``<set>/<condition>-<i>-label<label>.png``), and a contact sheet
    per set (``<set>-sheet.png``): a row per condition, each picture above its ``to_mnist`` result (red: refused)."""
    from course_utils.errors import CourseError
    from course_utils.imaging import to_mnist

    thumb, digit, label_width = 128, 56, 130
    written = []
    for name, (make, _) in sets().items():
        samples = make(per_condition, seed)
        (folder / name).mkdir(parents=True, exist_ok=True)
        conditions = list(dict.fromkeys(s.condition for s in samples))
        sheet = Image.new("RGB", (label_width + per_condition * (thumb + 4), len(conditions) * (thumb + digit + 8)),
                          "white")
        draw = ImageDraw.Draw(sheet)
        for i, sample in enumerate(samples):
            row, col = conditions.index(sample.condition), i % per_condition
            path = folder / name / f"{sample.condition}-{col}-label{sample.label}.png"
            sample.image.save(path)
            written.append(path)
            shown = Image.alpha_composite(Image.new("RGBA", sample.image.size, (190, 200, 190, 255)),
                                          sample.image.convert("RGBA")).convert("RGB")
            shown.thumbnail((thumb, thumb))
            left, top = label_width + col * (thumb + 4), row * (thumb + digit + 8)
            sheet.paste(shown, (left, top))
            try:
                mnist = Image.fromarray(to_mnist(sample.image)).resize((digit, digit), Image.Resampling.NEAREST)
            except CourseError:
                mnist = Image.new("L", (digit, digit), 0)
                draw.rectangle([left, top + thumb + 2, left + digit, top + thumb + 2 + digit], outline="red")
            sheet.paste(mnist, (left, top + thumb + 2))
            draw.text((left + digit + 6, top + thumb + 4), f"label {sample.label}", fill="black")
            if col == 0:
                draw.text((4, top + thumb // 2), sample.condition, fill="black")
        sheet_path = folder / f"{name}-sheet.png"
        sheet.save(sheet_path)
        written.append(sheet_path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.photos", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="the model to measure (a course_utils checkpoint)")
    parser.add_argument("--per-condition", type=int, default=PER_CONDITION, help="pictures per condition")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", metavar="DIR", help="write the pictures and contact sheets to DIR instead")
    args = parser.parse_args(argv)
    if args.write:
        paths = write(Path(args.write), args.per_condition, args.seed)
        print(f"wrote {len(paths)} files to {args.write}")
        return 0
    if not args.checkpoint:
        parser.error("give --checkpoint (or --write DIR)")
    return print_report(lambda: render(run(Path(args.checkpoint), per_condition=args.per_condition, seed=args.seed)))


if __name__ == "__main__":
    raise SystemExit(main())
