"""The command line: ``python -m course_utils download | train | evaluate | predict | export | sheet | notebooks |
grade | check-submission | release | site``.

Every subcommand has ``--help``. Problems a user can fix (a missing file, a corrupt download, a wrong checkpoint)
print one line starting with ``error:`` on stderr and exit non-zero, never a traceback.

Building the parser imports nothing beyond the standard library, and each command imports what it runs: so
``predict`` on a checkpoint with a current ONNX export never imports Paddle (see ``prediction.CheckpointPredictor``),
and a missing Paddle is reported by the command that needs it, in one line (``paddle_check``). The option values
that other modules define are therefore listed here too (a test keeps them equal).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .. import __version__, quiet_paddle_import, settings
from ..errors import CourseError

if TYPE_CHECKING:
    from ..evaluation import CheckpointEvaluation, EnsembleEvaluation
    from ..mnist import Split


DEFAULT_MODEL = "small_cnn"
"""The network ``train`` builds unless told (``models.DEFAULT_MODEL``), and so the default checkpoint's name."""
MODEL_NAMES = ("softmax", "mlp", "course_cnn", "lenet5", "small_cnn", "wide_cnn")
"""``train --model``'s choices: the names of ``models.MODELS``."""
EVALUATE_BACKENDS = ("auto", "onnxruntime", "inference", "dynamic")
"""``evaluate --backend``'s choices: ``evaluation.BACKENDS``."""
PREDICT_BACKENDS = ("auto", "dynamic")
"""``predict --backend``'s choices: ``prediction.PREDICT_BACKENDS``."""
RECIPE_NAMES = ("best",)
"""``train --recipe``'s choices: ``training.RECIPES``."""


def _default_checkpoint(model: str = DEFAULT_MODEL) -> Path:
    return settings.checkpoint_dir() / f"{model}.pdckpt"


def _checkpoint(args: argparse.Namespace) -> Path:
    """The ``--checkpoint`` given, else the default file of the command's model."""
    return Path(args.checkpoint) if args.checkpoint else _default_checkpoint(getattr(args, "model", DEFAULT_MODEL))


def _print_json(obj: object) -> None:
    print(json.dumps(obj, ensure_ascii=False))


def cmd_download(args: argparse.Namespace) -> int:
    from ..mnist import download_mnist, find_mnist

    found = None if args.force else find_mnist(args.data_dir)
    if found is not None:
        print(f"MNIST already here: {found}")
        return 0
    print(f"MNIST downloaded and verified: {download_mnist(args.dest, progress=not args.quiet)}")
    return 0


MAX_AUTO_PROCESSES = 4
"""``train --procs auto`` starts at most this many processes."""
DEFAULT_PROCS = "1"
"""``train``'s processes when ``--procs`` is not given. A second process costs a few seconds to start (the launcher,
another ``import paddle``, connecting the two) and gradients are exchanged at every step; for one epoch of the default
model that eats what it saves, so one process is as fast and steadier (benchmarks/: the training part)."""
RECIPE_PROCS = "auto"
"""``train --recipe``'s processes per member when ``--procs`` is not given: its runs are long enough for one process per
core to pay off."""


def training_processes(procs: str, batch_size: int) -> int:
    """How many processes ``train --procs`` means: a number, or ``auto``.

    ``auto`` is one process per usable CPU core (up to ``MAX_AUTO_PROCESSES``, and a number that divides the batch
    size), because Paddle runs one CPU thread per process. It is 1 on a GPU, in fast mode (where start-up would cost
    more than it saves), inside a run that Paddle's launcher already started, and outside Linux (Paddle's CPU
    data-parallel training was only tried on Linux).
    """
    import paddle

    if procs != "auto":
        try:
            count = int(procs)
        except ValueError:
            count = 0
        if count < 1:
            raise CourseError(f"--procs must be a positive number or auto, got {procs!r}")
        return count
    launched = paddle.distributed.get_world_size() > 1
    if launched or settings.fast_mode() or paddle.device.cuda.device_count() > 0 or sys.platform != "linux":
        return 1
    return max(n for n in range(1, min(settings.usable_cores(), MAX_AUTO_PROCESSES) + 1) if batch_size % n == 0)


