"""MNIST: find it, download it if needed, verify it and load it as uint8 arrays.

Where the data comes from, first match wins (``find_mnist``):

1. the ``data_dir`` argument;
2. the ``COURSE_DATA_DIR`` environment variable;
3. the project's ``work/`` folder (``settings.work_dir()``);
4. AI Studio's mounted data sets, ``/home/aistudio/data/data*/`` (``AISTUDIO_DATA_ROOT``).

A folder qualifies when it holds the four official IDX files (``train-images-idx3-ubyte.gz`` etc., gzipped or
unpacked) or AI Studio's ``mnist.json.gz``; the IDX files win when both are there. A folder named by ``data_dir`` or
``COURSE_DATA_DIR`` must hold the data: a wrong path is reported, not silently skipped. When nothing is found,
``load_mnist`` downloads the four files into ``work/`` from ``MIRRORS``, trying each in turn.

Every IDX file is checked against the SHA-256 of its *uncompressed* content, so a re-compressed copy passes and a
corrupt, truncated or wrong file is refused with a one-line ``CourseError`` that says how to fix it.

The splits are the course's: train = the first 50,000 official training images, val = the last 10,000, test = the
official 10,000 test images.

``mnist.json.gz`` (the original course's file) brings its own three splits, 784 numbers per image. Its pixel encoding
is found from all the values (``ENCODINGS``: ``p/256`` or ``p/255`` in [0, 1], ``p/127.5-1`` = ``2p/255-1`` or
``p/128-1`` in [-1, 1], each exact or rounded to float32), the exact uint8 pixels are recovered, and one line says what
was found and whether the splits are the official ones (SHA-256 of the IDX files they make up; if not, and the IDX
files are at hand, how they differ), e.g. ``work/mnist.json.gz: pixels p/256 in [0, 1) (exact values); 50,000/10,000/
10,000 images, identical to the official IDX splits``. Values on no such grid (NaN, out of range, another scale) are
refused, never a file because it is large.

Parsed arrays are cached in ``work/cache/mnist.npz`` (uncompressed), keyed by the source files' paths, sizes and
modification times, so a later ``load_mnist`` takes a fraction of a second and a changed source file is re-read.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import os
import re
import sys
import urllib.error
import urllib.request
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Sequence

import numpy as np
from tqdm import tqdm

from .atomic import atomic_write
from .errors import CourseError
from .settings import work_dir

__all__ = [
    "AISTUDIO_DATA_ROOT",
    "ENCODINGS",
    "MIRRORS",
    "MnistData",
    "Split",
    "download_mnist",
    "find_mnist",
    "load_mnist",
    "read_aistudio_json",
    "read_idx",
    "write_aistudio_json",
]

MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
"""Base URLs that serve the four official ``.gz`` files, tried in this order."""

AISTUDIO_DATA_ROOT = Path("/home/aistudio/data")
"""Where AI Studio mounts a project's data sets, one ``data<id>/`` folder each."""

_FILES: dict[str, tuple[str, tuple[int, ...]]] = {
    "train-images-idx3-ubyte": ("ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", (60000, 28, 28)),
    "train-labels-idx1-ubyte": ("65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", (60000,)),
    "t10k-images-idx3-ubyte": ("0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", (10000, 28, 28)),
    "t10k-labels-idx1-ubyte": ("ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", (10000,)),
}
"""The official files: SHA-256 of the uncompressed content (as published) and the array shape."""

ENCODINGS: dict[str, tuple[float, float, str]] = {
    "p/256": (256.0, 0.0, "[0, 1)"),
    "p/255": (255.0, 0.0, "[0, 1]"),
    "p/127.5-1": (127.5, -1.0, "[-1, 1]"),
    "p/128-1": (128.0, -1.0, "[-1, 1)"),
}
"""The pixel encodings ``mnist.json.gz`` may use: name -> (divisor, offset, range); grey level p is stored as
p / divisor + offset.

``p/256`` is the Theano tutorials' ``mnist.pkl.gz`` (float32); ``p/127.5-1`` is also written ``2p/255-1``."""

