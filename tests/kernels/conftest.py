"""Fixtures for the kernel tests: the CUDA/C++ toolchains and the host stand-in for CuPy.

A missing toolchain skips its tests on a developer machine but fails them in CI (the CI
variable is set), where a syntax error in a kernel must never pass unnoticed.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import pytest

KERNEL_DIR = Path(__file__).resolve().parents[2] / "kernels"
# The activation codes as the header defines them (test_host_math checks activation.py agrees).
ACT_CODES = {
    name.lower(): int(code)
    for name, code in re.findall(r"#define GRADCORE_ACT_(\w+) (\d+)",
                                 (KERNEL_DIR / "activation.cuh").read_text())
}


def require_tool(name, *fallbacks):
    for candidate in (name, *fallbacks):
        path = shutil.which(candidate)
        if path:
            return path
    if os.environ.get("CI"):
        pytest.fail(f"{name} is required in CI (the CI variable is set) but was not found")
    pytest.skip(f"{name} not found")


def pytest_terminal_summary(terminalreporter, config):
    """Print how many kernel variants went through CuPy's generators (test_cupy_codegen)."""
    import cupy_codegen

    line = config.stash.get(cupy_codegen.SUMMARY, None)
    if line:
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def header_act_codes():
    return dict(ACT_CODES)


@pytest.fixture(scope="session")
def nvcc():
    return require_tool("nvcc", "/usr/local/cuda/bin/nvcc")


@pytest.fixture(scope="session")
def gxx():
    return require_tool("g++")


@pytest.fixture
def use_hostcupy(monkeypatch, gxx):
    """``import cupy`` gives the host stand-in (tests/kernels/hostcupy/) for one test."""
    import hostcupy

    from gradcore.kernels import cupy_kernel, errors

    monkeypatch.setattr(hostcupy.kernels, "CXX", gxx)
    monkeypatch.setitem(sys.modules, "cupy", hostcupy)
    monkeypatch.setattr(errors, "_ledgers", {})  # the stand-in's device 0 is not a GPU's
    monkeypatch.setattr(errors, "_count", 0)
    cupy_kernel.cache_clear()  # kernel objects of the other CuPy must not be reused
    yield hostcupy
    cupy_kernel.cache_clear()