def _launch(argv: list[str], procs: int) -> int:
    """Run this same ``train`` command data-parallel under Paddle's launcher, ``procs`` processes; return its exit code.

    Each process's output goes to ``work/logs/train-<time>/workerlog.<rank>``; rank 0's is also shown here.
    """
    import subprocess
    import time

    logs = settings.work_dir() / "logs" / time.strftime("train-%Y%m%d-%H%M%S")
    main_file = Path(__file__).parent.parent / "__main__.py"  # course_utils/__main__.py: python -m course_utils
    command = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", str(procs),
               "--log_dir", str(logs), "--log_level", "WARNING", str(main_file), *argv, "--procs", "1"]
    print(f"{procs} 个进程 processes (paddle.distributed.launch); logs: {logs}", flush=True)
    return subprocess.call(command, env=quiet_paddle_import(dict(os.environ)))


RECIPE_SETS = ("model", "epochs", "batch_size", "optimizer", "lr", "schedule", "momentum", "beta1", "beta2", "shift",
               "augment")
"""The ``train`` options a ``--recipe`` fixes (the others, e.g. ``--seed`` and ``--procs``, still apply)."""


def _train_recipe(args: argparse.Namespace) -> int:
    """``train --recipe``: train each member as its own ``train`` command, then evaluate them together on the test set.

    Member ``i`` (from 1) gets seed ``--seed + i - 1`` and the checkpoint ``<checkpoint stem>-<i>.pdckpt``.
    """
    import time

    from ..mnist import load_mnist
    from ..training import RECIPES

    recipe = RECIPES[args.recipe]
    defaults = vars(build_parser().parse_args(["train"]))
    changed = [f"--{name.replace('_', '-')}" for name in RECIPE_SETS if getattr(args, name) != defaults[name]]
    if changed or args.resume:
        given = ", ".join(changed + (["--resume"] if args.resume else []))
        raise CourseError(f"--recipe {args.recipe} sets the training options itself; leave out {given}")
    base = Path(args.checkpoint) if args.checkpoint else settings.checkpoint_dir() / f"{args.recipe}.pdckpt"
    checkpoints = [base.with_name(f"{base.stem}-{i}{base.suffix or '.pdckpt'}") for i in range(1, recipe.members + 1)]
    config = recipe.config
    started = time.perf_counter()
    for i, checkpoint in enumerate(checkpoints):
        print(f"[{args.recipe} {i + 1}/{recipe.members}] {recipe.model}, seed {args.seed + i}", flush=True)
        member = ["train", "--model", recipe.model, "--epochs", str(config.epochs), "--batch-size",
                  str(config.batch_size), "--optimizer", config.optimizer, "--lr", str(config.learning_rate),
                  "--schedule", config.schedule, "--momentum", str(config.momentum), "--beta1", str(config.beta1),
                  "--beta2", str(config.beta2), "--shift", str(config.shift), "--seed", str(args.seed + i),
                  "--checkpoint", str(checkpoint), "--procs", args.procs or RECIPE_PROCS]
        member += ["--augment"] if config.augment else []
        member += (["--data-dir", args.data_dir] if args.data_dir else []) + (["--quiet"] if args.quiet else [])
        code = main(member)
        if code:
            return code
    data = load_mnist(args.data_dir, progress=False)
    ensemble = _evaluate_trained(checkpoints, data.test)
    minutes = (time.perf_counter() - started) / 60
    for checkpoint, evaluation in zip(checkpoints, ensemble.members):
        print(f"{checkpoint}: test accuracy {evaluation.result.accuracy:.2%}")
    print(f"ensemble of {recipe.members}: test accuracy {ensemble.result.accuracy:.2%} ({minutes:.1f} min)")
    if args.json:
        _print_json(
            {
                "recipe": args.recipe,
                "test_accuracy": ensemble.result.accuracy,
                "member_test_accuracy": [m.result.accuracy for m in ensemble.members],
                "minutes": round(minutes, 2),
                "checkpoints": [str(path) for path in checkpoints],
            }
        )
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    if args.recipe:
        return _train_recipe(args)
    procs = training_processes(args.procs or DEFAULT_PROCS, args.batch_size)  # imports Paddle: if missing, one line
    from ..mnist import load_mnist
    from ..models import build_model
    from ..training import TrainConfig, set_seed, train_model

    if procs > 1:
        load_mnist(args.data_dir, progress=not args.quiet)  # download and cache once, here, not in every process
        return _launch(args.argv, procs)

    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        learning_rate=args.lr,
        schedule=args.schedule,
        momentum=args.momentum,
        beta1=args.beta1,
        beta2=args.beta2,
        shift=args.shift,
        augment=args.augment,
        seed=args.seed,
    )
    data = load_mnist(args.data_dir, progress=not args.quiet)
    set_seed(config.seed)
    model = build_model(args.model)
    checkpoint = _checkpoint(args)
    history = train_model(
        model, data, config, checkpoint=checkpoint, resume=args.resume, progress=not args.quiet
    )
    import paddle

    if paddle.distributed.get_rank() != 0:
        return 0
    test = _evaluate_trained([checkpoint], data.test).result
    print(f"val accuracy {history.val_accuracy[-1]:.2%}, test accuracy {test.accuracy:.2%}")
    print(f"checkpoint saved: {checkpoint}")
    if args.json:
        _print_json(
            {
                "test_accuracy": test.accuracy,
                "val_accuracy": history.val_accuracy[-1],
                "train_seconds": round(history.seconds[-1], 2),
                "checkpoint": str(checkpoint),
            }
        )
    return 0