_ENCODING_LIST = ", ".join(f"{name} in {span}" for name, (_, _, span) in ENCODINGS.items())
_GRID_TOLERANCE = 0.05
"""How far (in grey levels) a value may lie from its grid point: float32 rounding is below 1e-4, 4 decimals 0.013."""
_JSON_NAME = "mnist.json.gz"
_JSON_LAYOUT = "a JSON list [train, val, test], each [images as lists of 784 numbers, labels]"
_JSON_FIX = "get the file again, or use the four official IDX files instead (`python -m course_utils download`)"
_TRAIN_SIZE = 50_000
_SPLITS = ("train", "val", "test")
_CACHE_VERSION = 2
_TIMEOUT_SECONDS = 60
_FILE_LIST = ", ".join(f"{name}.gz" for name in _FILES)
_FIX = "delete it and run `python -m course_utils download`, or download the official file again by hand"

# IDX type codes (third byte of the magic number) and their big-endian numpy types.
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass(frozen=True, eq=False)
class Split:
    """One part of MNIST: ``images`` uint8 ``[N, 28, 28]`` (white digit on black, 0-255) and ``labels`` int64 ``[N]``.

    The arrays are read-only views, so a notebook cannot change the data set by accident; ``.copy()`` them to edit.
    """

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        images, labels = np.asarray(self.images), np.asarray(self.labels)
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
            raise ValueError(f"images must be uint8 [N, 28, 28], got {images.dtype} {list(images.shape)}")
        if labels.dtype != np.int64 or labels.shape != images.shape[:1]:
            raise ValueError(f"labels must be int64 [{len(images)}], got {labels.dtype} {list(labels.shape)}")
        object.__setattr__(self, "images", _read_only(images))
        object.__setattr__(self, "labels", _read_only(labels))

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return f"Split(images=uint8{list(self.images.shape)}, labels=int64{list(self.labels.shape)})"


@dataclass(frozen=True)
class MnistData:
    """The three splits: ``train`` to fit, ``val`` to choose settings and epochs, ``test`` to report once at the end."""

    train: Split
    val: Split
    test: Split


def load_mnist(data_dir: str | os.PathLike | None = None, *, download: bool = True, progress: bool = True) -> MnistData:
    """Find (or, if ``download``, fetch), verify and load MNIST; later calls read the cache in ``work/cache/``.

    ``data_dir`` overrides the search (see the module docstring). ``progress`` shows download progress bars and,
    when the source is ``mnist.json.gz``, the one line on its encoding and splits (on stderr, also from the cache).
    Raises ``CourseError`` when the data is missing, corrupt or cannot be downloaded.
    """
    sources = _locate(data_dir)
    if sources is None:
        if not download:
            raise CourseError(
                f"MNIST not found in {work_dir()} or {AISTUDIO_DATA_ROOT}/data*/; run `python -m course_utils "
                f"download`, or put the four files {_FILE_LIST} in {work_dir()}, "
                "or set COURSE_DATA_DIR to the folder that holds them"
            )
        sources = _sources(download_mnist(progress=progress))
    key = _cache_key(sources)
    cache = work_dir() / "cache" / "mnist.npz"
    cached = _read_cache(cache, key)
    if cached is None:
        cached = _read_json(sources[0]) if len(sources) == 1 else (_read_official(sources), "")
        _write_cache(cache, key, *cached)
    data, note = cached
    if note and progress:
        print(note, file=sys.stderr)
    return data


