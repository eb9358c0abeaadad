"""course_utils.mnist: against the real files in shared/mnist and small files made here.

Every test gets its own ``work/`` (COURSE_WORK_DIR), no COURSE_DATA_DIR, an empty AI Studio root and no download
mirrors, so nothing touches the real work/ folder or the network; downloads are simulated with ``file://`` mirrors.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from course_utils import mnist
from course_utils.errors import CourseError
from course_utils.mnist import (
    MnistData,
    Split,
    download_mnist,
    find_mnist,
    load_mnist,
    read_aistudio_json,
    read_idx,
    write_aistudio_json,
)

REAL_DIR = Path(os.environ.get("COURSE_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "mnist")
NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
# Published per-digit counts of the official 60,000 training and 10,000 test labels.
OFFICIAL_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
OFFICIAL_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
FIX_HINT = "python -m course_utils download"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSE_WORK_DIR", str(tmp_path / "work"))
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setattr(mnist, "AISTUDIO_DATA_ROOT", tmp_path / "aistudio")
    monkeypatch.setattr(mnist, "MIRRORS", ())


@pytest.fixture(scope="session")
def real(tmp_path_factory: pytest.TempPathFactory) -> MnistData:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_WORK_DIR", str(tmp_path_factory.mktemp("work")))
        return load_mnist(REAL_DIR, download=False, progress=False)


@pytest.fixture
def small() -> MnistData:
    """Random images (every pixel value 0-255 occurs) and labels, 30/20/10 per split."""
    rng = np.random.default_rng(0)

    def split(n: int) -> Split:
        return Split(rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.int64))

    return MnistData(split(30), split(20), split(10))


def real_copy(folder: Path, **replace: bytes) -> Path:
    """``folder`` with links to the four real files, except those in ``replace`` (``t10k_images_idx3_ubyte=...``)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        target = folder / f"{name}.gz"
        if name.replace("-", "_") in replace:
            target.write_bytes(replace[name.replace("-", "_")])
        else:
            target.symlink_to(REAL_DIR / f"{name}.gz")
    return folder


def raw(name: str) -> bytes:
    return (REAL_DIR / f"{name}.gz").read_bytes()


def assert_same(a: MnistData, b: MnistData) -> None:
    for name in ("train", "val", "test"):
        assert np.array_equal(getattr(a, name).images, getattr(b, name).images), name
        assert np.array_equal(getattr(a, name).labels, getattr(b, name).labels), name


def write_idx(path: Path, array: np.ndarray, type_code: int) -> None:
    header = bytes([0, 0, type_code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


# --- the real data --------------------------------------------------------------------------------------------------


def test_splits_shapes_dtypes_and_label_counts(real: MnistData) -> None:
    assert [len(real.train), len(real.val), len(real.test)] == [50000, 10000, 10000]
    for split in (real.train, real.val, real.test):
        assert split.images.dtype == np.uint8 and split.images.shape == (len(split), 28, 28)
        assert split.labels.dtype == np.int64 and split.labels.shape == (len(split),)
        assert not split.images.flags.writeable and not split.labels.flags.writeable
    assert np.bincount(np.concatenate([real.train.labels, real.val.labels])).tolist() == OFFICIAL_TRAIN_COUNTS
    assert np.bincount(real.test.labels).tolist() == OFFICIAL_TEST_COUNTS
    assert real.train.labels[:5].tolist() == [5, 0, 4, 1, 9] and real.test.labels[:5].tolist() == [7, 2, 1, 0, 4]
    official_train = read_idx(REAL_DIR / "train-images-idx3-ubyte.gz")
    assert np.array_equal(official_train[:50000], real.train.images)  # train = the first 50,000
    assert np.array_equal(official_train[50000:], real.val.images)  # val = the last 10,000
    assert real.test.images.min() == 0 and real.test.images.max() == 255


@pytest.mark.filterwarnings("ignore:No ccache found")
def test_same_pixels_and_labels_as_paddle_reader(real: MnistData) -> None:
    from paddle.vision.datasets import MNIST

    expected = {
        "train": (np.concatenate([real.train.images, real.val.images]), np.concatenate([real.train.labels, real.val.labels])),
        "test": (real.test.images, real.test.labels),
    }
    for mode, prefix in (("train", "train"), ("test", "t10k")):
        dataset = MNIST(
            image_path=str(REAL_DIR / f"{prefix}-images-idx3-ubyte.gz"),
            label_path=str(REAL_DIR / f"{prefix}-labels-idx1-ubyte.gz"),
            mode=mode,
            download=False,
            backend="cv2",
        )
        samples = [dataset[i] for i in range(len(dataset))]
        images, labels = expected[mode]
        assert np.array_equal(np.stack([image for image, _ in samples]), images.astype(np.float32)), mode
        assert np.array_equal(np.concatenate([label for _, label in samples]), labels), mode


# --- read_idx ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".gz", ""])
def test_read_idx_reads_other_types_and_unpacked_files(tmp_path: Path, suffix: str) -> None:
    shorts = np.arange(-12, 12, dtype=np.int16).reshape(2, 3, 4)
    floats = np.linspace(-1, 1, 5, dtype=np.float32)
    write_idx(tmp_path / f"shorts{suffix}", shorts, 0x0B)
    write_idx(tmp_path / f"floats{suffix}", floats, 0x0D)
    assert np.array_equal(read_idx(tmp_path / f"shorts{suffix}"), shorts)
    assert np.array_equal(read_idx(tmp_path / f"floats{suffix}"), floats)
    assert read_idx(tmp_path / f"shorts{suffix}").dtype == np.int16


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x00\x00\x07\x01\x00\x00\x00\x01x", "bad magic number 00000701"),  # unknown type code
        (b"\x00\x00\x08\x03\x00\x00\x00\x02", "header cut short"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x05abc", r"shape \[5\] needs 5 bytes of data, the file has 3"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x02abc", r"shape \[2\] needs 2 bytes of data, the file has 3"),
    ],
)
def test_read_idx_validates_the_header(tmp_path: Path, data: bytes, reason: str) -> None:
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(data)
    with pytest.raises(CourseError, match=reason) as error:
        read_idx(path)
    assert str(path) in str(error.value)


