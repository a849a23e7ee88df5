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

template <int ACT, class A> GRADCORE_HD A gradcore_activate(A x, A slope) {
  if (ACT == GRADCORE_ACT_RELU) return gradcore_relu_fn(x);
  if (ACT == GRADCORE_ACT_LEAKY_RELU) return gradcore_leaky_relu_fn(x, slope);
  if (ACT == GRADCORE_ACT_SIGMOID) return gradcore_sigmoid_fn(x);
  if (ACT == GRADCORE_ACT_TANH) return gradcore_tanh(x);
  return x;
}

// Backward from the saved OUTPUT y (what the fused Linear+activation keeps), times gy.
// relu: the tie y == 0 gets gradient 0. leaky_relu: y > 0 iff x > 0 only when slope > 0 (the
// Python side checks), and then the same rule also serves leaky_relu_backward from the input x.
template <int ACT, class A> GRADCORE_HD A gradcore_activate_grad(A y, A gy, A slope) {
  if (ACT == GRADCORE_ACT_RELU) return y > A(0) ? gy : A(0);
  if (ACT == GRADCORE_ACT_LEAKY_RELU) return y > A(0) ? gy : gy * slope;
  if (ACT == GRADCORE_ACT_SIGMOID) return gy * y * (A(1) - y);
  if (ACT == GRADCORE_ACT_TANH) return gy * (A(1) - y * y);
  return gy;
}

#endif  // GRADCORE_ACTIVATION_CUH
