"""Shared fixtures: the ``device`` fixture runs a test on the CPU and, when a GPU is usable, on
``cuda`` too (GPU cases are marked ``gpu`` and skipped without one)."""
import os
import pathlib
import sys

import numpy
import pytest

if os.environ.get("GRADCORE_TEST_HOSTCUPY") == "1":  # the GPU path on the host stand-in for CuPy
    sys.path.insert(0, str(pathlib.Path(__file__).with_name("kernels")))
    import hostcupy  # noqa: E402
    hostcupy.install()  # as cupy and cupy_backends.cuda.libs.cublas

import gradcore as gc  # noqa: E402
from gradcore.kernels import errors as kernel_errors  # noqa: E402

_DEVICES = [
    "cpu",
    pytest.param("cuda", marks=[pytest.mark.gpu, pytest.mark.skipif(
        not gc.cuda.is_available(), reason=f"no usable GPU: {gc.cuda.unavailable_reason()}")]),
]


@pytest.fixture(params=_DEVICES)
def device(request):
    """The device a test runs on: 'cpu', and 'cuda' when a GPU is usable."""
    return request.param


@pytest.fixture(autouse=True)
def _seed():
    gc.manual_seed(0)
    yield


@pytest.fixture(autouse=True)
def _no_unread_kernel_errors():
    """A test must read the errors its GPU kernels flagged (they are raised at the next host
    read): one left behind would be raised in whichever test reads a GPU value next."""
    yield
    try:
        kernel_errors.check()
    except Exception as e:  # noqa: BLE001 (any flagged error is a failure of this test)
        pytest.fail(f"the test left a flagged GPU kernel error unread: {e}")


@pytest.fixture
def rng():
    """A NumPy generator seeded per test."""
    return numpy.random.default_rng(1234)
