"""Shared fixtures: the ``device`` fixture runs a test on the CPU and, when a GPU is usable, on
``cuda`` too (GPU cases are marked ``gpu`` and skipped without one)."""
import numpy
import pytest

import gradcore as gc

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


@pytest.fixture
def rng():
    """A NumPy generator seeded per test."""
    return numpy.random.default_rng(1234)
