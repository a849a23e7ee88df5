"""NumPy twins of the smooth activations: sigmoid, erf, the two GELUs (exact and tanh form)
and SiLU, with their derivatives and second derivatives.

Twins of ``gradcore_sigmoid``, ``gradcore_erf``, ``gradcore_gelu*``, ``gradcore_silu`` and
their ``*_backward`` kernels (header: activation.cuh); ``gradcore.kernels.activation``
dispatches to them and lists them in its TABLE.
Each ``*_into(x, ..., buf)`` writes into ``buf``, which may be ``x`` itself (everything read
later is taken first), and works in the dtype of its arrays except erf, which always evaluates
in float64 (see ``erf_into``).
"""

from __future__ import annotations

import numpy as np

from gradcore.kernels import tracing_twins

__all__ = ["sigmoid_into", "erf_into", "gelu_into", "gelu_grad_into", "gelu_curvature",
           "gelu_tanh_into", "gelu_tanh_grad_into", "gelu_tanh_curvature", "silu_into",
           "silu_grad_into", "silu_curvature"]

# W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23
# (1969), 631-637; the coefficients of his SPECFUN routine CALERF (netlib.org/specfun/erf).
# erf(x) = x A(x^2) / B(x^2) for |x| <= 0.46875; erfc(y) = exp(-y^2) C(y) / D(y) for
# 0.46875 < y <= 4; erfc(y) = exp(-y^2) (1/sqrt(pi) - z P(z) / Q(z)) / y with z = 1/y^2 above.
_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
      3.20937758913846947e03, 1.85777706184603153e-1)
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
      2.84423683343917062e03)
_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
      2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
      2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
      1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
      3.43936767414372164e03, 1.23033935480374942e03)
_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
      1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1,
      6.05183413124413191e-2, 2.33520497626869185e-3)
_SQRPI = 5.6418958354775628695e-1  # 1 / sqrt(pi)

SQRT1_2 = 0.70710678118654752440  # 1 / sqrt(2)
INV_SQRT_2PI = 0.39894228040143267794  # 1 / sqrt(2 pi), the normal density at 0
TANH_K = 0.79788456080286535588  # sqrt(2 / pi)
TANH_C = 0.044715
TANH_3C = 0.134145  # 3 * TANH_C, written as the kernel writes it


def _horner(t, lead, coefs, last, out):
    """((lead t + coefs[0]) t + coefs[1]) t ... + last into ``out``: CALERF's loops."""
    np.multiply(t, lead, out=out)
    for c in coefs:
        out += c
        out *= t
    out += last
    return out


def erf_into(x, buf):
    """erf(x) into ``buf`` (any float dtypes, same shape; ``buf`` may be ``x``).

    Evaluated in float64 by Cody's rational approximations, with no Python per element: within
    4 ulp of C's erf (``math.erf``) on the tests' dense grid, 3 outside 0.469 < |x| < 0.477,
    where erf < 1/2 is taken as 1 - erfc with erfc > 1/2 (half an ulp of erfc is a whole one of
    erf there); float32/float16 results are float64 ones rounded once. NaN stays NaN, +-inf
    give +-1, -0.0 stays -0.0.

    Speed: the two inner formulas run on every element (|x| clipped to 4) and np.where picks
    one; only |x| > 4, rare in real data, is gathered. Gathering each region by a boolean mask
    instead was about 4x slower on random normal data (1M float64: 124 vs 33 ms, min of 15, in
    an ad-hoc timing on the noisy 2-core host): masked copies branch per element.
    """
    # 1-d: every ufunc below returns an array. astype, not np.asarray: gc.compile's tracer sees
    # a method call, and np.asarray would hand it a plain view it cannot follow
    x64 = x.astype(np.float64, copy=False).ravel()
    y = np.abs(x64)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        yc = np.minimum(y, 4.0)  # NaN stays NaN
        t = yc * yc
        small, num, den = np.empty_like(t), np.empty_like(t), np.empty_like(t)
        # |x| <= 0.46875: erf = x A(x^2) / B(x^2)
        _horner(t, _A[4], _A[:3], _A[3], small)
        small /= _horner(t, 1.0, _B[:3], _B[3], den)
        small *= x64
        # 0.46875 < |x| <= 4: erf = 1 - erfc, erfc = exp(-y^2) C(y) / D(y). exp(-y*y) directly,
        # not CALERF's split exp(-y0^2) exp(-(y - y0)(y + y0)): that guards erfc's relative
        # accuracy, of which erf = 1 - erfc sees little (no ulp changed in the test grid)
        erfc = _horner(yc, _C[8], _C[:7], _C[7], num)
        erfc /= _horner(yc, 1.0, _D[:7], _D[7], den)
        np.negative(t, out=t)
        erfc *= np.exp(t, out=t)
        mid = np.subtract(1.0, erfc, out=erfc)
        np.copysign(mid, x64, out=mid)
        res = np.where(y <= 0.46875, small, mid)
        # |x| > 4: erfc = exp(-y^2) (1/sqrt(pi) - z P(z) / Q(z)) / y, z = 1 / y^2
        if tracing_twins():  # gc.compile records: no shape that depends on the values
            res = np.where(y > 4.0, _erf_tail(np.maximum(y, 4.0), x64), res)
        else:
            big = np.flatnonzero(y > 4.0)
            if big.size:
                res[big] = _erf_tail(y[big], x64[big])
    np.copyto(buf, res.reshape(np.shape(x)), casting="same_kind")
    return buf


