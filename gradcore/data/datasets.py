"""Datasets: the packaged MNIST subset, and readers for MNIST-style IDX files.

Everything returns NumPy arrays (images, labels); hand them to
:class:`gradcore.data.DataLoader` to get batches of Tensors on a device. Nothing here unpickles:
the packaged file is read with ``allow_pickle=False``.
"""
from __future__ import annotations

import functools
import gzip
import importlib.resources
import os

import numpy

from gradcore import checks

__all__ = ["load_mnist5k", "stratified_split", "read_idx", "load_idx_dataset",
           "MNIST5K_SHA256"]

MNIST5K_SHA256 = "246e0c30eeea57c8d0037d3f38c8e00651ec204cc61b8022563e9aeeb9d756f4"
_SPLITS = ("train", "test", "all")


def load_mnist5k(split="train", test_size=1000, seed=0, normalize=True, flatten=True):
    """The packaged 5,000-image MNIST subset (500 per digit): ``(images, labels)``.

    ``split`` is ``"train"``, ``"test"`` (``test_size`` images) or ``"all"``. The split is
    stratified (each digit as evenly represented in the test set as ``test_size`` allows) and
    depends only on ``seed``, so train and test are disjoint and identical on every run. Both
    come in a shuffled order, not sorted by label as in the file. Images are float32 in [0, 1]
    (``uint8`` 0..255 if not ``normalize``), shaped (N, 784), or (N, 28, 28) if not
    ``flatten``; labels are int64. Licence: CC BY-SA 3.0, see ``gradcore/data/MNIST5K.md``.

    >>> from gradcore.data import load_mnist5k
    >>> x, y = load_mnist5k("test")
    >>> x.shape, x.dtype, y.dtype, int((y == 3).sum())
    ((1000, 784), dtype('float32'), dtype('int64'), 100)
    """
    if split not in _SPLITS:
        raise ValueError(f"load_mnist5k: split must be one of {_SPLITS}, got {split!r}")
    images, labels = _mnist5k_arrays()
    if split == "all":
        rows = numpy.arange(len(labels))
    else:
        train, test = stratified_split(labels, test_size, seed)
        rows = train if split == "train" else test
    return _finish(images[rows], labels[rows], normalize, flatten)


@functools.lru_cache(maxsize=1)
def _mnist5k_arrays():
    """The packaged arrays, read once; read-only, so callers can only take copies."""
    with importlib.resources.files("gradcore.data").joinpath("mnist5k.npz").open("rb") as f:
        with numpy.load(f, allow_pickle=False) as npz:
            images, labels = npz["images"], npz["labels"]
    images.flags.writeable = labels.flags.writeable = False
    return images, labels


def stratified_split(labels, test_size, seed=0):
    """Indices ``(train, test)`` that split ``labels`` with each class spread evenly over test.

    The samples are shuffled with ``seed``, then dealt round-robin across classes (the first of
    every class, then the second of every class, ...) with the class order of each round also
    shuffled; the first ``test_size`` dealt form the test set. So with 10 balanced classes and
    ``test_size=1000`` each class gives exactly 100. Both index arrays are in shuffled order.

    >>> import numpy
    >>> train, test = stratified_split(numpy.repeat([0, 1], 5), test_size=4, seed=0)
    >>> sorted(numpy.repeat([0, 1], 5)[test].tolist()), len(train)
    ([0, 0, 1, 1], 6)
    """
    labels = numpy.asarray(labels)
    n = len(labels)
    if not checks.is_integer(test_size) or not 0 < test_size < n:
        raise ValueError(f"stratified_split: test_size must be an int in [1, {n - 1}] for "
                         f"{n} samples, got {test_size!r}")
    rng = numpy.random.default_rng(None if seed is None else checks.seed(seed, "stratified_split"))
    perm = rng.permutation(n)
    shuffled = labels[perm]
    # rank of each sample within its class, in shuffled order: 0 for the first one seen, ...
    _, inverse = numpy.unique(shuffled, return_inverse=True)
    rank = numpy.empty(n, dtype=numpy.int64)
    for c in range(inverse.max() + 1):
        where = numpy.flatnonzero(inverse == c)
        rank[where] = numpy.arange(len(where))
    tiebreak = rng.random(n)  # shuffles the class order inside each round
    dealt = perm[numpy.lexsort((tiebreak, rank))]
    in_test = numpy.zeros(n, dtype=bool)
    in_test[dealt[:test_size]] = True
    return perm[~in_test[perm]], perm[in_test[perm]]


