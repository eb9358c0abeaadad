"""Inference benchmark: one trained model classifying the test set through each runtime, in this process.

- ``dynamic graph``: ``evaluation.predict_logits``, what the notebooks use;
- ``Paddle Inference``: the ``paddle.jit.save`` export run by ``export.InferenceModel`` (oneDNN, one thread per
  core), what ``evaluate_checkpoint`` and the command line use;
- ``ONNX Runtime``: the same export converted by ``paddle2onnx`` (``export.OnnxModel``), only when both packages
  are installed (``pip install onnxruntime paddle2onnx``; neither is a dependency of the course).

Every path starts from the same uint8 images and includes normalization, so the figures are what a caller gets.
Throughput is the median of several full passes over the 10,000 test images (after one warm-up pass) at batch
1000; latency is the median time of one single-image call. Predictions must agree across paths.
"""
from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .common import table

Forward = Callable[[np.ndarray], np.ndarray]
"""Normalized float32 images [N, 1, 28, 28] -> logits [N, 10]."""

BATCH_SIZE = 1000


def measure(forward: Forward, images: np.ndarray, labels: np.ndarray, passes: int, calls: int) -> dict[str, Any]:
    """Throughput over ``images`` (median of ``passes``), single-image latency (median of ``calls``), accuracy."""
    from course_utils.evaluation import batched_logits

    logits = batched_logits(forward, images, BATCH_SIZE)  # warm-up, and the predictions to compare
    seconds = []
    for _ in range(passes):
        started = time.perf_counter()
        batched_logits(forward, images, BATCH_SIZE)
        seconds.append(time.perf_counter() - started)
    batched_logits(forward, images[:1], 1)
    latencies = []
    for i in range(calls):
        started = time.perf_counter()
        batched_logits(forward, images[i : i + 1], 1)
        latencies.append(time.perf_counter() - started)
    predictions = logits.argmax(axis=1)
    return {
        "images_per_second": len(images) / statistics.median(seconds),
        "pass_seconds": seconds,
        "latency_ms": 1000 * statistics.median(latencies),
        "accuracy": float(np.mean(predictions == labels)),
        "predictions": predictions,
    }


def run(work: Path, checkpoint: Path, *, quick: bool = False) -> dict[str, Any]:
    """Measure every available path on the model in ``checkpoint``."""
    import paddle

    from course_utils.checkpoint import load_model
    from course_utils.export import InferenceModel, OnnxModel, export_checkpoint, onnx_available
    from course_utils.mnist import load_mnist
    from course_utils.settings import usable_cores

    paddle.set_device("cpu")
    test = load_mnist(download=False, progress=False).test
    images, labels = (test.images[:1000], test.labels[:1000]) if quick else (test.images, test.labels)
    passes, calls = (1, 5) if quick else (5, 300)
    threads = usable_cores()
    model, meta = load_model(checkpoint)
    prefix = export_checkpoint(checkpoint, work / "export" / "model")

    def dynamic(batch: np.ndarray) -> np.ndarray:
        with paddle.no_grad():
            return model(paddle.to_tensor(batch)).numpy()

    paths: dict[str, Forward | None] = {
        "dynamic graph": dynamic,
        f"Paddle Inference, oneDNN, {threads} threads": InferenceModel(prefix, threads),
        f"ONNX Runtime, {threads} threads": OnnxModel(prefix, threads) if onnx_available() else None,
    }
    rows: dict[str, dict[str, Any]] = {}
    reference = None
    for name, forward in paths.items():
        if forward is None:
            rows[name] = {"skipped": "onnxruntime or paddle2onnx is not installed"}
            continue
        row = measure(forward, images, labels, passes, calls)
        predictions = row.pop("predictions")
        reference = predictions if reference is None else reference
        row["differing_predictions"] = int(np.sum(predictions != reference))
        rows[name] = row
    measured = {name: row for name, row in rows.items() if "skipped" not in row}
    fastest = max(measured, key=lambda name: measured[name]["images_per_second"])
    return {
        "model": meta.get("model"),
        "images": len(images),
        "batch_size": BATCH_SIZE,
        "threads": threads,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "rows": rows,
        "fastest": fastest,
        "speedup_over_dynamic": measured[fastest]["images_per_second"] / rows["dynamic graph"]["images_per_second"],
        "identical_accuracy": len({row["accuracy"] for row in measured.values()}) == 1,
    }


def render(result: dict[str, Any]) -> str:
    dynamic = result["rows"]["dynamic graph"]["images_per_second"]
    rows = []
    for name, r in result["rows"].items():
        if "skipped" in r:
            rows.append([name, None, None, None, None, f"skipped: {r['skipped']}"])
            continue
        rows.append([name, f"{r['images_per_second']:.0f}", f"{r['images_per_second'] / dynamic:.1f}x",
                     f"{r['latency_ms']:.2f}", f"{r['accuracy']:.2%}", r["differing_predictions"]])
    header = ["path", "images/s", "vs dynamic", "1-image ms", "accuracy", "predictions differing"]
    title = f"Inference ({result['model']}, {result['images']} test images, batch {result['batch_size']})"
    return table(title, header, rows)
