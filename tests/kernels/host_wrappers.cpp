// Host build of the kernel headers: extern "C" loops over arrays, loaded with ctypes by
// tests/kernels/conftest.py and compared element by element with the NumPy twins.
// Each loop body calls the same device function the CuPy kernel's operation string calls.
#include "common.cuh"
#include "activation.cuh"
#include "loss.cuh"
#include "reduction.cuh"

namespace {

template <int ACT, class A> A activate(A x, A slope) { return gradcore_activate<ACT, A>(x, slope); }

// The activation code is a runtime int here, a template constant in the CuPy kernels.
template <class A> A activate_any(int act, A x, A slope) {
  switch (act) {
    case GRADCORE_ACT_RELU: return activate<GRADCORE_ACT_RELU>(x, slope);
    case GRADCORE_ACT_LEAKY_RELU: return activate<GRADCORE_ACT_LEAKY_RELU>(x, slope);
    case GRADCORE_ACT_SIGMOID: return activate<GRADCORE_ACT_SIGMOID>(x, slope);
    case GRADCORE_ACT_TANH: return activate<GRADCORE_ACT_TANH>(x, slope);
    default: return activate<GRADCORE_ACT_IDENTITY>(x, slope);
  }
}

template <class A> A activate_grad_any(int act, A y, A gy, A slope) {
  switch (act) {
    case GRADCORE_ACT_RELU: return gradcore_activate_grad<GRADCORE_ACT_RELU, A>(y, gy, slope);
    case GRADCORE_ACT_LEAKY_RELU:
      return gradcore_activate_grad<GRADCORE_ACT_LEAKY_RELU, A>(y, gy, slope);
    case GRADCORE_ACT_SIGMOID: return gradcore_activate_grad<GRADCORE_ACT_SIGMOID, A>(y, gy, slope);
    case GRADCORE_ACT_TANH: return gradcore_activate_grad<GRADCORE_ACT_TANH, A>(y, gy, slope);
    default: return gradcore_activate_grad<GRADCORE_ACT_IDENTITY, A>(y, gy, slope);
  }
}

// Row logsumexp by merging leaves: left to right (tree = 0), or as a pairwise tree over the row,
// the shape of a GPU block reduction (tree = 1). Both must agree with the twin.
template <class A> gradcore_lse_state<A> lse_tree(const A* x, long lo, long hi) {
  if (hi - lo == 1) return gradcore_lse_leaf<A>(x[lo]);
  const long mid = lo + (hi - lo) / 2;
  return gradcore_lse_merge(lse_tree(x, lo, mid), lse_tree(x, mid, hi));
}

template <class A> void lse_rows(const A* x, long rows, long cols, int tree, A* lse) {
  for (long r = 0; r < rows; ++r) {
    const A* row = x + r * cols;
    gradcore_lse_state<A> st = gradcore_lse_identity<A>();
    if (tree && cols > 0) {
      st = gradcore_lse_merge(st, lse_tree(row, 0, cols));
    } else {
      for (long c = 0; c < cols; ++c) st = gradcore_lse_merge(st, gradcore_lse_leaf<A>(row[c]));
    }
    lse[r] = gradcore_lse_value(st);
  }
}

}  // namespace

#define GRADCORE_HOST_WRAPPERS(A, SUF)                                                          \
  extern "C" void activate_##SUF(int act, const A* x, A* y, long n, double slope) {             \
    for (long i = 0; i < n; ++i) y[i] = activate_any<A>(act, x[i], (A)slope);                    \
  }                                                                                             \
  extern "C" void activate_grad_##SUF(int act, const A* y, const A* gy, A* gx, long n,          \
                                      double slope) {                                           \
    for (long i = 0; i < n; ++i) gx[i] = activate_grad_any<A>(act, y[i], gy[i], (A)slope);       \
  }                                                                                             \
  extern "C" void bias_act_##SUF(int act, const A* z, const A* b, A* y, long rows, long cols,   \
                                 double slope) {                                                \
    for (long i = 0; i < rows * cols; ++i)                                                      \
      y[i] = activate_any<A>(act, z[i] + b[i % cols], (A)slope);                                \
  }                                                                                             \
  extern "C" void softplus_##SUF(const A* x, A* y, long n) {                                    \
    for (long i = 0; i < n; ++i) y[i] = gradcore_softplus_fn<A>(x[i]);                          \
  }                                                                                             \
  extern "C" void softplus_grad_##SUF(const A* x, const A* gy, A* gx, long n) {                 \
    for (long i = 0; i < n; ++i) gx[i] = gradcore_softplus_grad_fn<A>(x[i], gy[i]);             \
  }                                                                                             \
  extern "C" void lse_rows_##SUF(const A* x, long rows, long cols, int tree, A* lse) {          \
    lse_rows<A>(x, rows, cols, tree, lse);                                                      \
  }                                                                                             \
  extern "C" void ce_pick_##SUF(const A* x, const long long* labels, const A* lse, A* loss,    \
                                long rows, long cols, long long* bad) {                         \
    for (long r = 0; r < rows; ++r) {                                                           \
      if (gradcore_label_ok(labels[r], cols)) {                                                 \
        loss[r] = lse[r] - x[r * cols + labels[r]];                                             \
      } else {                                                                                  \
        loss[r] = gradcore_nan<A>();                                                            \
        gradcore_flag_error(bad, labels[r]);                                                    \
      }                                                                                         \
    }                                                                                           \
  }                                                                                             \
  extern "C" void ce_grad_##SUF(const A* x, const A* lse, const long long* labels, const A* g, \
                                double scale, A* gx, long rows, long cols) {                    \
    for (long i = 0; i < rows * cols; ++i) {                                                    \
      const long r = i / cols;                                                                  \
      gx[i] = gradcore_ce_grad<A>(x[i], lse[r], labels[r] == i % cols, g[r] * (A)scale);        \
    }                                                                                           \
  }                                                                                             \
  extern "C" void sum_rows_##SUF(const A* x, A* y, long rows, long cols) {                      \
    for (long c = 0; c < cols; ++c) {                                                           \
      A s = A(0);                                                                               \
      for (long r = 0; r < rows; ++r) s = gradcore_add(s, x[r * cols + c]);                     \
      y[c] = s;                                                                                 \
    }                                                                                           \
  }

GRADCORE_HOST_WRAPPERS(float, f32)
GRADCORE_HOST_WRAPPERS(double, f64)
