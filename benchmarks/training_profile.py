"""Where the default ``train`` spends its time: fixed costs and the parts of one optimizer step.

Run under Paddle's launcher as ``train`` runs itself (``python -m paddle.distributed.launch --nproc_per_node N
benchmarks/training_profile.py``; ``--nproc_per_node 1`` or plain ``python`` for one process). Rank 0 prints one
JSON line:

- ``fixed_seconds``: launcher start (from ``PROFILE_STARTED``, the parent's clock before it started the launcher, to
  this script's first line), ``import paddle``, loading MNIST, ``init_parallel_env``, the validation pass
  (``training.validate``: dynamic graph, shared by the processes), saving the checkpoint, the export and the test
  evaluation by Paddle Inference, as ``train`` does them;
- ``step_ms``: per optimizer step at the default batch size (medians over ``--steps`` steps after a warm-up): taking the
  batch, forward (with the loss), backward, the all-reduce (backward with gradient synchronisation minus backward
  without: ``DataParallel.no_sync``), the optimizer and schedule step, and the per-step bookkeeping of
  ``train_model`` (``float(loss)``, the step's learning rate, the progress bar).

On a CPU every Paddle operation runs to completion before it returns, so timing around each call is exact.
"""
from __future__ import annotations

import time

_FIRST_LINE = time.time()

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402


def _median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="measured steps (after 5 warm-up steps)")
    parser.add_argument("--model", default=None, help="model to profile (default: train's default)")
    args = parser.parse_args(argv)

    fixed: dict[str, float] = {}
    if "PROFILE_STARTED" in os.environ:
        fixed["launcher_start"] = _FIRST_LINE - float(os.environ["PROFILE_STARTED"])
    clock = time.perf_counter()
    import paddle
    import paddle.nn.functional as F

    fixed["import_paddle"] = time.perf_counter() - clock

    from tqdm.auto import tqdm

    from course_utils.batching import ArrayLoader
    from course_utils.checkpoint import save_checkpoint
    from course_utils.evaluation import evaluate_checkpoint
    from course_utils.mnist import load_mnist
    from course_utils.models import DEFAULT_MODEL, build_model
    from course_utils.settings import fast_mode
    from course_utils.training import (
        FAST_STEPS, FAST_VAL_IMAGES, TrainConfig, make_optimizer, select_device, set_seed, validate,
    )

    clock = time.perf_counter()
    data = load_mnist(progress=False)
    fixed["load_mnist"] = time.perf_counter() - clock
    select_device()
    world_size, rank = paddle.distributed.get_world_size(), paddle.distributed.get_rank()
    if world_size > 1:
        clock = time.perf_counter()
        paddle.distributed.init_parallel_env()
        fixed["init_parallel_env"] = time.perf_counter() - clock

    config = TrainConfig()
    set_seed(config.seed)
    name = args.model or DEFAULT_MODEL
    model = build_model(name)
    loader = ArrayLoader(data.train, config.batch_size // world_size, shuffle=True, seed=0, rank=rank,
                         world_size=world_size)
    optimizer, scheduler = make_optimizer(config, model.parameters(), len(loader))
    network = paddle.DataParallel(model) if world_size > 1 else model
    network.train()
    bar = tqdm(total=len(loader), file=io.StringIO(), mininterval=0)  # a bar that draws every step, off screen
    parts: dict[str, list[float]] = {k: [] for k in ("data", "forward", "backward", "optimizer", "bookkeeping")}
    backward_alone: list[float] = []
    batches = iter(loader)
    steps = min(args.steps, FAST_STEPS) if fast_mode() else args.steps
    for step in range(5 + 2 * steps):
        t0 = time.perf_counter()
        images, labels = next(batches)
        t1 = time.perf_counter()
        logits = network(images)
        loss = F.cross_entropy(logits, labels)
        t2 = time.perf_counter()
        synchronised = world_size == 1 or step % 2 == 0
        if synchronised:
            loss.backward()
        else:
            with network.no_sync():
                loss.backward()
        t3 = time.perf_counter()
        optimizer.step()
        optimizer.clear_grad()
        scheduler.step()
        t4 = time.perf_counter()
        float(loss)
        float(optimizer.get_lr())
        bar.update()
        bar.set_postfix(loss=f"{float(loss):.4f}")
        t5 = time.perf_counter()
        if step < 5:
            continue
        if synchronised:
            for key, seconds in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                parts[key].append(seconds)
        else:
            backward_alone.append(t3 - t2)
    bar.close()
    step_ms = {key: _median_ms(values) for key, values in parts.items()}
    if backward_alone:  # the all-reduce runs inside backward (DataParallel's gradient hooks)
        step_ms["backward"] = _median_ms(backward_alone)
        step_ms["all_reduce"] = round(_median_ms(parts["backward"]) - step_ms["backward"], 2)
    step_ms["total"] = round(sum(step_ms.values()), 2)

    val, test = data.val, data.test
    if fast_mode():
        val, test = (type(s)(s.images[:FAST_VAL_IMAGES], s.labels[:FAST_VAL_IMAGES]) for s in (val, test))
    clock = time.perf_counter()
    validate(model, val, rank, world_size)
    fixed["validation"] = time.perf_counter() - clock
    if rank != 0:
        return 0
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = Path(folder) / f"{name}.pdckpt"
        clock = time.perf_counter()
        save_checkpoint(checkpoint, model, optimizer, model=name)
        fixed["save_checkpoint"] = time.perf_counter() - clock
        from course_utils.export import export_checkpoint

        clock = time.perf_counter()
        export_checkpoint(checkpoint, reuse=True)
        fixed["export"] = time.perf_counter() - clock
        clock = time.perf_counter()
        evaluation = evaluate_checkpoint(checkpoint, test, backend="inference")  # what train uses (cli._evaluate_trained)
        fixed["test_evaluation"] = time.perf_counter() - clock
    report = {
        "model": name,
        "processes": world_size,
        "batch_size": config.batch_size,
        "steps_per_epoch": len(loader),
        "step_ms": step_ms,
        "fixed_seconds": {key: round(value, 2) for key, value in fixed.items()},
        "test_backend": evaluation.backend,
    }
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script by the launcher
    raise SystemExit(main())
