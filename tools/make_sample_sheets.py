"""Make chapter 7's sample sheets in work/sample_sheets/: generated photos of filled-in digit forms.

The chapter reads a class's photographed forms; so that it runs before a class has filled any in, it ships six
**generated** ones (`course_utils.sheet_photos`): six writers, each with a style of their own (pen width, slant,
size), writing MNIST **test** digits into the form, photographed lying in each of the four orientations in turn,
tilted, at an angle, with uneven light and a shadow, at about 0.7 megapixels. They are not real handwriting of real
people: the digits are MNIST's, only the pen, slant, size and the photo are new.

Deterministic (seed 2026): ``python tools/make_sample_sheets.py`` writes the same files again (given the same Pillow).
"""
from __future__ import annotations

from pathlib import Path

from course_utils.sheet_photos import sheet_photos

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "work" / "sample_sheets"
SHEETS = 6
SEED = 2026
MEGAPIXELS = 0.7
QUALITY = 70


def main() -> None:
    FOLDER.mkdir(parents=True, exist_ok=True)
    for photo in sheet_photos(SHEETS, seed=SEED, megapixels=(MEGAPIXELS,)):
        path = FOLDER / f"{photo.writer.name}.jpg"
        photo.image.save(path, quality=QUALITY)
        print(f"{path.relative_to(ROOT)}: {len(photo.written)} digits, lying turned {photo.turn}°, "
              f"{path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
