"""``Dataset`` and ``TensorDataset``: PyTorch's map-style datasets, for ``DataLoader(dataset, ...)``."""
from __future__ import annotations

import numpy

from gradcore.creation import as_tensor
from gradcore.tensor import Tensor

__all__ = ["Dataset", "TensorDataset", "collate"]


class Dataset:
    """Base class of map-style datasets: define ``__len__`` and ``__getitem__(i)`` returning
    one sample (a tuple of fields, or a single field). :class:`~gradcore.data.DataLoader`
    fetches the samples of a batch and stacks each field into one Tensor (see :func:`collate`).

    >>> import gradcore as gc
    >>> class Squares(gc.data.Dataset):
    ...     def __len__(self):
    ...         return 5
    ...     def __getitem__(self, i):
    ...         return float(i), i * i
    >>> [y.tolist() for _, y in gc.data.DataLoader(Squares(), batch_size=2, device="cpu")]
    [[0, 1], [4, 9], [16]]
    """

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")


class TensorDataset(Dataset):
    """Samples are the rows of equal-length tensors (or arrays): ``dataset[i]`` is
    ``(t[i] for t in tensors)``. A :class:`~gradcore.data.DataLoader` over it gathers whole
    batches at once instead of sample by sample.

    >>> import gradcore as gc
    >>> ds = gc.data.TensorDataset(gc.zeros((4, 2)), gc.tensor([0, 1, 0, 1]))
    >>> len(ds), ds[3][1].item()
    (4, 1)
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor")
        self.tensors = tuple(as_tensor(t) for t in tensors)
        shapes = [t.shape for t in self.tensors]
        if any(len(s) == 0 for s in shapes) or len({s[0] for s in shapes}) != 1:
            raise ValueError(f"TensorDataset: tensors must have the same first (sample) "
                             f"dimension, got shapes {shapes}")

    def __len__(self):
        return self.tensors[0].shape[0]

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)


def collate(samples):
    """Stack a list of samples into host arrays, one per field (PyTorch's default collation for
    tuples, arrays, Tensors and numbers: Python floats become float64, ints int64).

    >>> import gradcore as gc
    >>> x, y = gc.data.collate([(1.0, 2), (3.0, 4)])
    >>> x.tolist(), y.dtype
    ([1.0, 3.0], dtype('int64'))
    """
    first = samples[0]
    if isinstance(first, (tuple, list)):
        if any(not isinstance(s, (tuple, list)) or len(s) != len(first) for s in samples):
            raise TypeError(f"collate: samples must all be tuples of {len(first)} fields")
        return tuple(_stack([s[k] for s in samples], k) for k in range(len(first)))
    return (_stack(samples, 0),)


def _stack(values, field):
    host = [v.numpy() if isinstance(v, Tensor) else v for v in values]
    if isinstance(host[0], dict) or isinstance(host[0], str):
        raise TypeError(f"collate: field {field} is a {type(host[0]).__name__}; DataLoader "
                        "stacks numbers, arrays and Tensors only")
    try:
        out = numpy.stack([numpy.asarray(v) for v in host])
    except ValueError as e:
        shapes = sorted({numpy.shape(v) for v in host})
        raise ValueError(f"collate: field {field} has samples of different shapes {shapes}") from e
    return out