def find_mnist(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The folder that holds MNIST (four IDX files or ``mnist.json.gz``), searched in the module docstring's order.

    Returns ``None`` when no folder has it. Raises ``CourseError`` when ``data_dir`` or ``COURSE_DATA_DIR`` names a
    folder without it, since the user asked for that folder. Only file names are checked here; ``load_mnist``
    verifies the content.
    """
    sources = _locate(data_dir)
    return None if sources is None else sources[0].parent


def download_mnist(dest: str | os.PathLike | None = None, *, progress: bool = True) -> Path:
    """Download the four official files into ``dest`` (default: ``work/``) and return that folder.

    Files already there and valid are kept. Each file goes to a temporary file that is verified and only then
    renamed into place, so an interrupted or bad download never replaces anything. Mirrors are tried in the order
    of ``MIRRORS``; if all fail for a file, ``CourseError`` lists what each one did.
    """
    folder = Path(dest).expanduser() if dest is not None else work_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for name in _FILES:
        existing = _idx_path(folder, name)
        if existing is not None:
            try:
                _verified(existing, name)
                continue
            except ValueError:
                pass  # a damaged or wrong file: fetch a good copy, which replaces it only once verified
        _download(name, folder / f"{name}.gz", progress)
    return folder


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (gzipped if its name ends in ``.gz``) into a read-only array of the shape in its header.

    The header (magic number, type code, dimensions) is validated against the file's length. Raises
    ``CourseError`` for a corrupt, truncated or non-IDX file.
    """
    path = Path(path)
    try:
        return _parse_idx(_content(path))
    except ValueError as error:
        raise CourseError(f"{path} is not a valid IDX file ({error}); {_FIX}") from error


def read_aistudio_json(path: str | os.PathLike, *, verbose: bool = True) -> MnistData:
    """Read AI Studio's ``mnist.json.gz``: a JSON list ``[train, val, test]``, each ``[images, labels]``.

    Each image is a list of 784 numbers in one of the pixel encodings of ``ENCODINGS``; the encoding is found from
    all the values and the exact uint8 pixels are recovered. The file is streamed, each number is looked up in a table
    of the distinct spellings met so far, and the images are kept as 2-byte codes, never as Python lists of floats:
    the full file takes about 7 s of CPU and 370 MB here, where ``json.load`` took 18 s and 2.5 GB.
    With ``verbose``, one line on stderr says which encoding was found and whether the three splits are the official
    ones. Raises ``CourseError`` naming the file when it is damaged or truncated, has another layout, or holds values
    that are no pixel encoding (NaN, out of range, a scale that maps pixels to non-integers).
    """
    data, note = _read_json(Path(path))
    if verbose:
        print(note, file=sys.stderr)
    return data


def write_aistudio_json(
    data: MnistData, path: str | os.PathLike, *, encoding: str = "p/256", float32: bool = True
) -> None:
    """Write ``data`` in AI Studio's ``mnist.json.gz`` layout (gzipped JSON ``[train, val, test]``).

    ``encoding`` is a name from ``ENCODINGS``; ``float32`` rounds each value to float32 first, as a file made from
    float32 arrays has it. The default, float32 ``p / 256`` in [0, 1), is the best reconstruction of the original
    course's file: that file has the layout and the three splits of the Theano tutorials' ``mnist.pkl.gz``, whose
    pixels are float32 ``p / 256``, and the original's prediction code gave the model it trained on this file
    ``1 - im / 255``, values in [0, 1] with white ink on black, as it would for [0, 1) training data (with [-1, 1]
    training data, that input would cover only the upper half of the training range). It also gives the original's
    file size: 19.3 MB from the IDX data, against about 20 MB (float64 ``p / 255`` makes 22 MB, float32 28 MB).
    Every encoding reads back to the same uint8 images. The file is written atomically: until it is complete, the
    old one (if any) stays.
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {list(ENCODINGS)}, got {encoding!r}")
    values = _grid(encoding)
    if float32:
        values = values.astype(np.float32).astype(np.float64)
    text = np.array([json.dumps(float(v)) for v in values], dtype=object)  # the JSON spelling of each pixel value
    path = Path(path)
    with atomic_write(path) as tmp, gzip.open(tmp, "wt", encoding="ascii", compresslevel=6) as out:
        out.write("[")
        for i, split in enumerate((data.train, data.val, data.test)):
            out.write(", [[" if i else "[[")
            for j, image in enumerate(split.images):
                out.write((", [" if j else "[") + ", ".join(text[image.ravel()]) + "]")
            out.write("], " + json.dumps(split.labels.tolist()) + "]")
        out.write("]")


class _LayoutError(ValueError):
    """The file is valid gzip but not the JSON layout ``[train, val, test]`` of ``[images, labels]``."""


class _Scanner:
    """Reads a JSON text from a binary file in chunks, token by token, for the few tokens this layout has."""

    _NOT_SPACE = re.compile(rb"\S")
    _CHUNK_BYTES = 1 << 22

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._buffer = b""
        self._pos = 0
        self._dropped = 0  # bytes of the file before the buffer

    def peek(self) -> bytes:
        """The next character that is not white space (not consumed), or ``b""`` at the end of the file."""
        while (found := self._NOT_SPACE.search(self._buffer, self._pos)) is None:
            self._pos = len(self._buffer)
            if not self._fill():
                return b""
        self._pos = found.start()
        return self._buffer[self._pos : self._pos + 1]

    def take(self, char: bytes, what: str) -> None:
        """Consume ``char`` (after white space); ``_LayoutError`` naming ``what`` if something else comes."""
        found = self.peek()
        if found != char:
            seen = repr(found.decode("latin-1")) if found else "the end of the file"
            raise _LayoutError(f"expected {char.decode()!r} {what} at byte {self._dropped + self._pos:,}, found {seen}")
        self._pos += 1

    def until(self, char: bytes) -> bytes:
        """The bytes up to the next ``char``, which is consumed."""
        while (end := self._buffer.find(char, self._pos)) < 0:
            if not self._fill():
                raise _LayoutError("the file ends in the middle of a list")
        text = self._buffer[self._pos : end]
        self._pos = end + 1
        return text

    def _fill(self) -> bool:
        """Append the next chunk of the file to the unread part of the buffer; False at the end of the file."""
        chunk = self._file.read(self._CHUNK_BYTES)
        if not chunk:
            return False
        self._dropped += self._pos
        self._buffer = self._buffer[self._pos :] + chunk
        self._pos = 0
        return True


class _EncodingError(ValueError):
    """The values are numbers, but not grey levels 0-255 in any of ``ENCODINGS``."""


class _Spellings(dict):
    """Each distinct JSON number spelling -> a code (0, 1, 2, ...); ``values`` holds the number of each code.

    A pixel file has a few hundred spellings, so the images are kept as uint16 codes (2 bytes a value, where Python
    floats took about 32), the encoding is found from the distinct values alone, and a 256-entry table turns the
    codes into pixels. Looking each number up here is also about 3x faster than ``np.fromstring``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.values: list[float] = []

    def __missing__(self, spelling: bytes) -> int:
        if len(self) > np.iinfo(np.uint16).max:
            raise _EncodingError(
                f"the numbers take more than {len(self):,} different values, while pixels have 256 grey levels "
                f"({_ENCODING_LIST})"
            )
        try:
            self.values.append(float(spelling))
        except ValueError as error:
            raise _LayoutError(f"a list holds {spelling.strip()[:40]!r}, which is not a number") from error
        code = self[spelling] = len(self.values) - 1
        return code


def _codes(text: bytes, spellings: _Spellings) -> np.ndarray:
    """The codes (``_Spellings``) of the comma-separated numbers in ``text``, as uint16."""
    if not text.strip():
        return np.empty(0, dtype=np.uint16)
    tokens = text.split(b",")
    return np.fromiter(map(spellings.__getitem__, tokens), dtype=np.uint16, count=len(tokens))


def _parse_json(scanner: _Scanner) -> tuple[list[np.ndarray], np.ndarray, list[np.ndarray]]:
    """``[[images, labels], x3]`` from ``scanner``: per split the images as codes ``[N, 784]`` (uint16), the value of
    each code, and per split the labels (float64)."""
    pixels, labels, numbers = _Spellings(), [], _Spellings()
    images: list[np.ndarray] = []
    scanner.take(b"[", "to open the file's list")
    for i, name in enumerate(_SPLITS):
        if i:
            scanner.take(b",", f"before the {name} split")
        scanner.take(b"[", f"to open the {name} split")
        scanner.take(b"[", f"to open the {name} images")
        rows: list[np.ndarray] = []
        while scanner.peek() != b"]":
            if rows:
                scanner.take(b",", f"between {name} images")
            scanner.take(b"[", f"to open {name} image {len(rows)}")
            rows.append(_codes(scanner.until(b"]"), pixels))
            if len(rows[-1]) != 784:
                raise _LayoutError(f"{name} image {len(rows) - 1} has {len(rows[-1])} numbers, not 784")
        scanner.take(b"]", f"to close the {name} images")
        scanner.take(b",", f"after the {name} images")
        scanner.take(b"[", f"to open the {name} labels")
        labels.append(_codes(scanner.until(b"]"), numbers))
        scanner.take(b"]", f"to close the {name} split")
        if len(labels[-1]) != len(rows):
            raise _LayoutError(f"the {name} split has {len(rows):,} images but {len(labels[-1]):,} labels")
        images.append(np.stack(rows) if rows else np.empty((0, 784), dtype=np.uint16))
    scanner.take(b"]", "after the three splits")
    if scanner.peek():
        raise _LayoutError("more data follows the three splits")
    label_values = np.array(numbers.values, dtype=np.float64)
    return images, np.array(pixels.values, dtype=np.float64), [label_values[codes] for codes in labels]


def _read_json(path: Path) -> tuple[MnistData, str]:
    """``read_aistudio_json``'s data and its one-line note (encoding found, comparison with the official splits)."""
    try:
        file: BinaryIO = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")
    except OSError as error:
        raise CourseError(f"cannot read {path}: {error.strerror or error}") from error
    with file:
        try:
            images, values, labels = _parse_json(_Scanner(file))
            encoding = _encoding_of(values)
        except _EncodingError as error:
            raise CourseError(f"{path}: {error}; {_JSON_FIX}") from error
        except _LayoutError as error:
            raise CourseError(
                f"{path} does not have the AI Studio MNIST layout ({_JSON_LAYOUT}): {error}; {_JSON_FIX}"
            ) from error
        except (OSError, EOFError, zlib.error) as error:
            raise CourseError(f"{path} is corrupt or truncated ({error}); {_JSON_FIX}") from error
    levels, black, span = ENCODINGS[encoding]
    grey = np.rint((values - black) * levels).astype(np.uint8)  # the pixel of each code
    off = float(np.abs(values - _grid(encoding)[grey]).max(initial=0.0))
    splits = []
    for name, codes, y in zip(_SPLITS, images, labels):
        if np.any(y != np.rint(y)) or y.min(initial=0) < 0 or y.max(initial=0) > 9:
            raise CourseError(f"{path}: the {name} labels are not digits 0-9; {_JSON_FIX}")
        splits.append(Split(grey[codes].reshape(-1, 28, 28), y.astype(np.int64)))
    data = MnistData(*splits)
    precision = "exact values" if off <= 1e-12 else "float32 values" if off <= 1e-6 else f"rounded by up to {off:.1g}"
    sizes = "/".join(f"{len(split):,}" for split in splits)
    return data, f"{path}: pixels {encoding} in {span} ({precision}); {sizes} images, {_compared(data)}"


def _grid(encoding: str) -> np.ndarray:
    """The float64 value of each pixel 0-255 in ``encoding``."""
    levels, black, _ = ENCODINGS[encoding]
    return np.arange(256) / levels + black


def _encoding_of(values: np.ndarray) -> str:
    """The encoding whose grid holds every one of the distinct pixel ``values`` (the closest if several do).

    ``_EncodingError`` if none does: NaN, infinity, values out of range, or a scale that maps pixels to non-integers.
    """
    if not np.isfinite(values).all():
        raise _EncodingError("some pixel values are NaN or infinite")
    worst = {}  # the largest distance of a value from the encoding's grid, in grey levels
    for name, (levels, black, _) in ENCODINGS.items():
        grey = (values - black) * levels
        nearest = np.rint(grey)
        inside = nearest.min(initial=0) >= 0 and nearest.max(initial=0) <= 255
        worst[name] = float(np.abs(grey - nearest).max(initial=0.0)) if inside else np.inf
    fits = [name for name, off in worst.items() if off <= _GRID_TOLERANCE]
    if not fits:
        raise _EncodingError(
            f"the pixel values (from {values.min():g} to {values.max():g}) fit no known encoding of grey levels 0-255 "
            f"({_ENCODING_LIST})"
        )
    return min(fits, key=worst.__getitem__)


def _idx_sha256(array: np.ndarray) -> str:
    """The SHA-256 of ``array`` (uint8) written as an IDX file, for comparison with ``_FILES``."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return hashlib.sha256(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()).hexdigest()


def _compared(data: MnistData) -> str:
    """Whether ``data`` is the course's cut of the official files (by SHA-256), and if not, how it differs."""
    parts = {
        "train-images-idx3-ubyte": np.concatenate([data.train.images, data.val.images]),
        "train-labels-idx1-ubyte": np.concatenate([data.train.labels, data.val.labels]),
        "t10k-images-idx3-ubyte": data.test.images,
        "t10k-labels-idx1-ubyte": data.test.labels,
    }
    if len(data.train) == _TRAIN_SIZE and all(_idx_sha256(parts[name]) == _FILES[name][0] for name in _FILES):
        return "identical to the official IDX splits"
    official = _find_official()
    if official is None:
        return (
            "NOT the official IDX splits (their SHA-256 differ); to see how they differ, put the four official "
            f"files in {work_dir()} (`python -m course_utils download`)"
        )
    return "NOT the official IDX splits: " + "; ".join(_differences(data, official))


def _find_official() -> MnistData | None:
    """The official splits from the first folder of the search order that holds the four IDX files, else None."""
    folders = [Path(os.environ["COURSE_DATA_DIR"]).expanduser()] if os.environ.get("COURSE_DATA_DIR") else []
    folders += [work_dir(), *sorted(p for p in AISTUDIO_DATA_ROOT.glob("data*") if p.is_dir())]
    for folder in folders:
        sources = _sources(folder)
        if sources is not None and len(sources) == len(_FILES):
            try:
                return _read_official(sources)
            except CourseError:
                continue  # a damaged copy cannot serve as the reference; load_mnist reports it when it is used
    return None


def _differences(data: MnistData, official: MnistData) -> list[str]:
    """How each split of ``data`` differs from the official one, one phrase per differing split."""
    found = []
    for name in _SPLITS:
        mine, theirs = getattr(data, name), getattr(official, name)
        if len(mine) != len(theirs):
            found.append(f"{name} has {len(mine):,} images, the official {len(theirs):,}")
            continue
        images = int(np.count_nonzero((mine.images != theirs.images).any(axis=(1, 2))))
        labels = int(np.count_nonzero(mine.labels != theirs.labels))
        if images and np.array_equal(255 - mine.images, theirs.images):
            found.append(f"{name} has black and white swapped" + (f", and {labels:,} labels differ" if labels else ""))
        elif images or labels:
            found.append(f"{name}: {images:,} of {len(mine):,} images and {labels:,} labels differ")
    return found


def _read_only(array: np.ndarray) -> np.ndarray:
    """A read-only view of ``array`` (the caller's array itself stays as it was)."""
    view = array.view()
    view.flags.writeable = False
    return view


def _locate(data_dir: str | os.PathLike | None) -> tuple[Path, ...] | None:
    """The source files (see ``_sources``) of the first folder in the search order that has them, or None."""
    if data_dir is not None:
        pinned: tuple[Path, str] | None = (Path(data_dir).expanduser(), "the data_dir argument")
    elif os.environ.get("COURSE_DATA_DIR"):
        pinned = (Path(os.environ["COURSE_DATA_DIR"]).expanduser(), "COURSE_DATA_DIR")
    else:
        pinned = None
    if pinned is not None:
        folder, origin = pinned
        sources = _sources(folder)
        if sources is None:
            raise CourseError(
                f"{folder} (from {origin}) holds no MNIST: expected the four files {_FILE_LIST} or {_JSON_NAME}; "
                f"fix the path, or leave it unset to use {work_dir()} (where `python -m course_utils download` "
                "puts them)"
            )
        return sources
    candidates = [work_dir(), *sorted(p for p in AISTUDIO_DATA_ROOT.glob("data*") if p.is_dir())]
    return next((found for found in map(_sources, candidates) if found is not None), None)


def _idx_path(folder: Path, name: str) -> Path | None:
    """``folder/name.gz``, else the unpacked ``folder/name``, else None."""
    return next((p for p in (folder / f"{name}.gz", folder / name) if p.is_file()), None)


def _sources(folder: Path) -> tuple[Path, ...] | None:
    """The four IDX files in ``folder`` (in ``_FILES`` order), else ``(mnist.json.gz,)``, else None."""
    idx = tuple(_idx_path(folder, name) for name in _FILES)
    if all(p is not None for p in idx):
        return idx  # type: ignore[return-value]
    json_file = folder / _JSON_NAME
    return (json_file,) if json_file.is_file() else None


def _content(path: Path) -> bytes:
    """The bytes of ``path``, un-gzipped if its name ends in ``.gz``.

    Raises ``CourseError`` if the file cannot be read, ``ValueError`` if its gzip data is damaged.
    """
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise CourseError(f"cannot read {path}: {error.strerror or error}") from error
    if path.suffix != ".gz":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"corrupt or truncated gzip data: {error}") from error


