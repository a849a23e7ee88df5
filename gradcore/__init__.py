"""gradcore: a GPU-accelerated tensor automatic-differentiation engine.

NumPy on the CPU, CuPy and fused CUDA kernels on NVIDIA GPUs; a define-by-run reverse-mode tape,
forward mode, higher-order gradients and finite-difference checks.

>>> import gradcore as gc
>>> x = gc.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> (x.sigmoid() * x).sum().backward()
>>> x.grad.shape
(3,)
"""
from numpy import bool_, float16, float32, float64, int32, int64, uint8  # dtypes, NumPy's names

# tensor first: it defines Tensor, then imports the ops, which build Tensors
from gradcore.tensor import Tensor  # isort: skip
from gradcore import cuda, distributed, nn, optim, ops
from gradcore.autograd.function import Function
from gradcore.autograd.functional import grad, hvp, jvp, value_and_grad, vjp
from gradcore.autograd.mode import (detect_anomaly, enable_grad, is_anomaly_enabled,
                                    is_grad_enabled, no_grad, set_grad_enabled)
from gradcore.autograd.numerical import GradcheckError, gradcheck, numerical_grad
from gradcore.backend import (Device, OutOfMemoryError, device, get_default_device,
                              get_matmul_precision, set_default_device, set_matmul_precision)
from gradcore.rng import Generator, manual_seed
from gradcore.creation import (arange, as_tensor, empty, eye, from_numpy, full, full_like,
                               get_default_dtype, identity, linspace, logspace, multinomial,
                               ones, ones_like, rand, randint, randn, set_default_dtype, tensor,
                               tri, zeros, zeros_like)
from gradcore.ops.activation import leaky_relu, relu, sigmoid, softplus, tanh
from gradcore.ops.arithmetic import add, div, mul, neg, pow, sub
from gradcore.ops.binary import arctan2, fmod, hypot, logaddexp, mod, remainder
from gradcore.ops.compare import equal, greater, greater_equal, less, less_equal, not_equal
from gradcore.ops.convert import astype, to_device
from gradcore.ops.diagonal import diag, diagonal, trace, tril, triu
from gradcore.ops.elementwise import (arccos, arccosh, arcsin, arcsinh, arctan, arctanh, ceil,
                                      cosh, exp2, expm1, floor, log2, log10, reciprocal, round,
                                      sign, sinh, square, tan, trunc)
from gradcore.ops.indexing import getitem, nonzero, take, take_along_axis
from gradcore.ops.join import (append, array_split, cat, column_stack, concatenate, hstack,
                               meshgrid, split, stack, vstack)
from gradcore.ops import linalg  # NumPy's linalg namespace: gc.linalg.norm
from gradcore.ops.linalg import linear, matmul
from gradcore.ops.math import abs, clip, cos, erf, exp, log, log1p, maximum, minimum, sin, sqrt, where
from gradcore.ops.products import dot, einsum, inner, kron, outer, tensordot
from gradcore.ops.reduction import (all, any, argmax, argmin, average, max, mean, min, std, sum,
                                    var)
from gradcore.ops.reorder import argsort, flip, moveaxis, roll, sort
from gradcore.ops.repeat import pad, repeat, tile
from gradcore.ops.scan import cumprod, cumsum, prod
from gradcore.ops.shape import (atleast_1d, atleast_2d, atleast_3d, broadcast_to, expand_dims,
                                flatten, reshape, squeeze, sum_to, swapaxes, transpose)
from gradcore.ops.softmax import log_softmax, logsumexp, softmax
from gradcore.io import load, save
from gradcore.interop import from_dlpack
from gradcore import data  # after Tensor and the ops: the loader builds Tensors
from gradcore import viz
from gradcore import accelerator, utils  # PyTorch's names: gc.accelerator, gc.utils.data

# PyTorch's dtype names, as NumPy dtypes (gc.float is float32, as torch.float). Not in __all__:
# `from gradcore import *` must not shadow Python's float, int and bool.
float, double, half, long, int, bool = float32, float64, float16, int64, int32, bool_  # noqa: A001
from gradcore.compile import compile  # noqa: A004 (gc.compile, as torch.compile)

__version__ = "0.1.0"

__all__ = [
    "Tensor", "tensor", "as_tensor", "Function", "Device", "device", "cuda", "OutOfMemoryError", "nn", "optim", "ops",
    "distributed", "accelerator", "utils",
    "get_default_device", "set_default_device", "get_default_dtype", "set_default_dtype",
    "manual_seed", "Generator", "set_matmul_precision", "get_matmul_precision",
    "bool_", "float16", "float32", "float64", "int32", "int64", "uint8",
    "zeros", "ones", "full", "empty", "arange", "zeros_like", "ones_like", "full_like", "randn",
    "rand", "randint", "multinomial", "from_numpy", "linspace", "logspace", "eye", "identity",
    "tri", "meshgrid", "cat",
    "add", "sub", "mul", "div", "neg", "pow", "matmul", "linear",
    "exp", "log", "log1p", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "leaky_relu",
    "erf", "softplus", "maximum", "minimum", "where", "clip",
    "tan", "arcsin", "arccos", "arctan", "arctan2", "sinh", "cosh", "arcsinh", "arccosh",
    "arctanh", "log2", "log10", "exp2", "expm1", "logaddexp", "square", "reciprocal", "hypot",
    "mod", "remainder", "fmod", "sign", "floor", "ceil", "round", "trunc",
    "sum", "mean", "var", "max", "min", "logsumexp", "softmax", "log_softmax",
    "std", "average", "prod", "cumsum", "cumprod", "argmax", "argmin", "all", "any",
    "flip", "moveaxis", "linalg", "roll", "sort", "argsort", "repeat", "tile", "pad",
    "take", "take_along_axis", "nonzero", "hstack", "vstack", "column_stack", "append",
    "array_split", "atleast_1d", "atleast_2d", "atleast_3d",
    "einsum", "tensordot", "dot", "inner", "outer", "kron", "trace", "diag", "diagonal", "tril",
    "triu",
    "reshape", "transpose", "swapaxes", "expand_dims", "squeeze", "broadcast_to", "sum_to",
    "flatten", "getitem", "concatenate", "stack", "split", "astype", "to_device",
    "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
    "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "detect_anomaly",
    "is_anomaly_enabled",
    "grad", "value_and_grad", "vjp", "jvp", "hvp", "numerical_grad", "gradcheck",
    "GradcheckError",
    "save", "load", "data", "viz", "compile",
    "from_dlpack",
]
