"""The shared argument checks (gradcore/checks.py) that creation, ops, nn, data and the seed use."""
import sys

import numpy as np
import pytest

from gradcore import checks


def test_integer_accepts_ints_and_numpy_ints_only():
    assert checks.integer(np.int16(3), "op", "size") == 3 and type(checks.integer(
        np.int16(3), "op", "size")) is int
    for bad in [2.0, True, np.bool_(True), "2", None, np.float32(1)]:
        with pytest.raises(TypeError, match=r"^op: size must be an integer, got"):
            checks.integer(bad, "op", "size")


def test_int_tuple():
    assert checks.int_tuple(1, "op", "axis") == (1,)
    assert checks.int_tuple([np.int64(0), -1], "op", "axis") == (0, -1)
    for bad in [1.5, "01", (0, 1.5), None]:
        with pytest.raises(TypeError, match=r"^op: axis must be"):
            checks.int_tuple(bad, "op", "axis")


def test_seed():
    assert checks.seed(2**70, "s") == 2**70  # NumPy takes any non-negative int
    with pytest.raises(ValueError, match="^s: seed must be a non-negative integer, got -1"):
        checks.seed(-1, "s")


def test_addressable_is_numpys_rule():
    """NumPy counts nonzero sizes only: (2**62, 2**62, 0) holds nothing and is still refused."""
    for dims, itemsize in [((2**62, 2**62, 0), 4), ((2**60, 0), 8), ((2**40, 2**40), 4),
                           ((2**60 - 1, 0), 8), ((0, 2**31), 8), ((3, 4), 8), ((), 8)]:
        try:
            np.empty(dims, np.dtype(f"V{itemsize}"))  # never touched: only the check matters
            numpy_ok = True
        except (ValueError, MemoryError) as e:
            numpy_ok = isinstance(e, MemoryError)  # a size NumPy accepts but cannot allocate
        assert checks.addressable(dims, itemsize) == numpy_ok, dims
    assert checks.addressable((sys.maxsize,), 1) and not checks.addressable((sys.maxsize,), 2)
