"""gradcore/kernels/gemm.py: the one GEMM path. The captured GEMM (cuBLAS called on device
addresses, column-major, with the transposition trick) against its twin ``numpy.matmul``, on the
host stand-in's cuBLAS (tests/kernels/hostcupy/cublas.py), for every layout the ops pass it."""
from __future__ import annotations

import numpy as np
import pytest

from gradcore.kernels import gemm

LAYOUTS = {  # name -> how an operand of shape (r, c) is made from a host array
    "c_contiguous": lambda cp, a: cp.asarray(a),
    "transposed_view": lambda cp, a: cp.asarray(np.ascontiguousarray(a.T)).T,  # w.T in linear
    "row_slice": lambda cp, a: cp.asarray(np.concatenate([a, a], axis=1))[:, :a.shape[1]],  # ld > c
    "strided": lambda cp, a: cp.asarray(np.repeat(a, 2, axis=1))[:, ::2],  # neither: copied
}


@pytest.fixture
def captured(use_hostcupy):
    return gemm.CapturedGemm(use_hostcupy.cublas.raw_stand_in, use_hostcupy.cublas.create())


@pytest.mark.parametrize("la", LAYOUTS)
@pytest.mark.parametrize("lb", LAYOUTS)
@pytest.mark.parametrize("m,k,n", [(3, 4, 5), (1, 4, 5), (3, 1, 5), (3, 4, 1), (2, 2, 2)])
def test_captured_gemm_matches_its_numpy_twin(use_hostcupy, captured, la, lb, m, k, n, rng):
    a, b = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    x0, x1 = LAYOUTS[la](use_hostcupy, a), LAYOUTS[lb](use_hostcupy, b)
    np.testing.assert_allclose(captured.matmul(x0, x1).get(), np.matmul(a, b), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype,rtol", [(np.float16, 2e-3), (np.float32, 1e-6), (np.float64, 1e-13)])
def test_dtypes_and_one_dimensional_operands(use_hostcupy, captured, dtype, rtol, rng):
    a, b = rng.standard_normal((6, 7)).astype(dtype), rng.standard_normal((7, 3)).astype(dtype)
    v, w = rng.standard_normal(7).astype(dtype), rng.standard_normal(6).astype(dtype)
    cp = use_hostcupy
    for x0, x1 in [(a, b), (v, b), (a, v), (v, v), (w, a)]:
        got = captured.matmul(cp.asarray(x0), cp.asarray(x1)).get()
        want = np.matmul(x0.astype(np.float64), x1.astype(np.float64))
        assert got.shape == want.shape and got.dtype == dtype
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)


def test_out_contiguous_is_written_in_place_and_strided_out_through_a_copy(use_hostcupy, captured, rng):
    cp = use_hostcupy
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 5))
    out = cp.zeros((4, 5))
    assert captured.matmul(cp.asarray(a), cp.asarray(b), out=out) is out
    np.testing.assert_allclose(out.get(), a @ b, rtol=1e-12)
    wide = cp.zeros((4, 10))
    got = captured.matmul(cp.asarray(a), cp.asarray(b), out=wide[:, ::2])
    np.testing.assert_allclose(wide.get()[:, ::2], a @ b, rtol=1e-12)
    assert (wide.get()[:, 1::2] == 0).all() and got.shape == (4, 5)
    with pytest.raises(ValueError, match="out of shape"):
        captured.matmul(cp.asarray(a), cp.asarray(b), out=cp.zeros((5, 4)))


def test_empty_dimensions(use_hostcupy, captured):
    cp = use_hostcupy
    assert captured.matmul(cp.zeros((3, 0)), cp.zeros((0, 2))).get().tolist() == [[0, 0]] * 3
    assert captured.matmul(cp.zeros((0, 4)), cp.zeros((4, 2))).shape == (0, 2)


def test_tf32_math_mode_rounds_float32_inputs(use_hostcupy, captured):
    cp = use_hostcupy
    a = np.full((1, 1), 1 + 2.0 ** -20, np.float32)  # below TF32's 10-bit mantissa
    assert captured.matmul(cp.asarray(a), cp.asarray(a)).get()[0, 0] > 1
    use_hostcupy.cublas.setMathMode(captured.handle, use_hostcupy.cublas.CUBLAS_TF32_TENSOR_OP_MATH)
    assert captured.matmul(cp.asarray(a), cp.asarray(a)).get()[0, 0] == 1


def test_a_stack_of_rows_times_a_matrix_is_one_gemm(use_hostcupy, captured, rng):
    cp = use_hostcupy
    x, w = rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4))
    np.testing.assert_allclose(captured.matmul(cp.asarray(x), cp.asarray(w).T).get(), x @ w.T, rtol=1e-12)
    strided = cp.asarray(np.concatenate([x, x], axis=2))[:, :, ::2]  # not contiguous: copied
    np.testing.assert_allclose(captured.matmul(strided, cp.asarray(w).T).get(),
                               np.concatenate([x, x], axis=2)[:, :, ::2] @ w.T, rtol=1e-12)
    out = cp.zeros((2, 3, 5))
    assert captured.matmul(cp.asarray(x), cp.asarray(w).T, out=out) is out
    np.testing.assert_allclose(out.get(), x @ w.T, rtol=1e-12)


def test_refusals_name_the_op_and_shapes(use_hostcupy, captured):
    cp = use_hostcupy
    with pytest.raises(RuntimeError, match=r"matmul: operands of shapes \(2, 3, 4\) and \(2, 4, 5\).*batched"):
        captured.matmul(cp.zeros((2, 3, 4)), cp.zeros((2, 4, 5)))
    with pytest.raises(TypeError, match="float32 and float64"):
        captured.matmul(cp.zeros((2, 3), np.float32), cp.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"shapes \(2, 3\) and \(4, 5\) do not match"):
        captured.matmul(cp.zeros((2, 3)), cp.zeros((4, 5)))


def test_matmul_goes_to_the_captured_gemm_only_while_a_capture_is_active(use_hostcupy, captured, monkeypatch):
    cp = use_hostcupy
    calls = []
    monkeypatch.setattr(captured, "matmul", lambda *a: calls.append(a) or "captured")
    x = cp.ones((2, 2))
    assert gemm.matmul(x, x).get().tolist() == [[2, 2], [2, 2]] and not calls
    monkeypatch.setattr(gemm.CAPTURE, "gemm", captured)
    assert gemm.matmul(x, x) == "captured" and len(calls) == 1
    assert gemm.matmul(np.ones((2, 2)), np.ones((2, 2))).tolist() == [[2, 2], [2, 2]]  # CPU: NumPy
    with pytest.raises(RuntimeError, match="inv: cannot run inside a CUDA-graph capture.*cuSOLVER"):
        gemm.refuse_under_capture("inv", "cuSOLVER")
    monkeypatch.setattr(gemm.CAPTURE, "gemm", None)
    gemm.refuse_under_capture("inv", "cuSOLVER")  # no capture: nothing to refuse
