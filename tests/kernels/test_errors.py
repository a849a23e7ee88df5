"""Kernel-flagged errors raised at the next synchronization (gradcore/kernels/errors.py).

The ledger serves NumPy flag buffers exactly as CuPy ones, so its bookkeeping runs here on the
CPU: what a kernel would write is written by hand. The GPU side (the cross-entropy kernel marking
a row, no wait at the call) is in tests/kernels/test_gpu_kernels.py and tests/test_gpu.py.
"""
from __future__ import annotations

import numpy as np
import pytest

import gradcore as gc
from gradcore.kernels import errors


@pytest.fixture(autouse=True)
def fresh_ledger(monkeypatch):
    monkeypatch.setattr(errors, "_ledgers", {})
    monkeypatch.setattr(errors, "_count", 0)


def _bad(value):
    return ValueError(f"op: value {value} is bad")


def test_a_marked_row_raises_once_at_the_next_check_naming_the_call():
    row = errors.flag_for(np.empty(1), _bad)
    assert row.tolist() == [0, 0] and errors.pending() == 1
    row[:] = (1, 42)  # the kernel found 42
    with pytest.raises(ValueError, match=r"op: value 42 is bad \(found by the call at .*test_errors\.py:\d+\)"):
        errors.check()
    assert errors.pending() == 0
    errors.check()  # reported once, the row is clear again
    assert errors.flag_for(np.empty(1), _bad).tolist() == [0, 0]


def test_clear_rows_raise_nothing_and_the_first_marked_row_wins():
    rows = [errors.flag_for(np.empty(1), _bad) for _ in range(5)]
    errors.check()  # none marked
    rows = [errors.flag_for(np.empty(1), _bad) for _ in range(5)]
    rows[3][:] = (1, 3)
    rows[1][:] = (1, 1)
    with pytest.raises(ValueError, match="value 1 is bad"):
        errors.check()
    errors.check()  # row 3 was read and cleared with the rest


def test_each_row_keeps_its_own_error():
    a = errors.flag_for(np.empty(1), _bad)
    errors.flag_for(np.empty(1), lambda v: TypeError(f"other {v}"))[:] = (1, -5)
    assert a.tolist() == [0, 0]
    with pytest.raises(TypeError, match="other -5"):
        errors.check()


def test_a_full_buffer_is_checked_before_a_row_is_handed_out_again(monkeypatch):
    monkeypatch.setattr(errors, "CAPACITY", 3)
    rows = [errors.flag_for(np.empty(1), _bad) for _ in range(3)]
    rows[2][:] = (1, 9)
    with pytest.raises(ValueError, match="value 9"):  # the 4th launch finds the buffer full
        errors.flag_for(np.empty(1), _bad)
    assert errors.pending() == 0
    for _ in range(7):
        errors.flag_for(np.empty(1), _bad)
    assert errors.pending() == 1  # two automatic checks on the way, nothing found


class _DeviceArray:
    """Stands in for a CuPy array at the host boundary: ``get()`` is the device-to-host copy."""

    def get(self):
        return np.zeros(2)


@pytest.mark.parametrize("read", [
    pytest.param(lambda: gc.tensor([1.5]).item(), id="item"),
    pytest.param(lambda: float(gc.tensor(1.5)), id="float"),
    pytest.param(lambda: bool(gc.tensor(True)), id="bool"),
    pytest.param(gc.cuda.synchronize, id="synchronize"),
    pytest.param(lambda: gc.backend.to_device(_DeviceArray(), gc.backend.CPU), id="to_host"),
])
def test_every_host_read_reports_flagged_errors(read):
    errors.flag_for(np.empty(1), _bad)[:] = (1, 5)
    with pytest.raises(ValueError, match="value 5 is bad"):
        read()
    read()  # and goes on working once it has


def test_the_cpu_path_checks_at_the_call_and_leaves_nothing_pending():
    x = gc.zeros(2, 3, requires_grad=True)
    with pytest.raises(ValueError, match="label 3 is out of range for 3 classes"):
        gc.nn.functional.cross_entropy(x, gc.tensor([0, 3]))
    gc.nn.functional.cross_entropy(x, gc.tensor([0, 2])).backward()
    assert errors.pending() == 0