# --- damaged, wrong and re-compressed files -------------------------------------------------------------------------


def _truncated() -> bytes:
    data = raw("t10k-images-idx3-ubyte")
    return data[: len(data) // 2]


def _corrupted() -> bytes:
    data = bytearray(raw("t10k-images-idx3-ubyte"))
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    return bytes(data)


def _one_pixel_changed() -> bytes:
    data = bytearray(gzip.decompress(raw("t10k-images-idx3-ubyte")))
    data[16 + 14 * 28 + 14] ^= 0xFF
    return gzip.compress(bytes(data), compresslevel=1)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (_truncated, "corrupt or truncated gzip data"),
        (_corrupted, "corrupt or truncated gzip data"),
        (_one_pixel_changed, "content differs from the official file's \\(SHA-256 0fa7898d"),
        (lambda: raw("t10k-labels-idx1-ubyte"), r"shape \[10000\] where t10k-images-idx3-ubyte has \[10000, 28, 28\]"),
        (lambda: gzip.compress(b"<html>Not Found</html>"), "not an IDX file: bad magic number"),
    ],
    ids=["truncated-gzip", "corrupt-gzip", "wrong-hash", "labels-as-images", "not-idx"],
)
def test_bad_file_is_refused_with_one_line_that_says_what_to_do(tmp_path: Path, make, reason: str) -> None:
    folder = real_copy(tmp_path / "data", t10k_images_idx3_ubyte=make())
    with pytest.raises(CourseError, match=reason) as error:
        load_mnist(folder, download=False)
    message = str(error.value)
    assert f"{folder / 't10k-images-idx3-ubyte.gz'} is not a good copy of t10k-images-idx3-ubyte" in message
    assert FIX_HINT in message and "\n" not in message


def test_recompressed_and_unpacked_files_pass(tmp_path: Path, real: MnistData) -> None:
    recompressed = gzip.compress(gzip.decompress(raw("t10k-images-idx3-ubyte")), compresslevel=1, mtime=0)
    assert recompressed != raw("t10k-images-idx3-ubyte")
    folder = real_copy(tmp_path / "data", t10k_images_idx3_ubyte=recompressed)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    (folder / "t10k-labels-idx1-ubyte").write_bytes(gzip.decompress(raw("t10k-labels-idx1-ubyte")))
    assert_same(load_mnist(folder, download=False), real)


# --- the cache -----------------------------------------------------------------------------------------------------


def test_second_load_comes_from_the_cache_fast_and_equal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = real_copy(tmp_path / "data")
    first = load_mnist(folder)
    assert (tmp_path / "work" / "cache" / "mnist.npz").is_file()

    def no_parsing(data: bytes) -> bytes:
        raise AssertionError("the source files were read again")

    monkeypatch.setattr(gzip, "decompress", no_parsing)
    start = time.perf_counter()
    second = load_mnist(folder)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"cached load took {elapsed:.2f} s"
    assert_same(first, second)
    assert not second.train.images.flags.writeable