def _erf_tail(yb, xb):
    """erf for |x| = yb > 4, signed as xb: 1 - erfc, erfc from Cody's asymptotic form."""
    z = 1.0 / (yb * yb)  # 0 for inf and |x| > 1e154: erfc is 0 there
    r = _horner(z, _P[5], _P[:4], _P[4], np.empty_like(z))
    r /= _horner(z, 1.0, _Q[:4], _Q[4], np.empty_like(z))
    r *= z
    tail = (_SQRPI - r) / yb * np.exp(-yb * yb)  # < 2e-8: its rounding does not show
    return np.copysign(1.0 - tail, xb)


# ---------------------------------------------------------------- sigmoid and SiLU
def sigmoid_into(x, slope, buf):
    # = np.where(x >= 0, 1 / (1 + z), z / (1 + z)) with z = exp(-|x|) in (0, 1]: no overflow
    # for any x. Speed: selected bit for bit with integer masks (_select_negative), about 2x
    # faster than np.where in an ad-hoc timing (16 MB float32, noisy 2-core host); no benchmark
    # covers sigmoid forward yet.
    negative = _sign_mask(x)  # taken first: buf may be x itself
    np.abs(x, out=buf)
    np.negative(buf, out=buf)
    np.exp(buf, out=buf)
    r = np.add(buf, 1, out=np.empty_like(buf))  # out=: a 0-d result stays an array
    np.reciprocal(r, out=r)  # r = 1 / (1 + z) = sigmoid(|x|)
    buf *= r  # z * r = sigmoid(-|x|)
    _select_negative(buf, negative, r)  # -0.0 goes either way: both sides give 0.5


def _sign_mask(x):
    """-1 (all bits set) where x's sign bit is set, else 0, as an integer array; or, where the
    bit trick does not apply (0-d, float16, non-contiguous), the boolean mask x < 0."""
    if x.ndim == 0 or x.dtype.itemsize not in (4, 8) or not x.flags.c_contiguous:
        return x < 0
    ints = np.int64 if x.dtype.itemsize == 8 else np.int32
    return np.right_shift(x.view(ints), 8 * x.dtype.itemsize - 1)


def _select_negative(buf, negative, a):
    """buf where ``negative`` (from _sign_mask), else a: bit for bit, without branches.

    NOTE: NumPy's masked copy (copyto(where=)) branches per element, slow on the random signs
    of real data; and/or with an all-ones/zeros word mask does not. ``a`` is overwritten.
    """
    if negative.dtype == bool:
        np.copyto(buf, a, where=~negative)
        return buf
    keep, pick = buf.view(negative.dtype), a.view(negative.dtype)
    keep &= negative
    np.invert(negative, out=negative)
    pick &= negative
    keep |= pick
    return buf


def silu_into(x, slope, buf):
    s = np.empty_like(x)  # x sigmoid(x); buf may be x, read here before it is written
    sigmoid_into(x, slope, s)
    np.multiply(x, s, out=buf)


def silu_grad_into(x, gy, slope, buf):
    s = np.empty_like(x)  # gy * s (1 + x (1 - s)), s = sigmoid(x), from the saved input x
    sigmoid_into(x, slope, s)
    d = np.subtract(1, s, out=np.empty_like(s))
    d *= x
    d += 1
    d *= s
    np.multiply(gy, d, out=buf)


