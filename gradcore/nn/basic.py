"""Shape and lookup layers: Flatten, Unflatten, Dropout, Embedding (with their functional forms
``dropout`` and ``embedding``)."""
from __future__ import annotations

import math
import numbers

from gradcore import backend, checks, rng, tracing
from gradcore.creation import empty
from gradcore.nn import init
from gradcore.nn.module import Module
from gradcore.nn.parameter import Parameter
from gradcore.ops.indexing import getitem
from gradcore.ops.shape import flatten, reshape
from gradcore.tensor import Tensor

__all__ = ["dropout", "embedding", "Flatten", "Unflatten", "Dropout", "Embedding"]


def _axis(dim, ndim, op):
    if not -ndim <= dim < ndim:
        raise ValueError(f"{op}: dim {dim} is out of range for an input with {ndim} dimensions")
    return dim % ndim


class Flatten(Module):
    """Joins dims ``start_dim..end_dim`` into one (default: all but the batch dim), as
    ``torch.nn.Flatten``.

    >>> import gradcore as gc
    >>> gc.nn.Flatten()(gc.zeros((2, 3, 4))).shape
    (2, 12)
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = checks.integer(start_dim, "Flatten", "start_dim")
        self.end_dim = checks.integer(end_dim, "Flatten", "end_dim")

    def forward(self, x):
        return flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Splits dim ``dim`` into ``unflattened_size``, as ``torch.nn.Unflatten``.

    >>> import gradcore as gc
    >>> gc.nn.Unflatten(1, (3, 4))(gc.zeros((2, 12))).shape
    (2, 3, 4)
    """

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim = checks.integer(dim, "Unflatten", "dim")
        self.unflattened_size = checks.int_tuple(unflattened_size, "Unflatten", "unflattened_size")

    def forward(self, x):
        shape = tuple(x.shape)
        d = _axis(self.dim, len(shape), "Unflatten") if shape else _axis(self.dim, 0, "Unflatten")
        sizes, n = self.unflattened_size, shape[d]
        known = math.prod(s for s in sizes if s != -1)
        if sizes.count(-1) > 1 or (-1 not in sizes and known != n) or (-1 in sizes and n % known):
            raise ValueError(f"Unflatten: cannot split dim {self.dim} of size {n} (input shape "
                             f"{shape}) into {sizes}")
        return reshape(x, shape[:d] + sizes + shape[d + 1:])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


def _check_p(p, op):
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise ValueError(f"{op}: dropout probability must be a number in [0, 1], got {p!r}")
    return float(p)


def dropout(x, p=0.5, training=True, generator=None):
    """Zeroes each element with probability ``p`` and scales the rest by ``1 / (1 - p)``
    (inverted dropout: the expected value is unchanged, so evaluation needs no rescaling).
    The mask is drawn from gradcore's seeded generator (``gc.manual_seed``), on the host, so a
    seed gives the same mask on CPU and GPU (``generator=``: a :class:`gradcore.Generator` of its
    own). ``training=False`` returns ``x``.

    >>> import gradcore as gc
    >>> gc.manual_seed(0)
    >>> y = gc.nn.functional.dropout(gc.ones(1000), p=0.5)
    >>> sorted(set(y.tolist())), 400 < int((y > 0).sum().item()) < 600
    ([0.0, 2.0], True)
    """
    p = _check_p(p, "dropout")
    if not training or p == 0:
        return x
    if x.dtype.kind != "f":
        raise TypeError(f"dropout: input must be floating point, got {x.dtype} (shape {x.shape})")
    if p == 1:
        return x * 0.0  # every element dropped (PyTorch returns zeros too, not NaN from 0/0)
    mask = tracing.host_call(_dropout_mask, x.shape, p, x.dtype, generator)  # new draws at each replay
    return x * Tensor(backend.to_device(mask, x.device), device=x.device)


def _dropout_mask(shape, p, dtype, generator):
    """Keep (scaled by 1 / (1 - p)) with probability 1 - p, from ``generator`` (None: the
    global one)."""
    keep = rng.numpy_generator(generator, "dropout").random(shape) >= p
    return (keep * (1.0 / (1.0 - p))).astype(dtype)


class Dropout(Module):
    """Module form of :func:`dropout`: active in training mode, the identity after ``eval()``.

    >>> import gradcore as gc
    >>> drop = gc.nn.Dropout(p=0.25)
    >>> x = gc.ones(4)
    >>> drop.eval()(x) is x
    True
    """

    def __init__(self, p=0.5):
        super().__init__()
        self.p = _check_p(p, "Dropout")

    def forward(self, x):
        return dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


def embedding(indices, weight):
    """Rows of ``weight`` (num_embeddings, embedding_dim) picked by integer ``indices`` of any
    shape; the result has shape ``indices.shape + (embedding_dim,)``. The gradient of a row
    used several times is the sum of its uses.

    >>> import gradcore as gc
    >>> w = gc.tensor([[0.0, 1.0], [2.0, 3.0]], requires_grad=True)
    >>> gc.nn.functional.embedding(gc.tensor([1, 1, 0]), w).sum().backward()
    >>> w.grad.tolist()
    [[1.0, 1.0], [2.0, 2.0]]
    """
    idx = indices if isinstance(indices, Tensor) else Tensor(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {idx.dtype} (shape {idx.shape})")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be (num_embeddings, embedding_dim), got {weight.shape}")
    if idx.device is not weight.device:
        raise ValueError(f"embedding: indices on {idx.device} but weight on {weight.device}")
    n = weight.shape[0]
    if idx.size and (int(idx.array.min()) < 0 or int(idx.array.max()) >= n):
        raise IndexError(f"embedding: indices must be in [0, {n}) for a weight of shape "
                         f"{weight.shape}, got values from {int(idx.array.min())} to "
                         f"{int(idx.array.max())}")
    return getitem(weight, idx)


class Embedding(Module):
    """A lookup table of ``num_embeddings`` vectors of size ``embedding_dim``, initialised
    N(0, 1) like PyTorch's (see :func:`embedding`).

    >>> import gradcore as gc
    >>> gc.nn.Embedding(10, 3)(gc.tensor([[1, 2], [3, 4]])).shape
    (2, 2, 3)
    """

    def __init__(self, num_embeddings, embedding_dim, dtype=None, device=None):
        super().__init__()
        self.num_embeddings = checks.integer(num_embeddings, "Embedding", "num_embeddings")
        self.embedding_dim = checks.integer(embedding_dim, "Embedding", "embedding_dim")
        if self.num_embeddings <= 0 or self.embedding_dim <= 0:
            raise ValueError(f"Embedding: sizes must be positive, got ({num_embeddings}, {embedding_dim})")
        self.weight = Parameter(init.normal_(empty(self.num_embeddings, self.embedding_dim,
                                                   dtype=dtype, device=device)))

    def forward(self, indices):
        return embedding(indices, self.weight)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"
