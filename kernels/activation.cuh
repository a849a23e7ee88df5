// Activations and their backward rules. Twin: gradcore/kernels/activation.py.
#ifndef GRADCORE_ACTIVATION_CUH
#define GRADCORE_ACTIVATION_CUH
#ifndef GRADCORE_COMMON_CUH  // CuPy's preamble already pasted common.cuh in front
#include "common.cuh"
#endif

// Activation codes, shared with activation.py (_ACT_CODES). Templates take them as constants so
// each fused kernel compiles down to its own activation with no runtime switch.
#define GRADCORE_ACT_IDENTITY 0
#define GRADCORE_ACT_RELU 1
#define GRADCORE_ACT_LEAKY_RELU 2
#define GRADCORE_ACT_SIGMOID 3
#define GRADCORE_ACT_TANH 4
#define GRADCORE_ACT_GELU 5
#define GRADCORE_ACT_GELU_TANH 6
#define GRADCORE_ACT_SILU 7

// Scalar functions end in _fn: CuPy declares each kernel at global scope after this header, and
// a kernel named gradcore_sigmoid would hide a device function of the same name.

// `x <= 0 ? 0 : x` and not `x > 0 ? x : 0`: NaN must propagate, as in np.maximum.
template <class A> GRADCORE_HD A gradcore_relu_fn(A x) { return x <= A(0) ? A(0) : x; }

template <class A> GRADCORE_HD A gradcore_leaky_relu_fn(A x, A slope) {
  return x > A(0) ? x : x * slope;
}

// exp(-|x|) lies in (0, 1], so nothing overflows for any x, including +-inf.
template <class A> GRADCORE_HD A gradcore_sigmoid_fn(A x) {
  const A z = gradcore_exp(-gradcore_abs(x));
  const A r = A(1) / (A(1) + z);
  return x >= A(0) ? r : z * r;
}

// log(1 + e^x) = log1p(e^-|x|) + max(x, 0): no overflow, and log1p keeps precision for x << 0.
template <class A> GRADCORE_HD A gradcore_softplus_fn(A x) {
  return gradcore_log1p(gradcore_exp(-gradcore_abs(x))) + (x > A(0) ? x : A(0));
}

template <class A> GRADCORE_HD A gradcore_softplus_grad_fn(A x, A gy) {
  return gy * gradcore_sigmoid_fn(x);
}

// erf of the CUDA math library (erff, erf: at most 2 ulp), C's erf on the host. Overloads, as in
// common.cuh, so that float code calls erff; named _fn because the kernel is gradcore_erf.
GRADCORE_HD float gradcore_erf_fn(float x) { return erff(x); }
GRADCORE_HD double gradcore_erf_fn(double x) { return erf(x); }

// GELU x Phi(x) written as PyTorch writes it, 0.5 x (1 + erf(x / sqrt 2)), so values match
// torch.nn.functional.gelu (-inf gives NaN in both).
template <class A> GRADCORE_HD A gradcore_gelu_fn(A x) {
  return A(0.5) * x * (A(1) + gradcore_erf_fn(x * A(0.70710678118654752440)));
}

// gelu'(x) = Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
template <class A> GRADCORE_HD A gradcore_gelu_grad_fn(A x) {
  const A cdf = A(0.5) * (A(1) + gradcore_erf_fn(x * A(0.70710678118654752440)));
  return cdf + x * (gradcore_exp(A(-0.5) * x * x) * A(0.39894228040143267794));
}

// tanh(sqrt(2/pi) (x + 0.044715 x^3)): the inner function of the tanh-form GELU.
template <class A> GRADCORE_HD A gradcore_gelu_tanh_inner(A x) {
  return gradcore_tanh(A(0.79788456080286535588) * (x + A(0.044715) * (x * x * x)));
}

template <class A> GRADCORE_HD A gradcore_gelu_tanh_fn(A x) {
  return A(0.5) * x * (A(1) + gradcore_gelu_tanh_inner(x));
}

// 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2). Where 1 - t^2 is exactly 0 (|x| > ~10) the
// second term is 0, not 0 * inf = NaN once x^2 overflows.
template <class A> GRADCORE_HD A gradcore_gelu_tanh_grad_fn(A x) {
  const A t = gradcore_gelu_tanh_inner(x);
  const A sech2 = A(1) - t * t;
  const A du = (A(1) + A(0.134145) * x * x) * A(0.79788456080286535588);
  const A term = sech2 == A(0) ? A(0) : A(0.5) * x * sech2 * du;
  return A(0.5) * (A(1) + t) + term;
}

// SiLU x sigmoid(x); silu' = s (1 + x (1 - s)) with s = sigmoid(x).
template <class A> GRADCORE_HD A gradcore_silu_fn(A x) { return x * gradcore_sigmoid_fn(x); }

template <class A> GRADCORE_HD A gradcore_silu_grad_fn(A x) {
  const A s = gradcore_sigmoid_fn(x);
  return s * (A(1) + x * (A(1) - s));
}

template <int ACT, class A> GRADCORE_HD A gradcore_activate(A x, A slope) {
  if (ACT == GRADCORE_ACT_RELU) return gradcore_relu_fn(x);
  if (ACT == GRADCORE_ACT_LEAKY_RELU) return gradcore_leaky_relu_fn(x, slope);
  if (ACT == GRADCORE_ACT_SIGMOID) return gradcore_sigmoid_fn(x);
  if (ACT == GRADCORE_ACT_TANH) return gradcore_tanh(x);
  if (ACT == GRADCORE_ACT_GELU) return gradcore_gelu_fn(x);
  if (ACT == GRADCORE_ACT_GELU_TANH) return gradcore_gelu_tanh_fn(x);
  if (ACT == GRADCORE_ACT_SILU) return gradcore_silu_fn(x);
  return x;
}

// Backward times gy from what the activation saved (activation.py's TABLE, column saves): the
// OUTPUT y for relu, sigmoid, tanh; y or the input for leaky_relu (y > 0 iff x > 0 only when
// slope > 0: the Python side checks); the INPUT (pre-activation) for gelu, gelu_tanh, silu,
// whose derivative the output does not determine. relu: the tie y == 0 gets gradient 0.
template <int ACT, class A> GRADCORE_HD A gradcore_activate_grad(A y, A gy, A slope) {
  if (ACT == GRADCORE_ACT_RELU) return y > A(0) ? gy : A(0);
  if (ACT == GRADCORE_ACT_LEAKY_RELU) return y > A(0) ? gy : gy * slope;
  if (ACT == GRADCORE_ACT_SIGMOID) return gy * y * (A(1) - y);
  if (ACT == GRADCORE_ACT_TANH) return gy * (A(1) - y * y);
  if (ACT == GRADCORE_ACT_GELU) return gy * gradcore_gelu_grad_fn(y);
  if (ACT == GRADCORE_ACT_GELU_TANH) return gy * gradcore_gelu_tanh_grad_fn(y);
  if (ACT == GRADCORE_ACT_SILU) return gy * gradcore_silu_grad_fn(y);
  return gy;
}

#endif  // GRADCORE_ACTIVATION_CUH
