"""Inference benchmark: one trained model classifying the test set through each runtime, in this process.

- ``dynamic graph``: ``evaluation.predict_logits``, what the notebooks use;
- ``Paddle Inference``: the ``paddle.jit.save`` export run by ``export.InferenceModel`` (oneDNN, one thread per
  core), what ``evaluate_checkpoint`` and the command line use;
- ``ONNX Runtime``: the same export converted by ``paddle2onnx`` (``export.OnnxModel``), only when both packages
  are installed (``pip install onnxruntime paddle2onnx``; neither is a dependency of the course).

Every path starts from the same uint8 images and includes normalization, so the figures are what a caller gets.
Throughput is the median of several full passes over the 10,000 test images (after one warm-up pass) at batch
1000; latency is the median time of one single-image call. Predictions must agree across paths.

Cold start (``cold_predict``): the wall time of ``python -m course_utils predict work/example_0.jpg``, each run a
fresh interpreter, on the fast path (the checkpoint's current ONNX export, no Paddle) and on the Paddle path
(``--backend dynamic``), alternating so that both see the same load. One more fast run under ``-X importtime``
says whether Paddle was imported and what importing ``course_utils.imaging`` cost there.
"""
from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .common import child_env, run_child, table

Forward = Callable[[np.ndarray], np.ndarray]
"""Normalized float32 images [N, 1, 28, 28] -> logits [N, 10]."""

BATCH_SIZE = 1000
COLD_RUNS = 5
"""Cold ``predict`` runs per path (each a new process; the median is reported)."""


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


def cold_predict(work: Path, checkpoint: Path, runs: int) -> dict[str, Any]:
    """Median wall seconds of a cold ``predict`` on the fast path and on the Paddle path, and whether they agree.

    The checkpoint is copied into ``work`` and exported there by a first ``predict`` (what a student's first call
    does), so a checkpoint given with ``--checkpoint`` gets no files beside it.
    """
    import shutil
    import subprocess
    import sys

    from course_utils.settings import PROJECT_ROOT

    copy = work / "cold" / "model.pdckpt"
    copy.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(checkpoint, copy)
    command = [sys.executable, "-m", "course_utils", "predict", str(PROJECT_ROOT / "work" / "example_0.jpg"),
               "--checkpoint", str(copy), "--json"]
    env = child_env()
    _, first = run_child(command, env)  # the first call exports beside the copy, for the calls after it
    paths = {"fast": command, "paddle": [*command, "--backend", "dynamic"]}
    seconds: dict[str, list[float]] = {name: [] for name in paths}
    answers = {}
    for _ in range(runs):
        for name, args in paths.items():
            answers[name], wall = run_child(args, env)
            seconds[name].append(wall)
    traced = subprocess.run([sys.executable, "-X", "importtime", *command[1:]], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, check=True)
    imported = {}  # module -> cumulative microseconds, from lines "import time: self | cumulative | name"
    for line in traced.stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) == 3 and fields[1].strip().isdigit():
            imported[fields[2].strip()] = int(fields[1])
    difference = np.abs(np.subtract(answers["fast"]["probabilities"], answers["paddle"]["probabilities"])).max()
    return {
        "runs": runs,
        "first_call_seconds": first,
        "seconds": seconds,
        "median_seconds": {name: statistics.median(values) for name, values in seconds.items()},
        "same_answer": answers["fast"]["digit"] == answers["paddle"]["digit"] and bool(difference < 1e-4),
        "fast_path_imports_paddle": "paddle" in imported,
        "imaging_import_ms": imported.get("course_utils.imaging", 0) / 1000,
        "heaviest_imports_ms": {name: us / 1000 for name, us in sorted(
            ((n, us) for n, us in imported.items() if "." not in n), key=lambda item: -item[1])[:5]},
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
        "cold_predict": cold_predict(work, checkpoint, 1 if quick else COLD_RUNS),
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
    cold = result["cold_predict"]
    names = {"fast": "current ONNX export, no Paddle", "paddle": "Paddle dynamic graph (--backend dynamic)"}
    cold_rows = [[names[name], f"{cold['median_seconds'][name]:.2f}", " ".join(f"{s:.2f}" for s in seconds)]
                 for name, seconds in cold["seconds"].items()]
    cold_title = (f"Cold `predict` of one photo, {cold['runs']} runs per path, alternating (same answer: "
                  f"{'yes' if cold['same_answer'] else 'NO'}; fast path imports Paddle: "
                  f"{'YES' if cold['fast_path_imports_paddle'] else 'no'}; importing imaging: "
                  f"{cold['imaging_import_ms']:.0f} ms; the first call, which exports: "
                  f"{cold['first_call_seconds']:.1f} s)")
    return table(title, header, rows) + "\n\n" + table(cold_title, ["path", "median s", "runs s"], cold_rows)
