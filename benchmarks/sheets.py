"""Sheet benchmark: generated photos of filled-in digit forms (`course_utils.sheet_photos`) read by `sheets.read_sheet`.

Each sheet is filled by a writer of its own with MNIST **test** digits and photographed lying in one of the four
orientations (taking turns), turned by up to 30 degrees more, at an angle, with uneven light, a shadow, blur and JPEG
compression, at 1 and 12 megapixels (taking turns). The photo is written to a JPEG file and read from it, as a
student's would be. Three figures:

- ``boxes``: of the boxes a writer filled, how many the reader found with the right row and column (and how many it
  found that were empty: none should be);
- ``digits``: of those, how many the model reads as their row's digit. Two more readings of the same digits show
  where the rest is lost: the filled-in pages themselves, read as perfect flat scans (what the writers' styles cost:
  pen, slant, size, the digits written again along their centre lines), and the original MNIST images (the ceiling);
- ``seconds``: wall time of ``read_sheet`` per photo (decoding the JPEG, finding the corners, cutting and
  ``to_mnist`` of every box; not the model), the median and the slowest per size.

``python -m benchmarks.sheets --checkpoint X`` prints the table; ``--write DIR`` writes the photos and previews.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .common import print_report, table

SHEETS = 24
QUICK_SHEETS = 2


def run(checkpoint: Path, *, sheets: int = SHEETS, seed: int = 0) -> dict[str, Any]:
    """Generate ``sheets`` photos, read each from a JPEG file, and count boxes, right digits and seconds."""
    from course_utils.errors import CourseError
    from course_utils.mnist import load_mnist
    from course_utils.prediction import CheckpointPredictor
    from course_utils.sheet_photos import sheet_photos
    from course_utils.sheets import read_sheet

    predictor = CheckpointPredictor([checkpoint])
    test = load_mnist(download=False, progress=False).test
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for i, photo in enumerate(sheet_photos(sheets, seed, test=test)):
            path = Path(folder) / f"sheet-{i}.jpg"
            photo.image.save(path, quality=92)
            started = time.perf_counter()
            try:
                reading = read_sheet(path)
            except CourseError:
                reading = None
            seconds = time.perf_counter() - started
            written = {(int(r), int(c)): int(index) for r, c, _, index in photo.written}
            found = {} if reading is None else {(int(r), int(c)): i for i, (r, c) in
                                                 enumerate(zip(reading.rows, reading.cols))}
            hits = [box for box in written if box in found]
            right = 0
            if hits:
                predicted = predictor.probabilities(reading.images[[found[box] for box in hits]]).argmax(axis=1)
                right = int(np.sum(predicted == [row for row, _ in hits]))
            indices = list(written.values())
            ceiling = predictor.probabilities(test.images[indices]).argmax(axis=1) == test.labels[indices]
            scan = read_sheet(Image.fromarray(np.rint(photo.page * 255).astype(np.uint8)))
            scan_right = int(np.sum(predictor.probabilities(scan.images).argmax(axis=1) == scan.labels))
            rows.append({"sheet": i, "writer": photo.writer.name, "megapixels": photo.megapixels, "turn": photo.turn,
                         "markers_found": reading is not None, "written": len(written), "found": len(hits),
                         "extra": len(set(found) - set(written)), "right": right, "scan_right": scan_right,
                         "scanned": len(scan), "mnist_right": int(ceiling.sum()),
                         "seconds": round(seconds, 3)})
    written, found = sum(r["written"] for r in rows), sum(r["found"] for r in rows)
    result: dict[str, Any] = {
        "checkpoint": str(checkpoint), "seed": seed, "sheets": rows, "written": written, "found": found,
        "extra": sum(r["extra"] for r in rows), "right": sum(r["right"] for r in rows),
        "mnist_right": sum(r["mnist_right"] for r in rows), "scan_right": sum(r["scan_right"] for r in rows),
        "scanned": sum(r["scanned"] for r in rows),
        "missed_sheets": [r["sheet"] for r in rows if not r["markers_found"]],
    }
    result["boxes_fraction"] = found / written
    result["digits_accuracy"] = result["right"] / max(found, 1)
    result["mnist_accuracy"] = result["mnist_right"] / written
    result["scan_accuracy"] = result["scan_right"] / max(result["scanned"], 1)
    for size in sorted({r["megapixels"] for r in rows}):
        times = [r["seconds"] for r in rows if r["megapixels"] == size]
        result[f"seconds_{size}mp"] = {"median": float(np.median(times)), "max": float(max(times)),
                                       "sheets": len(times)}
    return result


def render(result: dict[str, Any]) -> str:
    rows = [[r["sheet"], r["writer"], f"{r['megapixels']} MP", f"{r['turn']}°", r["written"], r["found"], r["extra"],
             r["right"], f"{r['seconds']:.2f}"] for r in result["sheets"]]
    title = f"Sheets (generated photos of filled-in forms, seed {result['seed']})"
    lines = [table(title, ["sheet", "writer", "size", "lying", "written", "found", "extra", "read right", "seconds"],
                   rows)]
    lines.append(f"boxes found with the right row and column: {result['found']} of {result['written']} "
                 f"({result['boxes_fraction']:.2%}), {result['extra']} empty boxes taken for written; "
                 f"corners not found on sheets {result['missed_sheets'] or 'none'}")
    lines.append(f"digits read right: {result['right']} of {result['found']} ({result['digits_accuracy']:.2%}); "
                 f"the same pages as flat scans: {result['scan_accuracy']:.2%}; the same digits as MNIST images: "
                 f"{result['mnist_accuracy']:.2%}")
    for key in sorted(k for k in result if k.startswith("seconds_")):
        t = result[key]
        lines.append(f"read_sheet at {key[8:]}: median {t['median']:.2f} s, slowest {t['max']:.2f} s "
                     f"({t['sheets']} sheets)")
    return "\n".join(lines)


def write(folder: Path, sheets: int, checkpoint: Path | None, seed: int = 0) -> list[Path]:
    """Write the photos (JPEG) and, with a checkpoint, each one's preview (PNG) into ``folder``."""
    from course_utils.prediction import CheckpointPredictor
    from course_utils.sheet_photos import sheet_photos
    from course_utils.sheets import preview, read_sheet

    folder.mkdir(parents=True, exist_ok=True)
    predictor = CheckpointPredictor([checkpoint]) if checkpoint else None
    written = []
    for i, photo in enumerate(sheet_photos(sheets, seed)):
        path = folder / f"sheet-{i}-{photo.writer.name}-{photo.megapixels}mp.jpg"
        photo.image.save(path, quality=92)
        written.append(path)
        if predictor is not None:
            reading = read_sheet(path)
            target = path.with_suffix(".preview.png")
            preview(reading, predictor.probabilities(reading.images).argmax(axis=1)).save(target)
            written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sheets", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="the model that reads the digits (a course_utils checkpoint)")
    parser.add_argument("--sheets", type=int, default=SHEETS, help="how many sheet photos (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", metavar="DIR", help="write the photos (and previews, with --checkpoint) instead")
    args = parser.parse_args(argv)
    if args.write:
        paths = write(Path(args.write), args.sheets, Path(args.checkpoint) if args.checkpoint else None, args.seed)
        print(f"wrote {len(paths)} files to {args.write}")
        return 0
    if not args.checkpoint:
        parser.error("give --checkpoint (or --write DIR)")
    return print_report(lambda: render(run(Path(args.checkpoint), sheets=args.sheets, seed=args.seed)))


if __name__ == "__main__":
    raise SystemExit(main())
