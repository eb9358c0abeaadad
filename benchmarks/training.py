"""Training benchmark: one epoch of the original recipe against the course's ``train`` command, on 1 and 2 processes.

Every run is a separate process, timed from start to exit as a student would wait for it:

- the original recipe (``original_recipe``): JSON parse, then one epoch (its epoch time excludes the parse);
- ``python -m course_utils train --procs 1`` with its other defaults (small_cnn, Adam, one-cycle, 1 epoch),
  including start-up, data loading, the test evaluation and the export it writes;
- ``train --procs 2``, which starts the same command under Paddle's launcher (``paddle.distributed.launch
  --nproc_per_node 2``) in two processes, as ``--procs auto`` does on a 2-core CPU; its time includes the launcher.

A profile (``training_profile``, run the way ``train`` runs itself) splits the default's time into fixed costs and
the parts of one step, so that what to make faster is measured rather than guessed.

"Seconds to 99%" is the wall time of the first run whose test accuracy is at least 99.0%: accuracy is measured at the
end of a run (the one-cycle schedule only reaches its best accuracy at its end), so a run that ends below 99% has no
such time.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from .common import child_env, run_child, table

TARGET_ACCURACY = 0.99


def run(work: Path, json_file: Path, *, processes: tuple[int, ...] = (1, 2), quick: bool = False) -> dict[str, Any]:
    """Run the original recipe for one epoch and the course's default ``train`` on each number of ``processes``.

    ``quick`` (a smoke test): the original stops after 20 steps and the course runs in fast mode.
    """
    rows: dict[str, dict[str, Any]] = {}
    original_args = [sys.executable, "-m", "benchmarks.original_recipe", "--data", str(json_file)]
    report, wall = run_child(original_args + (["--max-steps", "20"] if quick else []), child_env())
    epoch = report["epochs"][0]
    rows["original recipe, 1 epoch"] = {
        "processes": 1,
        "wall_seconds": wall,
        "train_seconds": epoch["seconds"],
        "parse_seconds": report["parse_seconds"],
        "test_accuracy": epoch["test_accuracy"],
        "steps": epoch["steps"],
    }
    env = child_env(COURSE_FAST="1" if quick else None, COURSE_WORK_DIR=str(work / "course-work"))
    for count in processes:
        checkpoint = work / f"small_cnn-{count}p.pdckpt"
        command = [sys.executable, "-m", "course_utils", "train", "--quiet", "--json", "--checkpoint", str(checkpoint),
                   "--procs", str(count)]
        report, wall = run_child(command, env)
        rows[f"course_utils train, {count} process{'es' if count > 1 else ''}"] = {
            "processes": count,
            "wall_seconds": wall,
            "train_seconds": report["train_seconds"],
            "test_accuracy": report["test_accuracy"],
            "checkpoint": str(checkpoint),
        }
    profiles = [profile(work, count, env) for count in processes]
    original = rows["original recipe, 1 epoch"]
    for row in rows.values():
        row["seconds_to_99"] = row["wall_seconds"] if row["test_accuracy"] >= TARGET_ACCURACY else None
        row["vs_original_epoch"] = row["wall_seconds"] / original["train_seconds"]
        row["vs_original_run"] = row["wall_seconds"] / original["wall_seconds"]
    return {"rows": rows, "default_processes": default_processes(), "profiles": profiles}


def profile(work: Path, count: int, env: dict[str, str]) -> dict[str, Any]:
    """The default ``train``'s profile on ``count`` processes (``training_profile``), started as ``train`` starts it."""
    script = str(Path(__file__).with_name("training_profile.py"))
    if count == 1:
        command = [sys.executable, script]
    else:
        command = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", str(count),
                   "--log_dir", str(work / f"profile-{count}p"), script]
    report, _ = run_child(command, {**env, "PROFILE_STARTED": repr(time.time())})
    return report


def default_processes() -> int:
    """How many processes ``python -m course_utils train`` starts on this machine when ``--procs`` is not given."""
    from course_utils.tools.cli import DEFAULT_PROCS, training_processes
    from course_utils.training import TrainConfig

    return training_processes(DEFAULT_PROCS, TrainConfig().batch_size)


def render_profiles(profiles: list[dict[str, Any]]) -> str:
    """The profiles side by side: per-step parts in ms, then fixed costs in seconds."""
    columns = [f"{p['processes']} proc." for p in profiles]
    steps = [key for key in dict.fromkeys(key for p in profiles for key in p["step_ms"]) if key != "total"]
    steps.append("total")
    fixed = list(dict.fromkeys(key for p in profiles for key in p["fixed_seconds"]))
    rows = [[f"step: {key} (ms)", *[p["step_ms"].get(key) for p in profiles]] for key in steps]
    rows += [[f"fixed: {key} (s)", *[p["fixed_seconds"].get(key) for p in profiles]] for key in fixed]
    first = profiles[0]
    title = (f"Profile of the default train ({first['model']}, batch {first['batch_size']}, "
             f"{first['steps_per_epoch']} steps per epoch per process; per step: medians; per process)")
    return table(title, ["part", *columns], rows)


def render(result: dict[str, Any]) -> str:
    rows = [
        [name, r["processes"], f"{r['wall_seconds']:.1f}", f"{r['train_seconds']:.1f}", f"{r['test_accuracy']:.2%}",
         None if r["seconds_to_99"] is None else f"{r['seconds_to_99']:.1f}", f"{r['vs_original_epoch']:.2f}x",
         f"{r['vs_original_run']:.2f}x"]
        for name, r in result["rows"].items()
    ]
    header = ["run", "procs", "wall s", "train s", "test acc", "s to 99%", "wall/orig. epoch", "wall/orig. run"]
    title = "Training (wall: the whole command; train: the epoch loop; original run: its parse, epoch and test)"
    parts = [table(title, header, rows)]
    if result.get("profiles"):
        parts.append(render_profiles(result["profiles"]))
    return "\n\n".join(parts)