def test_changed_source_file_invalidates_the_cache(tmp_path: Path, real: MnistData) -> None:
    folder = real_copy(tmp_path / "data")
    load_mnist(folder)
    target = folder / "t10k-images-idx3-ubyte.gz"
    target.unlink()
    target.write_bytes(raw("t10k-labels-idx1-ubyte"))  # the cache must not hide that this file is now wrong
    with pytest.raises(CourseError, match="is not a good copy of t10k-images-idx3-ubyte"):
        load_mnist(folder)
    target.write_bytes(gzip.compress(gzip.decompress(raw("t10k-images-idx3-ubyte")), compresslevel=1))
    assert_same(load_mnist(folder), real)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_cache_is_silently_rebuilt(tmp_path: Path, real: MnistData, damage: str) -> None:
    folder = real_copy(tmp_path / "data")
    load_mnist(folder)
    cache = tmp_path / "work" / "cache" / "mnist.npz"
    cache.write_bytes(b"not a zip file" if damage == "garbage" else cache.read_bytes()[: cache.stat().st_size // 2])
    assert_same(load_mnist(folder), real)
    with np.load(cache) as rebuilt:
        assert rebuilt["test_images"].shape == (10000, 28, 28)


# --- AI Studio's mnist.json.gz -------------------------------------------------------------------------------------


ENCODINGS = list(mnist.ENCODINGS)


def cut(data: MnistData, n: int) -> MnistData:
    """The first ``n`` images of each split."""
    return MnistData(*(Split(s.images[:n], s.labels[:n]) for s in (data.train, data.val, data.test)))


def write_json(path: Path, data: MnistData, spelling: list[str]) -> None:
    """``data`` as mnist.json.gz written by another tool: ``spelling[p]`` is the text of pixel ``p``."""
    text = np.array(spelling, dtype=object)
    with gzip.open(path, "wt") as out:
        splits = [
            "[[" + ",".join("[" + ",".join(text[image.ravel()]) + "]" for image in s.images) + "], "
            + json.dumps(s.labels.tolist()) + "]"
            for s in (data.train, data.val, data.test)
        ]
        out.write("[" + ", ".join(splits) + "]")


def spellings(encoding: str, how: str) -> list[str]:
    """How another tool may have spelled each grey level's value in ``encoding``."""
    divisor, offset, _ = mnist.ENCODINGS[encoding]
    p = np.arange(256)
    if how == "float64":
        return [repr(float(v)) for v in p / divisor + offset]
    if how == "float32 computed in float32":  # e.g. np.float32 arrays: x / 255 * 2 - 1, then json.dump(x.tolist())
        x = p.astype(np.float32) / np.float32(divisor * 2 if offset else divisor)
        return [repr(float(v)) for v in (x * np.float32(2) - np.float32(1) if offset else x)]
    assert how == "float32 shortest"  # str() of a numpy float32: "0.003921569"
    return [str(v) for v in (p / divisor + offset).astype(np.float32)]


def one_line_about(error: pytest.ExceptionInfo, path: Path) -> str:
    message = str(error.value)
    assert str(path) in message and "\n" not in message
    return message


def test_full_size_json_reads_back_the_official_splits_and_says_so(
    tmp_path: Path, real: MnistData, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mnist.json.gz"
    write_aistudio_json(real, path)  # the default: float32 p/256, as the Theano-layout original most likely is
    capsys.readouterr()
    assert_same(read_aistudio_json(path), real)
    note = capsys.readouterr().err
    assert note == (
        f"{path}: pixels p/256 in [0, 1) (exact values); 50,000/10,000/10,000 images, "
        "identical to the official IDX splits\n"
    )


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("float32", [True, False], ids=["float32", "float64"])
def test_json_round_trip_in_every_encoding(tmp_path: Path, small: MnistData, encoding: str, float32: bool) -> None:
    path = tmp_path / "mnist.json.gz"
    write_aistudio_json(small, path, encoding=encoding, float32=float32)
    with gzip.open(path, "rt") as file:
        parts = json.load(file)
    assert [len(images) for images, _ in parts] == [30, 20, 10]
    assert all(len(image) == 784 for images, _ in parts for image in images)
    values = np.array([image for images, _ in parts for image in images])
    divisor, offset, _ = mnist.ENCODINGS[encoding]
    assert values.min() == offset and values.max() == pytest.approx(255 / divisor + offset, abs=1e-7)
    assert len(np.unique(values)) == 256
    assert parts[2][1] == small.test.labels.tolist()
    assert_same(read_aistudio_json(path, verbose=False), small)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("how", ["float64", "float32 computed in float32", "float32 shortest"])
def test_json_from_the_idx_data_written_elsewhere_reads_exactly(
    tmp_path: Path, real: MnistData, capsys: pytest.CaptureFixture[str], encoding: str, how: str
) -> None:
    data = cut(real, 200)
    assert len(np.unique(data.train.images)) == 256  # every grey level occurs, so every grid point is checked
    path = tmp_path / "mnist.json.gz"
    write_json(path, data, spellings(encoding, how))
    capsys.readouterr()
    assert_same(read_aistudio_json(path), data)
    precision = "exact values" if how == "float64" or encoding in ("p/256", "p/128-1") else "float32 values"
    assert capsys.readouterr().err == (
        f"{path}: pixels {encoding} in {mnist.ENCODINGS[encoding][2]} ({precision}); 200/200/200 images, "
        f"NOT the official IDX splits (their SHA-256 differ); to see how they differ, put the four official files "
        f"in {tmp_path / 'work'} (`python -m course_utils download`)\n"
    )


def test_json_from_another_source_says_how_it_differs_from_the_idx_files(
    tmp_path: Path, real: MnistData, capsys: pytest.CaptureFixture[str]
) -> None:
    real_copy(tmp_path / "work")  # the official files are at hand
    path = tmp_path / "elsewhere" / "mnist.json.gz"
    write_aistudio_json(cut(real, 100), path, encoding="p/255")
    assert_same(load_mnist(path.parent, progress=True), cut(real, 100))
    assert capsys.readouterr().err.endswith(
        "100/100/100 images, NOT the official IDX splits: train has 100 images, the official 50,000; "
        "val has 100 images, the official 10,000; test has 100 images, the official 10,000\n"
    )


def test_differences_of_same_sized_splits_are_counted(real: MnistData) -> None:
    train = real.train.images.copy()
    train[7, 3, 3] ^= 1
    labels = real.val.labels.copy()
    labels[:5] = (labels[:5] + 1) % 10
    other = MnistData(
        Split(train, real.train.labels), Split(real.val.images, labels), Split(255 - real.test.images, real.test.labels)
    )
    assert mnist._differences(other, real) == [
        "train: 1 of 50,000 images and 0 labels differ",
        "val: 0 of 10,000 images and 5 labels differ",
        "test has black and white swapped",
    ]
    assert mnist._differences(real, real) == []


def test_load_mnist_reads_json_in_work_caches_it_and_repeats_its_note(
    tmp_path: Path, small: MnistData, capsys: pytest.CaptureFixture[str]
) -> None:
    write_aistudio_json(small, tmp_path / "work" / "mnist.json.gz")
    assert_same(load_mnist(download=False), small)
    assert (tmp_path / "work" / "cache" / "mnist.npz").is_file()
    first = capsys.readouterr().err
    assert "pixels p/256 in [0, 1)" in first and "NOT the official IDX splits" in first
    assert_same(load_mnist(download=False), small)
    assert capsys.readouterr().err == first
    load_mnist(download=False, progress=False)
    assert capsys.readouterr().err == ""


def images_of(values: np.ndarray) -> list:
    """Three splits holding these pixel values (``[N, 784]``), with labels 0."""
    return [[values.tolist(), [0] * len(values)] for _ in range(3)]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ([[[], []], [[], []]], "does not have the AI Studio MNIST layout .*expected ',' before the test split"),
        ([[[[0.5] * 783], [1]], [[], []], [[], []]], "train image 0 has 783 numbers, not 784"),
        ([[[[0.5] * 784], [1, 2]], [[], []], [[], []]], "the train split has 1 images but 2 labels"),
        ([[[[[0.5]] * 784], [1]], [[], []], [[], []]], r"which is not a number"),
        ([[[[0.0] * 784], [10]], [[[0.0] * 784], [2]], [[[0.0] * 784], [3]]], "labels are not digits 0-9"),
        ([[[[0.0] * 784], [1.5]], [[[0.0] * 784], [2]], [[[0.0] * 784], [3]]], "labels are not digits 0-9"),
    ],
    ids=["two-splits", "short-image", "more-labels", "nested-image", "label-10", "label-1.5"],
)
def test_json_in_another_layout_is_refused_with_one_line(tmp_path: Path, content: list, reason: str) -> None:
    path = tmp_path / "mnist.json.gz"
    path.write_bytes(gzip.compress(json.dumps(content).encode()))
    with pytest.raises(CourseError, match=reason) as error:
        read_aistudio_json(path)
    assert FIX_HINT in one_line_about(error, path)


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        (np.full((2, 784), np.nan), "some pixel values are NaN or infinite"),
        (np.full((2, 784), np.inf), "some pixel values are NaN or infinite"),
        (np.linspace(0, 1.5, 2 * 784).reshape(2, 784), r"from 0 to 1.5\) fit no known encoding"),
        (np.linspace(-2, 0, 2 * 784).reshape(2, 784), r"from -2 to 0\) fit no known encoding"),
        ((np.arange(2 * 784) % 256 / 300).reshape(2, 784), r"fit no known encoding of grey levels 0-255 \(p/256 in"),
        ((np.arange(2 * 784) % 256 / 127.5 - 1.1).reshape(2, 784), r"fit no known encoding"),
        (np.random.default_rng(0).random((84, 784)), "more than 65,536 different values"),
    ],
    ids=["nan", "infinity", "above-1", "below-minus-1", "p-over-300", "shifted", "noise"],
)
def test_json_in_no_known_encoding_is_refused_with_one_line(tmp_path: Path, values: np.ndarray, reason: str) -> None:
    path = tmp_path / "mnist.json.gz"
    path.write_bytes(gzip.compress(json.dumps(images_of(values)).encode()))
    with pytest.raises(CourseError, match=reason) as error:
        read_aistudio_json(path)
    assert FIX_HINT in one_line_about(error, path)


