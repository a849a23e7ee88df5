// Optimizer updates: one element of param and its state, updated in the accumulate type.
// Twin: gradcore/kernels/optim.py. Hyperparameters arrive precomputed by the host
// (1 - dampening, lr / (1 - beta1^t), ...), exactly as PyTorch folds them in Python floats.
#ifndef GRADCORE_OPTIM_CUH
#define GRADCORE_OPTIM_CUH
#ifndef GRADCORE_COMMON_CUH  // CuPy's preamble already pasted common.cuh in front
#include "common.cuh"
#endif

// PyTorch SGD. Returns the new param; updates buf only when has_momentum.
template <class A>
GRADCORE_HD A gradcore_sgd_update(A p, A g, A& buf, bool has_momentum, A lr, A momentum,
                                  A damp_keep, A weight_decay, bool nesterov, bool first_step) {
  // Skipped at 0 as PyTorch does: 0 * inf would turn an infinite param into NaN.
  if (weight_decay != A(0)) g = g + weight_decay * p;
  if (has_momentum) {
    buf = first_step ? g : momentum * buf + damp_keep * g;
    g = nesterov ? g + momentum * buf : buf;
  }
  return p - lr * g;
}

// PyTorch Adam (l2 = weight_decay, decay = 1) or AdamW (l2 = 0, decay = 1 - lr*weight_decay).
// step_size = lr / (1 - beta1^t), bc2_sqrt = sqrt(1 - beta2^t). Returns the new param.
template <class A>
GRADCORE_HD A gradcore_adam_update(A p, A g, A& m, A& v, A beta1, A one_minus_beta1, A beta2,
                                   A one_minus_beta2, A eps, A l2, A decay, A step_size,
                                   A bc2_sqrt) {
  if (l2 != A(0)) g = g + l2 * p;
  if (decay != A(1)) p = p * decay;
  m = beta1 * m + one_minus_beta1 * g;
  v = beta2 * v + one_minus_beta2 * (g * g);
  const A denom = gradcore_sqrt(v) / bc2_sqrt + eps;
  return p - step_size * (m / denom);
}

#endif  // GRADCORE_OPTIM_CUH
