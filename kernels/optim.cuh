// The pieces that several optimizer kernels share. Each variant (SGD, momentum SGD, Nesterov,
// Adam, AdamW, the four RMSprops, Adagrad, Adadelta) is its own small kernel in gradcore/kernels/optim.py, whose operation string
// reads as the update rule; the NumPy twins there are the specification.
// Hyperparameters arrive as float64 and are folded on the host where they depend on the step
// (lr / (1 - beta1^t), sqrt(1 - beta2^t)), exactly as PyTorch folds them in Python floats.
#ifndef GRADCORE_OPTIM_CUH
#define GRADCORE_OPTIM_CUH
#ifndef GRADCORE_COMMON_CUH  // CuPy's preamble already pasted common.cuh in front
#include "common.cuh"
#endif

// L2 weight decay folded into the gradient (SGD, Adam). Skipped at 0 as PyTorch does:
// 0 * inf would turn an infinite parameter into NaN.
template <class A>
GRADCORE_HD A gradcore_l2(A g, A p, A weight_decay) {
  return weight_decay != A(0) ? g + weight_decay * p : g;
}

// Adam's moments m, v updated in place; returns the step direction m / (sqrt(v) / bc2_sqrt + eps)
// with bc2_sqrt = sqrt(1 - beta2^t). The 1 - beta factors come in from float64, as PyTorch's.
template <class A>
GRADCORE_HD A gradcore_adam_direction(A g, A& m, A& v, A beta1, A one_minus_beta1, A beta2,
                                      A one_minus_beta2, A eps, A bc2_sqrt) {
  m = beta1 * m + one_minus_beta1 * g;
  v = beta2 * v + one_minus_beta2 * (g * g);
  return m / (gradcore_sqrt(v) / bc2_sqrt + eps);
}

#endif  // GRADCORE_OPTIM_CUH
