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
official 10,000 test images. (``mnist.json.gz`` brings its own three splits, which are used as they are.)

Parsed arrays are cached in ``work/cache/mnist.npz`` (uncompressed), keyed by the source files' paths, sizes and
modification times, so a later ``load_mnist`` takes a fraction of a second and a changed source file is re-read.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import os
import tempfile
import urllib.error
import urllib.request
import warnings
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from tqdm import tqdm

from .errors import CourseError
from .settings import work_dir

__all__ = [
    "AISTUDIO_DATA_ROOT",
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

_JSON_NAME = "mnist.json.gz"
_TRAIN_SIZE = 50_000
_SPLITS = ("train", "val", "test")
_PIXEL_RANGES = ((-1, 1), (0, 1))
_CACHE_VERSION = 1
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

    ``data_dir`` overrides the search (see the module docstring). ``progress`` shows download progress bars.
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
    data = _read_cache(cache, key)
    if data is None:
        data = read_aistudio_json(sources[0]) if len(sources) == 1 else _read_official(sources)
        _write_cache(cache, key, data)
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


def read_aistudio_json(path: str | os.PathLike) -> MnistData:
    """Read AI Studio's ``mnist.json.gz``: a JSON list ``[train, val, test]``, each ``[images, labels]``.

    Each image is a list of 784 floats, either ``p / 255`` (range [0, 1]) or ``p / 127.5 - 1`` (range [-1, 1]);
    the range is detected from the smallest value and the pixels are turned back into the exact uint8 values ``p``.
    The file's own splits are kept. Parsing with ``json`` is slow (20-45 s and close to 3 GB of memory for the
    full file), which is why ``load_mnist`` caches the result.
    """
    path = Path(path)
    try:
        parts = json.loads(_content(path))
    except ValueError as error:
        raise CourseError(f"{path} is not a valid gzipped JSON file ({error}); {_FIX}") from error
    layout = "a JSON list [train, val, test], each [images as lists of 784 numbers, labels]"
    if not (isinstance(parts, list) and len(parts) == 3 and all(isinstance(p, list) and len(p) == 2 for p in parts)):
        raise CourseError(f"{path} does not have the AI Studio MNIST layout ({layout}); {_FIX}")
    pixels, labels = [], []
    for i, name in enumerate(_SPLITS):
        try:
            pixels.append(np.asarray(parts[i][0], dtype=np.float64))
            labels.append(np.asarray(parts[i][1], dtype=np.float64))
        except (TypeError, ValueError) as error:
            raise CourseError(f"{path}: the {name} split is not {layout} ({error}); {_FIX}") from error
        parts[i] = None  # free the Python lists as soon as they are converted: they take most of the memory
        if pixels[i].ndim != 2 or pixels[i].shape[1] != 784 or labels[i].shape != pixels[i].shape[:1]:
            raise CourseError(
                f"{path}: the {name} split has images {list(pixels[i].shape)} and labels {list(labels[i].shape)}, "
                f"expected [N, 784] and [N]; {_FIX}"
            )
    from_minus_one = min(x.min(initial=0.0) for x in pixels) < 0
    splits = []
    for name, x, y in zip(_SPLITS, pixels, labels):
        p = (x + 1.0) * 127.5 if from_minus_one else x * 255.0
        p_int, y_int = np.rint(p), np.rint(y)
        if np.abs(p - p_int).max(initial=0) > 1e-3 or p_int.min(initial=0) < 0 or p_int.max(initial=0) > 255:
            raise CourseError(
                f"{path}: the {name} pixels are not whole multiples of 1/255 scaled to [0, 1] or to [-1, 1]; "
                "write the file with `write_aistudio_json`, or use the four IDX files instead"
            )
        if np.any(y != y_int) or y_int.min(initial=0) < 0 or y_int.max(initial=0) > 9:
            raise CourseError(f"{path}: the {name} labels are not digits 0-9; {_FIX}")
        splits.append(Split(p_int.astype(np.uint8).reshape(-1, 28, 28), y_int.astype(np.int64)))
    return MnistData(*splits)


def write_aistudio_json(data: MnistData, path: str | os.PathLike, *, pixel_range: tuple[int, int] = (-1, 1)) -> None:
    """Write ``data`` in AI Studio's ``mnist.json.gz`` layout (gzipped JSON ``[train, val, test]``).

    ``pixel_range`` is ``(-1, 1)`` (pixels ``p / 127.5 - 1``, the default) or ``(0, 1)`` (``p / 255``).
    ``read_aistudio_json`` detects the range, so both read back to exactly the same uint8 images. The file is
    written atomically: until it is complete, the old one (if any) stays.
    """
    if tuple(pixel_range) not in _PIXEL_RANGES:
        raise ValueError(f"pixel_range must be one of {_PIXEL_RANGES}, got {pixel_range!r}")
    p = np.arange(256, dtype=np.float64)
    values = p / 127.5 - 1.0 if tuple(pixel_range) == (-1, 1) else p / 255.0
    text = np.array([json.dumps(float(v)) for v in values], dtype=object)  # the JSON spelling of each pixel value
    path = Path(path)
    with _atomic_write(path) as tmp, gzip.open(tmp, "wt", encoding="ascii", compresslevel=6) as out:
        out.write("[")
        for i, split in enumerate((data.train, data.val, data.test)):
            out.write(", [[" if i else "[[")
            for j, image in enumerate(split.images):
                out.write((", [" if j else "[") + ", ".join(text[image.ravel()]) + "]")
            out.write("], " + json.dumps(split.labels.tolist()) + "]")
        out.write("]")


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
            with _atomic_write(target) as tmp:
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


@contextmanager
def _atomic_write(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it replaces ``path`` only if the block succeeds, else it is removed.

    The temporary name keeps the suffix (``.gz``), so it is read the way the final file will be. The finished file
    gets the usual permissions (``mkstemp`` makes it owner-only), so a shared data folder stays readable.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".part{path.suffix}")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _cache_key(sources: Sequence[Path]) -> str:
    """Identifies the source files' current state: a changed, moved or replaced file gives another key."""
    parts = [f"v{_CACHE_VERSION}"]
    for path in sources:
        stat = path.stat()
        parts.append(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join(parts)


def _read_cache(path: Path, key: str) -> MnistData | None:
    """The cached splits if ``path`` holds them for ``key``; None if it is missing, stale or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as cache:
            if str(cache["key"]) != key:
                return None
            return MnistData(*(Split(cache[f"{s}_images"], cache[f"{s}_labels"]) for s in _SPLITS))
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile, zlib.error):
        return None  # a damaged cache is simply rebuilt


def _write_cache(path: Path, key: str, data: MnistData) -> None:
    """Save the splits under ``key``, atomically; a failure only costs speed, so it warns instead of raising."""
    arrays = {"key": np.array(key)}
    for name in _SPLITS:
        split = getattr(data, name)
        arrays[f"{name}_images"], arrays[f"{name}_labels"] = split.images, split.labels
    try:
        with _atomic_write(path) as tmp, open(tmp, "wb") as out:
            np.savez(out, **arrays)
    except OSError as error:
        warnings.warn(f"could not write the MNIST cache {path} ({error}); loading will stay slower", stacklevel=3)