def _evaluate_checkpoint(checkpoint: Path, split: Split, backend: str) -> CheckpointEvaluation:
    """``evaluate_checkpoint``, plus a note on stderr when the fast path had to fall back to the dynamic graph."""
    from ..evaluation import evaluate_checkpoint

    evaluation = evaluate_checkpoint(checkpoint, split, backend=backend)
    if evaluation.fallback_reason:
        print(f"note: evaluated with {evaluation.backend}; skipped {evaluation.fallback_reason}", file=sys.stderr)
    return evaluation


def _evaluate_trained(checkpoints: list[Path], split: Split) -> EnsembleEvaluation:
    """Test accuracy right after training, by Paddle Inference if it works (else as ``auto`` would): ONNX Runtime
    first spends seconds converting each new export, which only many later evaluations would win back."""
    from ..evaluation import evaluate_ensemble

    try:
        return evaluate_ensemble(checkpoints, split, backend="inference")
    except CourseError:
        return _evaluate_ensemble(checkpoints, split, "auto")


def _evaluate_ensemble(checkpoints: list[Path], split: Split, backend: str) -> EnsembleEvaluation:
    """``evaluate_ensemble``, with the same stderr note as ``_evaluate_checkpoint`` for every member that fell back."""
    from ..evaluation import evaluate_ensemble

    ensemble = evaluate_ensemble(checkpoints, split, backend=backend)
    for path, member in zip(checkpoints, ensemble.members):
        if member.fallback_reason:
            print(f"note: {path} evaluated with {member.backend}; skipped {member.fallback_reason}", file=sys.stderr)
    return ensemble


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..checkpoint import load_checkpoint
    from ..mnist import load_mnist

    checkpoints = [Path(path) for path in args.checkpoint] if args.checkpoint else [_default_checkpoint()]
    for checkpoint in checkpoints:
        load_checkpoint(checkpoint)  # a missing or broken checkpoint fails before MNIST is loaded (or downloaded)
    data = load_mnist(args.data_dir, progress=not args.quiet)
    if len(checkpoints) == 1:
        evaluation = _evaluate_checkpoint(checkpoints[0], data.test, args.backend)
        result, model, backend = evaluation.result, evaluation.meta.get("model"), evaluation.backend
        members = []
    else:
        ensemble = _evaluate_ensemble(checkpoints, data.test, args.backend)
        result, model, backend = ensemble.result, "ensemble", "+".join(sorted({m.backend for m in ensemble.members}))
        members = [
            {"checkpoint": str(path), "model": m.meta.get("model"), "test_accuracy": m.result.accuracy,
             "backend": m.backend}
            for path, m in zip(checkpoints, ensemble.members)
        ]
    if args.json:
        report = {
            "model": model,
            "test_accuracy": result.accuracy,
            "per_class_accuracy": [round(float(a), 6) for a in result.per_class_accuracy],
            "backend": backend,
        }
        _print_json({**report, "members": members} if members else report)
        return 0
    for member in members:
        print(f"{member['checkpoint']} ({member['model']}): test accuracy {member['test_accuracy']:.2%}")
    what = f"ensemble of {len(members)} (averaged probabilities)" if members else f"model {model}"
    print(f"{what}: test accuracy {result.accuracy:.2%} on {len(data.test)} images ({backend})")
    for digit, accuracy in enumerate(result.per_class_accuracy):
        print(f"  digit {digit}: {accuracy:.2%}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from ..prediction import CheckpointPredictor, describe

    predictor = CheckpointPredictor(args.checkpoint or [_default_checkpoint()], backend=args.backend)
    for note in predictor.notes:
        print(f"note: {note}", file=sys.stderr)
    failures = 0
    for path in args.images:
        try:
            prediction = predictor.predict_file(path)
        except CourseError as error:
            print(f"error: {error}", file=sys.stderr)
            failures += 1
            continue
        if args.json:
            _print_json(prediction.to_json())
        else:
            print(f"{path}: {describe(prediction.probabilities)}")
    return 1 if failures else 0


def cmd_export(args: argparse.Namespace) -> int:
    from ..export import export_checkpoint

    checkpoint = _checkpoint(args)
    prefix = export_checkpoint(checkpoint, args.output)
    print(f"exported: {prefix}.json + {prefix}.pdiparams")
    return 0


def cmd_notebooks(args: argparse.Namespace) -> int:
    from .notebook_build import build

    problems = build(execute=args.execute, check=args.check, only=args.names or None)
    for problem in problems:
        print(problem, file=sys.stderr if args.check else sys.stdout)
    return 1 if args.check and problems else 0


def _limits(args: argparse.Namespace):
    """The sandbox limits of ``grade`` and ``check-submission``: ``--memory`` and ``--timeout``, else the defaults."""
    from .sandbox import Limits

    defaults = Limits()
    return Limits(memory_mb=args.memory or defaults.memory_mb, seconds=args.timeout or defaults.seconds)


def _isolate(args: argparse.Namespace) -> bool:
    """True unless ``--no-sandbox``; without a working bubblewrap, ``grade`` refuses (one line says how to fix it)."""
    from .sandbox import sandbox_problem

    if args.no_sandbox:
        return False
    problem = sandbox_problem()
    if problem is not None:
        raise CourseError(problem)
    return True


def cmd_grade(args: argparse.Namespace) -> int:
    from .classroom import FEEDBACK_DIR, GRADEBOOK_CSV, GRADES_CSV, grade_class

    isolate = _isolate(args)
    out = Path(args.out)
    grades = grade_class(args.submissions, out=out, jobs=args.jobs, resume=args.resume, seed=args.seed,
                         limits=_limits(args), isolate=isolate, progress=not args.quiet)
    print(f"种子 seed {grades.seed}; {grades.graded_now} graded now, {grades.reused} kept from before (--resume)")
    print(f"成绩 grades: {out / GRADES_CSV}, {out / GRADEBOOK_CSV}; 反馈 feedback: {out / FEEDBACK_DIR}/")
    return 0 if grades.complete else 1


def cmd_check_submission(args: argparse.Namespace) -> int:
    from .classroom import check_submission
    from .sandbox import sandbox_problem

    isolate = not args.no_sandbox and sandbox_problem() is None
    if not isolate and not args.no_sandbox:
        print("note: no sandbox here (bubblewrap missing or not allowed); the notebook runs as a plain process")
    return 0 if check_submission(Path(args.notebook), limits=_limits(args), isolate=isolate) else 1


def cmd_release(args: argparse.Namespace) -> int:
    from .release import release

    files = release(Path(args.dest))
    print(f"学生版 release: {args.dest} ({len(files)} files): student/, course_utils/, work/, README.md")
    return 0


def cmd_site(args: argparse.Namespace) -> int:
    from .site import DEFAULT_OUT, build_site

    out = build_site(Path(args.out) if args.out else DEFAULT_OUT, quiet=args.quiet)
    print(f"网站 website: {out}/index.html (preview: python -m http.server --bind 127.0.0.1 --directory {out})")
    return 0


def cmd_sheet(args: argparse.Namespace) -> int:
    if args.action == "form":
        return _sheet_form(args)
    return _sheet_read(args)


def _sheet_form(args: argparse.Namespace) -> int:
    from ..atomic import atomic_write
    from ..sheets import save_form

    layout = save_form(args.out, dpi=args.dpi)
    print(f"form: {args.out}")
    if args.layout:
        with atomic_write(Path(args.layout)) as tmp:
            tmp.write_text(json.dumps(layout, indent=1), encoding="utf-8")
        print(f"layout ({layout['image_size'][0]}x{layout['image_size'][1]} pixels at {args.dpi} dpi): {args.layout}")
    return 0


def _sheet_read(args: argparse.Namespace) -> int:
    """``sheet read``: read every photo that can be read, add their digits to ``--out`` in one atomic write."""
    import numpy as np

    from ..handwriting import Handwriting, add_digits, load_handwriting
    from ..sheets import preview, read_sheet

    out = Path(args.out)
    if out.exists():
        load_handwriting(out)  # a file that is not a handwriting file stops us before any work, and stays as it is
    predictor = None
    if args.preview:
        from ..prediction import CheckpointPredictor

        predictor = CheckpointPredictor(args.checkpoint or [_default_checkpoint()])
        for note in predictor.notes:
            print(f"note: {note}", file=sys.stderr)
    new = Handwriting.empty()
    failures = 0
    for photo in args.photos:
        try:
            reading = read_sheet(photo)
        except CourseError as error:
            print(f"error: {error}", file=sys.stderr)
            failures += 1
            continue
        name = Path(photo).name
        if not len(reading):
            print(f"{name}: no written box found (an empty sheet?): write the digits into the boxes and photograph "
                  "it again; nothing added", file=sys.stderr)
            failures += 1
            continue
        writer = args.writer or Path(photo).stem
        line = f"{name}: {len(reading)} digits, writer {writer}, page turned {reading.turned}°"
        if predictor is not None:
            predicted = predictor.probabilities(reading.images).argmax(axis=1)
            folder = Path(args.preview)
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"{Path(photo).stem}-preview.png"
            preview(reading, predicted).save(target)
            line += f"; {int(np.sum(predicted != reading.labels))} read as another digit than their row (red in {target})"
        print(line)
        count = len(reading)
        new = new.concat(Handwriting.from_lists(reading.images, reading.labels, [writer] * count, reading.rows,
                                                reading.cols, [name] * count))
    if len(new):
        merged = add_digits(out, new)
        print(f"{out}: {len(new)} digits added or replaced; it holds {len(merged)} digits of "
              f"{len(set(merged.writers.tolist()))} writers")
    return 1 if failures else 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m course_utils`` with one subparser per command."""
    parser = argparse.ArgumentParser(
        prog="python -m course_utils", description="手写数字识别 course tools: data, training, prediction, notebooks."
    )
    parser.add_argument("--version", action="version", version=f"course_utils {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    def add_data_dir(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--data-dir", help="folder with the MNIST files (default: $COURSE_DATA_DIR, work/, download)")
        sub.add_argument("--quiet", action="store_true", help="no progress bars")

    def add_checkpoint(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--checkpoint", help=f"checkpoint file (default: {_default_checkpoint()})")

    sub = add("download", cmd_download, "download the four MNIST files into work/ and verify them")
    add_data_dir(sub)
    sub.add_argument("--dest", help="where to download (default: work/)")
    sub.add_argument("--force", action="store_true", help="download even if MNIST is already found")

    sub = add("train", cmd_train, "train a model, then report validation and test accuracy and save a checkpoint")
    add_data_dir(sub)
    sub.add_argument("--model", default=DEFAULT_MODEL, choices=MODEL_NAMES, help="which network (default: %(default)s)")
    sub.add_argument("--epochs", type=int, default=1, help="passes over the training set (default: %(default)s)")
    sub.add_argument("--batch-size", type=int, default=256, help="images per step (default: %(default)s)")
    sub.add_argument("--optimizer", default="adam", choices=["sgd", "momentum", "adam"], help="(default: %(default)s)")
    sub.add_argument("--lr", type=float, default=0.02, help="(peak) learning rate (default: %(default)s)")
    sub.add_argument(
        "--schedule", default="onecycle", choices=["constant", "onecycle", "cosine"], help="(default: %(default)s)"
    )
    sub.add_argument("--momentum", type=float, default=0.9, help="for --optimizer momentum (default: %(default)s)")
    sub.add_argument("--beta1", type=float, default=0.7, help="Adam's beta1 (default: %(default)s)")
    sub.add_argument("--beta2", type=float, default=0.9, help="Adam's beta2 (default: %(default)s)")
    sub.add_argument("--shift", type=int, default=0, help="augment with random shifts of up to N pixels")
    sub.add_argument(
        "--augment", action="store_true", help="augment with rotation, scale, shift, stroke width, elastic distortion"
    )
    sub.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    sub.add_argument("--checkpoint", help="where to save (default: work/checkpoints/<model>.pdckpt)")
    sub.add_argument("--resume", help="continue training from this checkpoint")
    sub.add_argument(
        "--recipe",
        choices=RECIPE_NAMES,
        help="a preset that sets the model and training options (training.RECIPES); best: 4 x wide_cnn, 5 epochs "
        "each on images shifted at random by up to 2 px, probabilities averaged (aims at 99.6%% test accuracy). "
        "Its members are saved as <checkpoint>-1.pdckpt, -2, ... (default checkpoint: work/checkpoints/<recipe>"
        ".pdckpt), then evaluated together on the test set",
    )
    sub.add_argument("--json", action="store_true", help="end with one JSON line of the results")
    sub.add_argument(
        "--procs",
        help="data-parallel processes on this machine, started with paddle.distributed.launch; auto: one per CPU "
        f"core, worth its few seconds of start-up on longer runs (default: {DEFAULT_PROCS}; {RECIPE_PROCS} with "
        "--recipe)",
    )

    sub = add("evaluate", cmd_evaluate, "test accuracy and per-digit accuracy of a checkpoint, or of an ensemble")
    add_data_dir(sub)
    sub.add_argument(
        "--checkpoint",
        nargs="+",
        help=f"checkpoint file (default: {_default_checkpoint()}); several: evaluate the ensemble that averages "
        "their probabilities",
    )
    sub.add_argument(
        "--backend",
        default="auto",
        choices=EVALUATE_BACKENDS,
        help="onnxruntime (needs `pip install onnxruntime paddle2onnx`) or inference (Paddle Inference): run the "
        "checkpoint's export, made beside it when missing or stale; dynamic: the dynamic graph; auto: the first of "
        "these that works (default: %(default)s)",
    )
    sub.add_argument("--json", action="store_true", help="print one JSON object")

    sub = add("predict", cmd_predict, "read the digit in your own image files: the top two digits, and 不确定 "
              "(uncertain) when the model is not sure")
    sub.add_argument("images", nargs="+", help="image files (JPEG, PNG, BMP)")
    sub.add_argument(
        "--checkpoint",
        nargs="+",
        help="checkpoint file(s), after the images; several: the mean of their probabilities, an ensemble "
        f"(default: {_default_checkpoint()})",
    )
    sub.add_argument(
        "--backend",
        default="auto",
        choices=PREDICT_BACKENDS,
        help="auto: the checkpoint's ONNX export when current (starts without Paddle), else the dynamic graph, "
        "exporting for next time; dynamic: the dynamic graph only (default: %(default)s)",
    )
    sub.add_argument("--json", action="store_true", help="one JSON object per image (top_two, uncertain, ...)")

    sub = add("export", cmd_export, "save a checkpoint's model for deployment with paddle.jit.save")
    add_checkpoint(sub)
    sub.add_argument("--output", help="path prefix of the export (default: beside the checkpoint)")

    sub = add("notebooks", cmd_notebooks, "instructor tool: normalize solution notebooks, regenerate student versions")
    build = sub.add_subparsers(dest="action", required=True, metavar="ACTION").add_parser(
        "build", help="normalize the solutions and regenerate student/", description="normalize and regenerate"
    )
    build.add_argument("names", nargs="*", help="only these notebooks, e.g. 03 (default: all)")
    build.add_argument("--execute", action="store_true", help="re-run the solutions and store their outputs")
    build.add_argument("--check", action="store_true", help="change nothing; fail if anything is out of date")

    sub = add("sheet", cmd_sheet, "the class's digit form: print it (form), read photos of filled-in forms (read)")
    actions = sub.add_subparsers(dest="action", required=True, metavar="ACTION")
    form = actions.add_parser("form", help="write the printable form (A4)", description="write the printable form")
    form.add_argument("--out", default="form.pdf", help="a .pdf or .png file (default: %(default)s)")
    form.add_argument("--dpi", type=int, default=200, help="resolution of a PNG, and of --layout (default: %(default)s)")
    form.add_argument("--layout", help="also write every box's position in the PNG's pixels to this JSON file")
    read = actions.add_parser("read", help="read photos of filled-in forms into a handwriting file (.npz)",
                              description="read photos of filled-in forms; a photo read again replaces its digits")
    read.add_argument("photos", nargs="+", help="photos of filled-in forms (JPEG, PNG)")
    read.add_argument("--out", required=True, help="the .npz file the digits are added to (created if missing)")
    read.add_argument("--writer", help="who wrote the sheets (default: each photo's file name without its suffix)")
    read.add_argument("--preview", metavar="DIR", help="write per sheet a picture of the digits as the model sees "
                      "them, with its reading, red where it differs from the row")
    read.add_argument("--checkpoint", nargs="+", help="the model for --preview (default: the default checkpoint)")

    def add_limits(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--memory", type=int, help="MB all processes of one notebook may use (default: 4096)")
        sub.add_argument("--timeout", type=int, help="seconds one notebook may run in all (default: 600)")
        sub.add_argument("--no-sandbox", action="store_true",
                         help="run without bubblewrap (only the time and memory limits; unsafe with untrusted code)")

    sub = add("grade", cmd_grade, "instructor tool: grade students' notebooks, each in a sandbox, several at once")
    sub.add_argument("submissions", nargs="+", help="students' notebooks (.ipynb) of any chapters; one folder per "
                     "student names the student after the folder, else after the file")
    sub.add_argument("--out", default="grades", help="folder for results, grades.csv, gradebook.csv (Canvas, Moodle) "
                     "and feedback/ (default: %(default)s)")
    sub.add_argument("--jobs", type=int, help="notebooks graded at once (default: the usable CPU cores)")
    sub.add_argument("--resume", action="store_true", help="continue the run in --out: grade only what it lacks")
    sub.add_argument("--seed", type=int, help="seed of the hidden test cases (default: a new one, kept in --out)")
    sub.add_argument("--quiet", action="store_true", help="no progress bar")
    add_limits(sub)

    sub = add("check-submission", cmd_check_submission, "before handing in: run what the grader runs on one "
              "notebook, and catch an empty, unsaved or wrong-chapter notebook")
    sub.add_argument("notebook", help="the notebook you will hand in (.ipynb)")
    add_limits(sub)

    sub = add("release", cmd_release, "instructor tool: build the folder students get when their work is graded "
              "(student notebooks, course_utils, work/ examples; no solutions)")
    sub.add_argument("dest", help="a new or empty folder")

    sub = add("site", cmd_site, "build the course website (Jupyter Book) from the solution notebooks' stored outputs")
    sub.add_argument("--out", help="the static folder to write (default: build/site)")
    sub.add_argument("--quiet", action="store_true", help="print Jupyter Book's messages only when it fails")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # `train --procs` runs the same command again
    try:
        return args.handler(args)
    except CourseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
