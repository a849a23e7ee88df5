"""Fixtures for the kernel tests: the CUDA/C++ toolchains and the host build of the headers.

A missing toolchain skips its tests on a developer machine but fails them in CI (the CI
variable is set), where a syntax error in a kernel must never pass unnoticed.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

KERNEL_DIR = Path(__file__).resolve().parents[2] / "kernels"
HOST_WRAPPERS = Path(__file__).with_name("host_wrappers.cpp")
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


class HostLib:
    """NumPy-facing calls into the host build; arrays are float32 or float64."""

    def __init__(self, path):
        self._lib = ctypes.CDLL(str(path))

    def _fn(self, name, dtype):
        suffix = {np.float32: "f32", np.float64: "f64"}[np.dtype(dtype).type]
        return getattr(self._lib, f"{name}_{suffix}")

    @staticmethod
    def _p(a):
        return a.ctypes.data_as(ctypes.c_void_p)

    def _arr(self, a, dtype):
        return np.ascontiguousarray(a, dtype=dtype)

    def activate(self, act, x, slope=0.0):
        x = np.ascontiguousarray(x)
        y = np.empty_like(x)
        self._fn("activate", x.dtype)(ACT_CODES[act], self._p(x), self._p(y),
                                      ctypes.c_long(x.size), ctypes.c_double(slope))
        return y

    def activate_grad(self, act, y, gy, slope=0.0):
        y = np.ascontiguousarray(y)
        gy, gx = self._arr(gy, y.dtype), np.empty_like(y)
        self._fn("activate_grad", y.dtype)(ACT_CODES[act], self._p(y), self._p(gy), self._p(gx),
                                           ctypes.c_long(y.size), ctypes.c_double(slope))
        return gx

    def bias_act(self, act, z, b, slope=0.0):
        z = np.ascontiguousarray(z)
        b, y = self._arr(b, z.dtype), np.empty_like(z)
        cols = b.size
        self._fn("bias_act", z.dtype)(ACT_CODES[act], self._p(z), self._p(b), self._p(y),
                                      ctypes.c_long(z.size // cols), ctypes.c_long(cols),
                                      ctypes.c_double(slope))
        return y

    def softplus(self, x):
        x = np.ascontiguousarray(x)
        y = np.empty_like(x)
        self._fn("softplus", x.dtype)(self._p(x), self._p(y), ctypes.c_long(x.size))
        return y

    def softplus_grad(self, x, gy):
        x = np.ascontiguousarray(x)
        gy, gx = self._arr(gy, x.dtype), np.empty_like(x)
        self._fn("softplus_grad", x.dtype)(self._p(x), self._p(gy), self._p(gx),
                                           ctypes.c_long(x.size))
        return gx

    def lse_rows(self, x, tree=False):
        x = np.ascontiguousarray(x)
        rows, cols = x.shape
        lse = np.empty(rows, x.dtype)
        self._fn("lse_rows", x.dtype)(self._p(x), ctypes.c_long(rows), ctypes.c_long(cols),
                                      ctypes.c_int(int(tree)), self._p(lse))
        return lse

    def ce_pick(self, x, labels, lse):
        """(loss per row, flag row [found, offending label])"""
        x = np.ascontiguousarray(x)
        rows, cols = x.shape
        labels = self._arr(labels, np.int64)
        lse, loss = self._arr(lse, x.dtype), np.empty(rows, x.dtype)
        flag = np.zeros(2, np.int64)
        self._fn("ce_pick", x.dtype)(self._p(x), self._p(labels), self._p(lse), self._p(loss),
                                     ctypes.c_long(rows), ctypes.c_long(cols), self._p(flag))
        return loss, flag

    def ce_grad(self, x, lse, labels, g, scale):
        x = np.ascontiguousarray(x)
        rows, cols = x.shape
        lse, labels = self._arr(lse, x.dtype), self._arr(labels, np.int64)
        g, gx = self._arr(np.broadcast_to(g, (rows,)), x.dtype), np.empty_like(x)
        self._fn("ce_grad", x.dtype)(self._p(x), self._p(lse), self._p(labels), self._p(g),
                                     ctypes.c_double(scale), self._p(gx), ctypes.c_long(rows),
                                     ctypes.c_long(cols))
        return gx

    def sum_rows(self, x):
        x = np.ascontiguousarray(x)
        cols = x.shape[-1]
        y = np.empty(cols, x.dtype)
        self._fn("sum_rows", x.dtype)(self._p(x), self._p(y), ctypes.c_long(x.size // cols),
                                      ctypes.c_long(cols))
        return y

    def sgd(self, p, g, buf, lr, momentum, damp_keep, wd, nesterov, first_step):
        """In place on p and buf (contiguous arrays of one dtype); buf may be None."""
        has_m = buf is not None
        self._fn("sgd", p.dtype)(
            self._p(p), self._p(g), self._p(buf) if has_m else None, ctypes.c_long(p.size),
            *map(ctypes.c_double, (lr, momentum, damp_keep, wd)),
            ctypes.c_int(has_m), ctypes.c_int(bool(nesterov)), ctypes.c_int(bool(first_step)),
        )

    def adam(self, p, g, m, v, h):
        """In place on p, m, v; h is optim.adam_hyperparameters(...)."""
        keys = ("beta1", "one_minus_beta1", "beta2", "one_minus_beta2", "eps", "l2", "decay",
                "step_size", "bc2_sqrt")
        self._fn("adam", p.dtype)(self._p(p), self._p(g), self._p(m), self._p(v),
                                  ctypes.c_long(p.size), *(ctypes.c_double(h[k]) for k in keys))


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


@pytest.fixture(scope="session")
def host_lib(tmp_path_factory, gxx):
    """The headers built once per session as host C++ (g++ -O2, no fast-math)."""
    lib = tmp_path_factory.mktemp("hostbuild") / "libgradcore_host.so"
    cmd = [gxx, "-O2", "-std=c++17", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror",
           f"-I{KERNEL_DIR}", str(HOST_WRAPPERS), "-o", str(lib)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"g++ failed:\n{result.stderr}"
    return HostLib(lib)
