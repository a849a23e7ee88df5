"""The host stand-in's fidelity rules (tests/kernels/hostcupy/): where it would be kinder than a
GPU, it refuses instead. Aliasing: an input sharing memory with an output is a race on a GPU
(CuPy does not copy it) but harmless here (the stand-in copies inputs), so it must raise unless
the kernel is declared alias-safe and the input is the output's very view."""

from __future__ import annotations

import numpy as np
import pytest

from gradcore.kernels import Elementwise, Reduction, cupy_kernel, registry
from gradcore.kernels import activation as ka
from gradcore.kernels import reduction as kr

# Not in the registry, so nothing declares it alias-safe: y[i] = x[i] + 1.
UNDECLARED = Elementwise("gradcore_test_add_one", "activation", "T x", "T y", "y = x + (T)1;")


def test_undeclared_kernel_refuses_an_aliased_output(use_hostcupy):
    x = use_hostcupy.asarray(np.arange(6.0))
    kernel = cupy_kernel(UNDECLARED)
    np.testing.assert_array_equal(kernel(x).get(), np.arange(6.0) + 1)  # fresh output: fine
    with pytest.raises(ValueError, match=r"gradcore_test_add_one: input x \(6,\) shares memory "
                                         r"with output y \(6,\).*not declared alias_safe"):
        kernel(x, x)
    with pytest.raises(ValueError, match="shares memory"):  # a view of it too
        kernel(x[::-1], x)


def test_alias_safe_kernel_allows_the_same_view_only(use_hostcupy):
    z = np.linspace(-2, 2, 12).reshape(3, 4)
    b = np.array([0.5, -0.5, 1.0, 0.0])
    zg, bg = use_hostcupy.asarray(z), use_hostcupy.asarray(b)
    assert ka.bias_act(zg, bg, "relu", out=zg) is zg  # out=z, as the fused Linear does
    np.testing.assert_array_equal(zg.get(), ka.bias_act(z, b, "relu"))
    shifted = use_hostcupy.asarray(np.arange(8.0))
    with pytest.raises(ValueError, match="is not the same view"):  # y[i] = act(x[i+1]): a race
        ka.relu(shifted[1:], out=shifted[:-1])
    row = use_hostcupy.asarray(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"input b \(4,\) shares memory with output y"):
        ka.bias_act(row, row[0], "relu", out=row)  # b broadcast over the rows it overwrites


def test_reductions_are_never_alias_safe(use_hostcupy):
    g = use_hostcupy.asarray(np.ones((3, 4)))
    spec = kr._SUM_ROWS_DOUBLE
    assert isinstance(spec, Reduction)
    with pytest.raises(ValueError, match="shares memory"):
        cupy_kernel(spec)(g, axis=0, out=g[0])


def test_alias_safe_is_declared_only_on_plain_elementwise_kernels():
    """The declaration's precondition, checkable on the text: no raw params (a thread reading
    elements other than its own), and the operation assigns each output once, at its end."""
    declared = [s for family in registry().values() for s in family
                if getattr(s, "alias_safe", False)]
    assert {s.name for s in declared} >= {"gradcore_bias_relu", "gradcore_relu_backward"}
    for spec in declared:
        assert isinstance(spec, Elementwise)
        assert "raw" not in spec.in_params + spec.out_params, spec.name
        [out_name] = [p.split()[-1] for p in spec.out_params.split(",")]
        assert spec.operation.count(f"{out_name} =") == 1, spec.name
        assert spec.operation.rstrip().endswith(";"), spec.name
