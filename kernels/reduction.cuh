// Reductions. Twin: gradcore/kernels/reduction.py.
//
// sum_rows needs no device function of its own: its ReductionKernel is `a + b` in the accumulate
// type (float for half inputs), see reduction.py. The header exists so every family has one and
// so that a future custom reduction has its home.
#ifndef GRADCORE_REDUCTION_CUH
#define GRADCORE_REDUCTION_CUH
#ifndef GRADCORE_COMMON_CUH  // CuPy's preamble already pasted common.cuh in front
#include "common.cuh"
#endif

template <class A> GRADCORE_HD A gradcore_add(A a, A b) { return a + b; }

#endif  // GRADCORE_REDUCTION_CUH