def silu_curvature(s, m):
    g = m.sigmoid(s)  # silu'' = g (1 - g) (2 + s (1 - 2 g)), g = sigmoid(s)
    return g * (1 - g) * (2 + s * (1 - 2 * g))


# ---------------------------------------------------------------- GELU
def _phi(x):
    """Phi(x) = (1 + erf(x / sqrt 2)) / 2, a new array of x's dtype."""
    t = np.multiply(x, SQRT1_2, out=np.empty_like(x))  # out=: a 0-d result stays an array
    erf_into(t, t)
    t += 1
    t *= 0.5
    return t


def gelu_into(x, slope, buf):
    """0.5 x (1 + erf(x / sqrt 2)), PyTorch's formula (-inf gives NaN there too), in the
    kernel's order: (0.5 x) (1 + erf), so that float max stays finite."""
    t = np.multiply(x, SQRT1_2, out=np.empty_like(x))
    erf_into(t, t)
    t += 1
    np.multiply(x, 0.5, out=buf)  # buf may be x: x is not read after this
    buf *= t


def gelu_slope(x):
    """gelu'(x) = Phi(x) + x phi(x), phi the normal density, as a new array."""
    d = _phi(x)
    pdf = np.multiply(x, x, out=np.empty_like(x))
    pdf *= -0.5
    np.exp(pdf, out=pdf)
    pdf *= INV_SQRT_2PI
    pdf *= x
    d += pdf
    return d


def gelu_grad_into(x, gy, slope, buf):
    """gy * gelu'(x) from the saved input x."""
    np.multiply(gy, gelu_slope(x), out=buf)


def _tanh_inner(x):
    """tanh(k (x + c x^3)), k = sqrt(2/pi), c = 0.044715, as a new array."""
    t = np.multiply(x, x, out=np.empty_like(x))
    t *= x
    t *= TANH_C
    t += x
    t *= TANH_K
    np.tanh(t, out=t)
    return t


def gelu_tanh_into(x, slope, buf):
    """0.5 x (1 + tanh(k (x + c x^3))), PyTorch's approximate='tanh', in the kernel's order."""
    t = _tanh_inner(x)
    t += 1
    np.multiply(x, 0.5, out=buf)  # buf may be x: x is not read after this
    buf *= t


def gelu_tanh_slope(x):
    """d/dx of the tanh GELU: 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2), t = tanh(...).

    NOTE: where 1 - t^2 is exactly 0 (|x| > ~10) the second term is 0, not 0 * inf = NaN
    for x^2 beyond the float range: the same select as the kernel.
    """
    t = _tanh_inner(x)
    sech2 = np.multiply(t, t, out=np.empty_like(t))
    np.subtract(1, sech2, out=sech2)
    du = np.multiply(x, TANH_3C, out=np.empty_like(x))
    du *= x
    du += 1
    du *= TANH_K
    with np.errstate(invalid="ignore"):  # 0 * inf, dropped by the select below
        term = np.multiply(x, 0.5, out=np.empty_like(x))
        term *= sech2
        term *= du
    np.copyto(term, 0, where=sech2 == 0)  # the select (a NaN x keeps its NaN: sech2 is NaN)
    t += 1
    t *= 0.5
    t += term
    return t


def gelu_tanh_grad_into(x, gy, slope, buf):
    """gy * d/dx of the tanh GELU, from the saved input x."""
    np.multiply(gy, gelu_tanh_slope(x), out=buf)


# The GELUs' second derivatives, for the fused backward's own backward (see activation.Activation:
# ``m`` supplies exp/tanh for arrays or, differentiable, for Tensors).
def gelu_curvature(s, m):
    """gelu''(s) = phi(s) (2 - s^2)."""
    return m.exp(-0.5 * s * s) * (INV_SQRT_2PI * (2 - s * s))


def gelu_tanh_curvature(s, m):
    """d^2/ds^2 of the tanh GELU: (1 - t^2) (u' + s (u'' - 2 t u'^2) / 2), t = tanh(u)."""
    t = m.tanh(TANH_K * (s + TANH_C * (s * s * s)))
    du = TANH_K * (1 + TANH_3C * s * s)
    return (1 - t * t) * (du + 0.5 * s * (6 * TANH_K * TANH_C * s - 2 * t * du * du))