def test_each_encoding_is_found_even_from_a_few_values(tmp_path: Path) -> None:
    """1.0 is 255 in p/255 but 256 (too much) in p/256; 0.5 is 128/256 (p/128-1 would read 128 and 192 too: the
    first encoding in ``ENCODINGS`` wins a tie); with -1, 0.5 is p/128-1's 192 and p/127.5-1's 191.25 (no grey level).
    """
    path = tmp_path / "mnist.json.gz"
    cases = [([0.0, 1.0], [0, 255]), ([0.0, 0.5], [0, 128]), ([-1.0, 0.5], [0, 192]), ([-1.0, 1.0], [0, 255])]
    for values, pixels in cases:
        path.write_bytes(gzip.compress(json.dumps(images_of(np.array([values * 392]))).encode()))
        assert read_aistudio_json(path, verbose=False).train.images.ravel()[:2].tolist() == pixels


@pytest.mark.parametrize("where", ["gzip", "json"])
def test_truncated_json_is_refused_with_one_line_naming_it(tmp_path: Path, small: MnistData, where: str) -> None:
    path = tmp_path / "mnist.json.gz"
    write_aistudio_json(small, path)
    if where == "gzip":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        reason = "is corrupt or truncated"
    else:
        text = gzip.decompress(path.read_bytes())
        path.write_bytes(gzip.compress(text[: len(text) // 2]))
        reason = "does not have the AI Studio MNIST layout .*the file ends in the middle of a list"
    with pytest.raises(CourseError, match=reason) as error:
        read_aistudio_json(path)
    assert FIX_HINT in one_line_about(error, path)


def test_write_aistudio_json_refuses_other_encodings(tmp_path: Path, small: MnistData) -> None:
    with pytest.raises(ValueError, match="encoding must be one of"):
        write_aistudio_json(small, tmp_path / "mnist.json.gz", encoding="p/100")
    assert not (tmp_path / "mnist.json.gz").exists()


# --- where the data is found ---------------------------------------------------------------------------------------


def fake_idx_folder(folder: Path) -> Path:
    """A folder with the four file names (empty: finding looks at names only)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        (folder / f"{name}.gz").touch()
    return folder


def test_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit, env, work = (fake_idx_folder(tmp_path / name) for name in ("explicit", "env", "work"))
    aistudio = tmp_path / "aistudio" / "data65"
    aistudio.mkdir(parents=True)
    (aistudio / "mnist.json.gz").touch()
    (tmp_path / "aistudio" / "data1").mkdir()  # an AI Studio data set without MNIST is skipped
    monkeypatch.setenv("COURSE_DATA_DIR", str(env))
    assert find_mnist(explicit) == explicit
    assert find_mnist() == env
    monkeypatch.delenv("COURSE_DATA_DIR")
    assert find_mnist() == work
    shutil.rmtree(work)
    assert find_mnist() == aistudio
    shutil.rmtree(aistudio)
    assert find_mnist() is None


def test_idx_files_win_over_json_in_the_same_folder(tmp_path: Path, small: MnistData, real: MnistData) -> None:
    folder = real_copy(tmp_path / "data")
    write_aistudio_json(small, folder / "mnist.json.gz")
    assert_same(load_mnist(folder), real)


def test_named_folder_without_mnist_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_idx_folder(tmp_path / "work")  # would be found, but a named folder takes precedence
    with pytest.raises(CourseError, match="from the data_dir argument"):
        find_mnist(tmp_path)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(CourseError, match="from COURSE_DATA_DIR"):
        load_mnist()


def test_missing_data_without_download_says_how_to_get_it() -> None:
    with pytest.raises(CourseError, match="MNIST not found") as error:
        load_mnist(download=False)
    assert FIX_HINT in str(error.value) and "COURSE_DATA_DIR" in str(error.value)


# --- downloading ---------------------------------------------------------------------------------------------------


def serve(folder: Path, files: dict[str, bytes]) -> str:
    """A ``file://`` mirror serving ``files`` (name without .gz -> content)."""
    folder.mkdir(parents=True)
    for name, content in files.items():
        (folder / f"{name}.gz").write_bytes(content)
    return folder.as_uri() + "/"


def test_download_falls_through_to_the_next_mirror(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real: MnistData
) -> None:
    missing = (tmp_path / "nowhere").as_uri() + "/"
    wrong = serve(tmp_path / "wrong", {name: raw("t10k-labels-idx1-ubyte") for name in NAMES})
    monkeypatch.setattr(mnist, "MIRRORS", (missing, wrong, REAL_DIR.as_uri() + "/"))
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "t10k-images-idx3-ubyte.gz").write_bytes(_truncated())  # a damaged file gets repaired
    assert download_mnist(dest, progress=False) == dest
    assert sorted(os.listdir(dest)) == sorted(f"{name}.gz" for name in NAMES)  # no temporary files left
    for name in NAMES:
        assert gzip.decompress((dest / f"{name}.gz").read_bytes()) == gzip.decompress(raw(name))
    assert_same(load_mnist(dest), real)


def test_load_mnist_downloads_into_work_with_a_progress_bar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], real: MnistData
) -> None:
    monkeypatch.setattr(mnist, "MIRRORS", (REAL_DIR.as_uri() + "/",))
    assert_same(load_mnist(), real)
    assert sorted(os.listdir(tmp_path / "work")) == sorted(["cache", *(f"{name}.gz" for name in NAMES)])
    assert "t10k-images-idx3-ubyte.gz" in capsys.readouterr().err