def _parse_idx(data: bytes) -> np.ndarray:
    """Parse IDX bytes: ``0 0 <type> <ndim>``, ``ndim`` big-endian uint32 sizes, then the values. ValueError if bad."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES or data[3] == 0:
        raise ValueError(f"bad magic number {data[:4].hex() or '(empty file)'}")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"header cut short: {len(data)} bytes")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[data[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(f"shape {list(shape)} needs {expected} bytes of data, the file has {len(data) - header}")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array if dtype.itemsize == 1 else _read_only(array.astype(dtype.newbyteorder("=")))


def _verified(path: Path, name: str) -> bytes:
    """The uncompressed content of ``path`` if it is exactly the official ``name``; ValueError saying what is wrong."""
    data = _content(path)
    sha256, shape = _FILES[name]
    if hashlib.sha256(data).hexdigest() == sha256:
        return data
    try:
        found = _parse_idx(data).shape
    except ValueError as error:
        raise ValueError(f"not an IDX file: {error}") from error
    if found != shape:
        raise ValueError(f"it holds an array of shape {list(found)} where {name} has {list(shape)}")
    raise ValueError(f"its content differs from the official file's (SHA-256 {sha256} when uncompressed)")


def _read_verified(path: Path, name: str) -> np.ndarray:
    """The array in ``path`` after checking that it is the official ``name``; CourseError otherwise."""
    try:
        return _parse_idx(_verified(path, name))
    except ValueError as error:
        raise CourseError(f"{path} is not a good copy of {name} ({error}); {_FIX}") from error


def _read_official(paths: Sequence[Path]) -> MnistData:
    """Verify and parse the four IDX files (in ``_FILES`` order) and cut them into the course's splits."""
    train_x, train_y, test_x, test_y = (_read_verified(p, name) for p, name in zip(paths, _FILES))
    train_y, test_y = train_y.astype(np.int64), test_y.astype(np.int64)
    return MnistData(
        train=Split(train_x[:_TRAIN_SIZE], train_y[:_TRAIN_SIZE]),
        val=Split(train_x[_TRAIN_SIZE:], train_y[_TRAIN_SIZE:]),
        test=Split(test_x, test_y),
    )


