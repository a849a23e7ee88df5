// Reductions. Twin: gradcore/kernels/reduction.py.
//
// sum_rows (the bias gradient) runs in two stages, both written in reduction.py: per-chunk column
// sums in an ElementwiseKernel (its loop indexes a raw CuPy array, so it stays in the operation
// string), then a ReductionKernel over the chunks that combines with gradcore_add in the
// accumulate type (float for half inputs). reduction.py explains the block arithmetic.
#ifndef GRADCORE_REDUCTION_CUH
#define GRADCORE_REDUCTION_CUH
#ifndef GRADCORE_COMMON_CUH  // CuPy's preamble already pasted common.cuh in front
#include "common.cuh"
#endif

template <class A> GRADCORE_HD A gradcore_add(A a, A b) { return a + b; }

#endif  // GRADCORE_REDUCTION_CUH