def test_bad_download_replaces_nothing_and_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    good = dest / "train-images-idx3-ubyte.gz"
    shutil.copyfile(REAL_DIR / "train-images-idx3-ubyte.gz", good)
    before = (good.read_bytes(), good.stat().st_mtime_ns)
    bad = serve(tmp_path / "bad", {name: gzip.compress(b"garbage") for name in NAMES})
    missing = (tmp_path / "nowhere").as_uri() + "/"
    monkeypatch.setattr(mnist, "MIRRORS", (bad, missing))
    with pytest.raises(CourseError, match="could not download train-labels-idx1-ubyte.gz") as error:
        download_mnist(dest, progress=False)
    message = str(error.value)
    assert f"{bad} (bad file: not an IDX file" in message and missing in message
    assert str(dest) in message and "COURSE_DATA_DIR" in message and "\n" not in message
    assert os.listdir(dest) == [good.name]
    assert (good.read_bytes(), good.stat().st_mtime_ns) == before


def test_interrupted_download_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Interrupted(io.BytesIO):
        """A response that delivers 1,000 bytes, then the student presses Ctrl-C."""

        headers = {"Content-Length": "9000000"}

        def read(self, size: int = -1) -> bytes:
            if self.tell() >= 1000:
                raise KeyboardInterrupt
            return super().read(1000)

    monkeypatch.setattr(mnist, "MIRRORS", ("https://mirror.invalid/",))
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: Interrupted(raw("train-images-idx3-ubyte")))
    with pytest.raises(KeyboardInterrupt):
        download_mnist(tmp_path / "dest", progress=False)
    assert os.listdir(tmp_path / "dest") == []
