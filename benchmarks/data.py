"""Data benchmark: the original's JSON + per-sample batches against course_utils' arrays, in separate processes.

Each way runs in a fresh Python process (``python -m benchmarks.data WAY ...``) so that its peak memory is its own.
Both import the same libraries (Paddle, NumPy, course_utils) before the clock starts, and both hand out batches of
Paddle tensors, so the difference is the data path alone:

- ``original``: ``json`` parses ``mnist.json.gz``, then batches are built sample by sample (``original_recipe``);
- ``course``: ``load_mnist`` (the IDX files, verified, on the first run; the ``.npz`` cache afterwards), then
  ``ArrayLoader`` slices batches from one normalized array.

Reported per way: seconds to the first batch, seconds for a full pass over the training split, and the peak memory
of the process, both in total and above what it held once the libraries were imported (the data's own share).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .common import child_env, peak_rss_mb, rss_mb, run_child, table

BATCH_SIZE = 100
"""The original's batch size, used for both ways."""


def measure(way: str, source: str, batch_size: int = BATCH_SIZE, limit: int | None = None) -> dict[str, Any]:
    """Time one way in this process: first batch, full pass, memory.

    ``source`` is the JSON file (original) or the MNIST folder (course); ``limit`` keeps only the first training
    images on the course's side, to match a small JSON file in a quick run.
    """
    import paddle

    from course_utils.batching import ArrayLoader
    from course_utils.mnist import load_mnist

    from .original_recipe import load_data, parse_json

    paddle.set_device("cpu")
    baseline = rss_mb()
    started = time.perf_counter()
    if way == "original":
        reader = load_data(parse_json(source), "train", batch_size)
        batches: Iterable = ((paddle.to_tensor(x), paddle.to_tensor(y)) for x, y in reader())  # as its loop did
    else:
        train = load_mnist(source, download=False, progress=False).train
        if limit is not None:
            train = type(train)(train.images[:limit], train.labels[:limit])
        batches = ArrayLoader(train, batch_size, shuffle=True, seed=0)  # yields tensors itself
    first = None
    images = label_sum = 0
    for x, y in batches:
        if first is None:
            first = time.perf_counter() - started
        images += int(x.shape[0])
        label_sum += int(y.sum())
    return {
        "first_batch_seconds": first,
        "full_pass_seconds": time.perf_counter() - started,
        "images": images,
        "label_sum": label_sum,
        "peak_mb": peak_rss_mb(),
        "baseline_mb": baseline,
        "data_peak_mb": peak_rss_mb() - baseline,
    }


def run(work: Path, json_file: Path, idx_dir: Path, limit: int | None = None) -> dict[str, Any]:
    """Measure the three cases, each in its own process: original, course cold (IDX, no cache), course warm (cache).

    ``limit``: the number of training images in ``json_file`` when it is a small one (quick runs).
    """
    cache_home = Path(tempfile.mkdtemp(prefix="data-", dir=work))  # an empty work/ for course_utils: no cache yet
    env = child_env(COURSE_WORK_DIR=str(cache_home))
    cases = [
        ("original: json + per-sample batches", "original", json_file),
        ("course_utils: IDX files -> arrays", "course", idx_dir),
        ("course_utils: .npz cache -> arrays", "course", idx_dir),
    ]
    rows = {}
    for name, way, source in cases:
        extra = ["--limit", str(limit)] if limit is not None and way == "course" else []
        report, _ = run_child([sys.executable, "-m", "benchmarks.data", way, str(source), *extra], env)
        rows[name] = report
    original, cold, warm = rows.values()
    if len({(r["images"], r["label_sum"]) for r in rows.values()}) != 1:
        raise RuntimeError(f"the data paths did not read the same training set: {rows}")
    best = min(cold["first_batch_seconds"], warm["first_batch_seconds"])
    return {
        "batch_size": BATCH_SIZE,
        "rows": rows,
        "first_batch_speedup_cold": original["first_batch_seconds"] / cold["first_batch_seconds"],
        "first_batch_speedup_warm": original["first_batch_seconds"] / best,
        "data_memory_ratio": original["data_peak_mb"] / max(cold["data_peak_mb"], warm["data_peak_mb"]),
        "total_memory_ratio": original["peak_mb"] / max(cold["peak_mb"], warm["peak_mb"]),
    }


def render(result: dict[str, Any]) -> str:
    rows = [
        [name, f"{r['first_batch_seconds']:.3f}", f"{r['full_pass_seconds']:.2f}", f"{r['peak_mb']:.0f}",
         f"{r['data_peak_mb']:.0f}"]
        for name, r in result["rows"].items()
    ]
    header = ["data path", "first batch s", "full pass s", "peak MB", "data MB"]
    return table(f"Data (training split, batches of {result['batch_size']})", header, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="measure one data path in this process (used by benchmarks)")
    parser.add_argument("way", choices=["original", "course"])
    parser.add_argument("source", help="mnist.json.gz for original, the MNIST folder for course")
    parser.add_argument("--limit", type=int, help="course: use only the first LIMIT training images")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.way, args.source, limit=args.limit)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
