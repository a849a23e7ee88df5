// gradcore kernel layer: shared helpers for every kernel family.
//
// This header compiles four ways (see kernels/README.md):
//   1. under NVRTC, as the preamble CuPy prepends to our Elementwise/ReductionKernels;
//   2. under nvcc, in the compile test (tests/kernels/test_compile.py);
//   3. as plain host C++ with g++, so the math is tested against the NumPy twins without a GPU;
//   4. with g++ again, behind the operation strings, by the host stand-in for CuPy
//      (tests/kernels/hostcupy/).
// Everything below is therefore header-only, `__host__ __device__` where CUDA is on, and free of
// standard-library headers when NVRTC compiles it (NVRTC has no <cmath>).
#ifndef GRADCORE_COMMON_CUH
#define GRADCORE_COMMON_CUH

#if defined(__CUDACC__)  // nvcc and NVRTC both define it
#define GRADCORE_HD __host__ __device__ __forceinline__
#else
#define GRADCORE_HD inline
#endif

// NVRTC ships the math functions as builtins and cannot open standard headers; nvcc and g++
// need <cmath> for the host side and <limits> for infinity.
#if !defined(__CUDACC_RTC__)
#include <cmath>
#include <limits>
#endif

// Accumulate type: float16 is only a storage format here, all arithmetic runs in float32.
// GRADCORE_HALF_TYPE names the half class of the compiler at hand: CuPy's `float16` when the
// Python side builds the preamble, `__half` under nvcc; plain host builds have no half type.
template <class T> struct gradcore_acc { typedef T type; };
#ifdef GRADCORE_HALF_TYPE
template <> struct gradcore_acc<GRADCORE_HALF_TYPE> { typedef float type; };
#endif

// Overloads (not templates) so that float code calls the float functions: `exp(float)` would
// silently promote to double on the host and cost 2x-32x on the device.
GRADCORE_HD float gradcore_exp(float x) { return expf(x); }
GRADCORE_HD double gradcore_exp(double x) { return exp(x); }
GRADCORE_HD float gradcore_log(float x) { return logf(x); }
GRADCORE_HD double gradcore_log(double x) { return log(x); }
GRADCORE_HD float gradcore_log1p(float x) { return log1pf(x); }
GRADCORE_HD double gradcore_log1p(double x) { return log1p(x); }
GRADCORE_HD float gradcore_tanh(float x) { return tanhf(x); }
GRADCORE_HD double gradcore_tanh(double x) { return tanh(x); }
GRADCORE_HD float gradcore_sqrt(float x) { return sqrtf(x); }
GRADCORE_HD double gradcore_sqrt(double x) { return sqrt(x); }
GRADCORE_HD float gradcore_abs(float x) { return fabsf(x); }
GRADCORE_HD double gradcore_abs(double x) { return fabs(x); }

// +infinity without INFINITY/HUGE_VAL, which NVRTC does not define.
template <class A> GRADCORE_HD A gradcore_inf();
template <> GRADCORE_HD float gradcore_inf<float>() {
#ifdef __CUDA_ARCH__
  return __int_as_float(0x7f800000);
#else
  return std::numeric_limits<float>::infinity();
#endif
}
template <> GRADCORE_HD double gradcore_inf<double>() {
#ifdef __CUDA_ARCH__
  return __longlong_as_double(0x7ff0000000000000LL);
#else
  return std::numeric_limits<double>::infinity();
#endif
}

// A quiet NaN, likewise without NAN: inf - inf (IEEE; CuPy compiles without fast-math).
template <class A> GRADCORE_HD A gradcore_nan() { return gradcore_inf<A>() - gradcore_inf<A>(); }

// Mark a flag row [found, value] of gradcore.kernels.errors: the host raises at its next
// synchronization. Plain stores: racing writers all write an offending value, any one will do.
GRADCORE_HD void gradcore_flag_error(long long* flag, long long value) {
  flag[0] = 1;
  flag[1] = value;
}

#endif  // GRADCORE_COMMON_CUH
