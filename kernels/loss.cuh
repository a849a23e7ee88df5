// Softmax cross-entropy pieces. Twin: gradcore/kernels/loss.py.
#ifndef GRADCORE_LOSS_CUH
#define GRADCORE_LOSS_CUH
#ifndef GRADCORE_COMMON_CUH  // CuPy's preamble already pasted common.cuh in front
#include "common.cuh"
#endif

// Online logsumexp: a row is summarised by (m, s) with lse = m + log(s), s = sum exp(x - m).
// Two summaries merge exactly, in any order, so one ReductionKernel pass over the logits gives a
// stable lse (no separate max pass). Plain aggregate: CuPy keeps it in shared memory as raw bytes.
template <class A> struct gradcore_lse_state {
  A m;
  A s;
};

// The empty row: m = -inf, s = 0 (lse = -inf).
template <class A> GRADCORE_HD gradcore_lse_state<A> gradcore_lse_identity() {
  gradcore_lse_state<A> r;
  r.m = -gradcore_inf<A>();
  r.s = A(0);
  return r;
}

template <class A> GRADCORE_HD gradcore_lse_state<A> gradcore_lse_leaf(A x) {
  gradcore_lse_state<A> r;
  r.m = x;
  r.s = A(1);
  return r;
}

template <class A>
GRADCORE_HD gradcore_lse_state<A> gradcore_lse_merge(gradcore_lse_state<A> a,
                                                     gradcore_lse_state<A> b) {
  // hi keeps the larger maximum; a NaN maximum makes `>=` false and lands in hi or poisons d.
  const gradcore_lse_state<A> hi = a.m >= b.m ? a : b;
  const gradcore_lse_state<A> lo = a.m >= b.m ? b : a;
  // Equal maxima, including two infinities of one sign, would give inf - inf = NaN: scale 1.
  const A scale = lo.m == hi.m ? A(1) : gradcore_exp(lo.m - hi.m);
  gradcore_lse_state<A> r;
  r.m = hi.m;
  r.s = hi.s + lo.s * scale;
  return r;
}

template <class A> GRADCORE_HD A gradcore_lse_value(gradcore_lse_state<A> st) {
  return st.m + gradcore_log(st.s);
}

GRADCORE_HD bool gradcore_label_ok(long long label, long long n_class) {
  return label >= 0 && label < n_class;
}

// d loss_i / d x_ij = (softmax_ij - [j == label_i]) * g_i, softmax from the saved lse.
template <class A> GRADCORE_HD A gradcore_ce_grad(A x, A lse, bool is_label, A g) {
  return (gradcore_exp(x - lse) - (is_label ? A(1) : A(0))) * g;
}

#endif  // GRADCORE_LOSS_CUH