def _download(name: str, target: Path, progress: bool) -> None:
    """Fetch ``name.gz`` into ``target`` from the first mirror that delivers the verified file."""
    failures = []
    for mirror in MIRRORS:
        url = f"{mirror}{name}.gz"
        try:
            with atomic_write(target) as tmp:
                _fetch(url, tmp, progress)
                _verified(tmp, name)
            return
        except ValueError as error:
            failures.append(f"{mirror} (bad file: {error})")
        except urllib.error.HTTPError as error:
            failures.append(f"{mirror} (HTTP {error.code})")
        except urllib.error.URLError as error:
            failures.append(f"{mirror} ({error.reason})")
        except (OSError, http.client.HTTPException) as error:
            failures.append(f"{mirror} ({error!r})")
    raise CourseError(
        f"could not download {name}.gz; tried {'; '.join(failures) or 'no mirror (MIRRORS is empty)'}. "
        f"Get the four files {_FILE_LIST} by hand and put them in {target.parent}, "
        "or set COURSE_DATA_DIR to the folder that holds them"
    )


def _fetch(url: str, dest: Path, progress: bool) -> None:
    """Stream ``url`` into ``dest`` with a progress bar."""
    with urllib.request.urlopen(url, timeout=_TIMEOUT_SECONDS) as response, open(dest, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        name = url.rsplit("/", 1)[-1]
        with tqdm(total=total, desc=name, unit="B", unit_scale=True, unit_divisor=1024, disable=not progress) as bar:
            while chunk := response.read(1 << 16):
                out.write(chunk)
                bar.update(len(chunk))


def _cache_key(sources: Sequence[Path]) -> str:
    """Identifies the source files' current state: a changed, moved or replaced file gives another key."""
    parts = [f"v{_CACHE_VERSION}"]
    for path in sources:
        stat = path.stat()
        parts.append(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join(parts)


def _read_cache(path: Path, key: str) -> tuple[MnistData, str] | None:
    """The cached splits and note if ``path`` holds them for ``key``; None if it is missing, stale or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as cache:
            if str(cache["key"]) != key:
                return None
            data = MnistData(*(Split(cache[f"{s}_images"], cache[f"{s}_labels"]) for s in _SPLITS))
            return data, str(cache["note"])
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile, zlib.error):
        return None  # a damaged cache is simply rebuilt


def _write_cache(path: Path, key: str, data: MnistData, note: str) -> None:
    """Save the splits and the source's note under ``key``, atomically; a failure only costs speed, so it warns."""
    arrays = {"key": np.array(key), "note": np.array(note)}
    for name in _SPLITS:
        split = getattr(data, name)
        arrays[f"{name}_images"], arrays[f"{name}_labels"] = split.images, split.labels
    try:
        with atomic_write(path) as tmp, open(tmp, "wb") as out:
            np.savez(out, **arrays)
    except OSError as error:
        warnings.warn(f"could not write the MNIST cache {path} ({error}); loading will stay slower", stacklevel=3)