def read_idx(path):
    """Read one IDX file (the MNIST format), gzipped or not, as a NumPy array in native order.

    The format: two zero bytes, a dtype code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), the number of dimensions, each dimension as a big-endian
    uint32, then the data, big-endian. Raises ``ValueError`` naming the file for a bad magic
    number, an unknown dtype code, or a size that does not match the dimensions.

    >>> import os, tempfile, numpy
    >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte")
    >>> with open(path, "wb") as f:
    ...     _ = f.write(bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 1, 4]))
    >>> read_idx(path)
    array([7, 1, 4], dtype=uint8)
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":  # gzip magic: decompress whatever the file is called
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, ValueError) as e:
            raise ValueError(f"read_idx: {path}: corrupt gzip data ({e})") from e
    if len(raw) < 4 or raw[:2] != b"\x00\x00":
        raise ValueError(f"read_idx: {path}: not an IDX file (bad magic number "
                         f"{raw[:4].hex() or 'empty'}; expected 0000 then dtype and ndim bytes)")
    dtype = _IDX_DTYPES.get(raw[2])
    if dtype is None:
        raise ValueError(f"read_idx: {path}: unknown IDX dtype code 0x{raw[2]:02X}")
    ndim = raw[3]
    start = 4 + 4 * ndim
    if len(raw) < start:
        raise ValueError(f"read_idx: {path}: truncated header ({len(raw)} bytes for {ndim} dims)")
    shape = tuple(int(d) for d in numpy.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = start + int(numpy.prod(shape, dtype=numpy.int64)) * dtype.itemsize
    if len(raw) != expected:
        problem = "truncated" if len(raw) < expected else "longer than its header says"
        raise ValueError(f"read_idx: {path}: file {problem}: dims {shape} of {dtype.name} need "
                         f"{expected} bytes, found {len(raw)}")
    data = numpy.frombuffer(raw, dtype, offset=start).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # native order, and a writable copy


_IDX_DTYPES = {0x08: numpy.dtype("u1"), 0x09: numpy.dtype("i1"), 0x0B: numpy.dtype(">i2"),
               0x0C: numpy.dtype(">i4"), 0x0D: numpy.dtype(">f4"), 0x0E: numpy.dtype(">f8")}


def load_idx_dataset(directory, split="train", normalize=True, flatten=True):
    """``(images, labels)`` from an MNIST-layout folder (MNIST, Fashion-MNIST, KMNIST...).

    Looks for ``train-images-idx3-ubyte`` / ``train-labels-idx1-ubyte`` (``split="train"``) or
    ``t10k-...`` (``split="test"``), each optionally ``.gz``, also with a ``.`` in place of the
    last ``-`` (``train-images.idx3-ubyte``) as some mirrors name them. Images become float32
    (``uint8`` grey levels scaled to [0, 1]) unless not ``normalize``, and (N, rows*cols) unless
    not ``flatten``; labels int64.

    >>> import os, tempfile, numpy
    >>> d = tempfile.mkdtemp()
    >>> with open(os.path.join(d, "t10k-images-idx3-ubyte"), "wb") as f:
    ...     _ = f.write(bytes([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 0, 255, 0, 255]))
    >>> with open(os.path.join(d, "t10k-labels-idx1-ubyte"), "wb") as f:
    ...     _ = f.write(bytes([0, 0, 8, 1, 0, 0, 0, 1, 5]))
    >>> x, y = load_idx_dataset(d, "test")
    >>> x.tolist(), y.tolist()
    ([[0.0, 1.0, 0.0, 1.0]], [5])
    """
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise ValueError(f"load_idx_dataset: split must be 'train' or 'test', got {split!r}")
    images = read_idx(_find(directory, prefix, "images", "idx3"))
    labels = read_idx(_find(directory, prefix, "labels", "idx1"))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"load_idx_dataset: {directory}: expected images (N, rows, cols) and "
                         f"labels (N,), got shapes {images.shape} and {labels.shape}")
    return _finish(images, labels, normalize, flatten)


def _find(directory, prefix, what, kind):
    tried = []
    for sep in ("-", "."):
        for ext in ("", ".gz"):
            path = os.path.join(directory, f"{prefix}-{what}{sep}{kind}-ubyte{ext}")
            if os.path.isfile(path):
                return path
            tried.append(os.path.basename(path))
    raise FileNotFoundError(f"load_idx_dataset: no {prefix} {what} file in {directory}; "
                            f"looked for {', '.join(tried)}")


def _finish(images, labels, normalize, flatten):
    """Shared output conventions: float32 in [0, 1] or raw dtype, flat or 2-D, int64 labels."""
    if normalize:  # grey levels 0..255 to [0, 1]; IDX files of other dtypes keep their scale
        scale = numpy.float32(255.0 if images.dtype == numpy.uint8 else 1.0)
        images = images.astype(numpy.float32) / scale
    else:
        images = images.copy()  # never hand out the cached read-only array
    if flatten:
        images = images.reshape(len(images), -1)
    return images, labels.astype(numpy.int64)
