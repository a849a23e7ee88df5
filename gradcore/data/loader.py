"""``DataLoader``: batches of equal-length arrays (or of a :class:`Dataset`'s samples) as Tensors
on a device, reproducibly shuffled.

Each batch reaches the GPU with one host-to-device copy per array: the rows are gathered on the
host into one contiguous buffer, which is then sent in a single transfer (never one copy per
sample). A dataset that fits comfortably on the GPU is instead sent once ("resident") and
batches are gathered there, with no transfer per batch at all.
"""
from __future__ import annotations

import math

import numpy

from gradcore import backend, checks, rng
from gradcore.data.dataset import Dataset, TensorDataset, collate
from gradcore.tensor import Tensor

__all__ = ["DataLoader"]

# "auto" keeps the dataset on the GPU only when it leaves most of the memory for the model
_RESIDENT_FRACTION = 0.25
_DEFAULT = object()  # batch_size not given: 32 for arrays, 1 for a Dataset (as PyTorch)


class DataLoader:
    """Iterate over ``arrays`` (same first dimension) in batches of Tensors on ``device``.

    PyTorch's form works too: ``DataLoader(dataset, batch_size=..., shuffle=...)`` with a
    :class:`~gradcore.data.Dataset`. A :class:`~gradcore.data.TensorDataset` is batched like
    arrays (whole batches gathered at once); any other Dataset is read sample by sample and
    each field stacked (:func:`~gradcore.data.collate`) into one host array, sent with one copy.
    ``.dataset`` is the dataset (for arrays, a TensorDataset of them).

    - ``batch_size``: rows per batch; ``None`` gives one batch of everything (full batch),
      ``1`` single samples (stochastic mode). The last batch is smaller unless ``drop_last``.
      The default is 32 for arrays and 1 for a Dataset (PyTorch's default).
    - ``shuffle``: a new permutation every epoch (every ``iter()``), drawn from the loader's own
      ``numpy.random.Generator``. ``seed`` fixes the sequence of epochs; with ``seed=None`` the
      seed is drawn once from gradcore's generator, so :func:`gradcore.manual_seed` fixes it too;
      ``generator=`` (a :class:`gradcore.Generator`, PyTorch's argument) draws it from that one.
    - ``device``: where the batches go (default: :func:`gradcore.get_default_device`).
    - ``resident``: ``True`` copies the whole dataset to the device once and gathers batches
      there; ``False`` gathers each batch on the host and sends it with one copy per array;
      ``"auto"`` is resident when the device is a GPU and the arrays are already there or take
      less than a quarter of its free memory. On the CPU both are the same.

    Dtypes are kept: integer labels stay integers, ``uint8`` images stay ``uint8``. Every batch
    is a fresh array, so changing it in place never changes the dataset.
    :meth:`state_dict` / :meth:`load_state_dict` capture the shuffle state and the position in
    the epoch, so a resumed run sees exactly the batches an uninterrupted one would have.

    >>> import numpy, gradcore as gc
    >>> x, y = numpy.arange(10.0).reshape(5, 2), numpy.arange(5)
    >>> loader = gc.data.DataLoader(x, y, batch_size=2, device="cpu")
    >>> len(loader), [yb.tolist() for _, yb in loader]
    (3, [[0, 1], [2, 3], [4]])
    >>> ds = gc.data.TensorDataset(gc.tensor(x), gc.tensor(y))
    >>> loader = gc.data.DataLoader(ds, batch_size=4, shuffle=True)
    >>> loader.dataset is ds, [len(yb) for _, yb in loader]
    (True, [4, 1])
    """

    def __init__(self, *arrays, batch_size=_DEFAULT, shuffle=False, drop_last=False, seed=None,
                 device=None, resident="auto", generator=None):
        if not arrays:
            raise ValueError("DataLoader: expected at least one array")
        if generator is not None:
            if seed is not None:
                raise TypeError("DataLoader: give seed or generator, not both")
            seed = int(rng.numpy_generator(generator, "DataLoader").integers(2**63))
        self.dataset = None
        if any(isinstance(a, Dataset) for a in arrays):
            if len(arrays) != 1:
                raise TypeError(f"DataLoader: a Dataset comes alone, got {len(arrays)} positional "
                                "arguments (pass batch_size, shuffle... by keyword)")
            self.dataset = arrays[0]
            if batch_size is _DEFAULT:
                batch_size = 1  # PyTorch's default for DataLoader(dataset)
            if isinstance(self.dataset, TensorDataset):
                arrays = self.dataset.tensors
        if batch_size is _DEFAULT:
            batch_size = 32
        if self.dataset is not None and not isinstance(self.dataset, TensorDataset):
            self._init_dataset(batch_size, shuffle, drop_last, seed, device)
            return
        arrays = [a.array if isinstance(a, Tensor) else a for a in arrays]
        arrays = [a if _is_array(a) else numpy.asarray(a) for a in arrays]
        shapes = [tuple(a.shape) for a in arrays]
        if any(len(s) == 0 for s in shapes):
            raise ValueError(f"DataLoader: arrays must have a first (sample) dimension; got "
                             f"shapes {shapes}")
        if len({s[0] for s in shapes}) != 1:
            raise ValueError(f"DataLoader: arrays must have the same length (first dimension); "
                             f"got shapes {shapes}")
        n = shapes[0][0]
        if n == 0:
            raise ValueError(f"DataLoader: the dataset is empty (shapes {shapes})")
        if batch_size is not None and (not checks.is_integer(batch_size) or batch_size <= 0):
            raise ValueError(f"DataLoader: batch_size must be a positive int or None (full "
                             f"batch), got {batch_size!r} for arrays of shapes {shapes}")
        if drop_last and batch_size is not None and batch_size > n:
            raise ValueError(f"DataLoader: drop_last=True with batch_size={batch_size} larger "
                             f"than the {n} samples (shapes {shapes}) would yield no batch")
        if resident not in (True, False, "auto"):
            raise ValueError(f"DataLoader: resident must be True, False or 'auto', got "
                             f"{resident!r}")
        self.num_samples = n
        self.batch_size = n if batch_size is None else int(batch_size)
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        self.device = backend.device(device) if device is not None else backend.get_default_device()
        self.resident = self.device.type == "cuda" and (
            resident is True or (resident == "auto" and _fits_on_device(arrays, self.device)))
        if self.resident:  # one copy of the whole dataset; batches are then gathered on the GPU
            self._arrays = [backend.to_device(a, self.device) for a in arrays]
        else:  # C-contiguous rows so a host gather is a plain memcpy per row
            self._arrays = [numpy.ascontiguousarray(backend.to_device(a, backend.CPU))
                            for a in arrays]
        if self.dataset is None:  # the arrays as PyTorch's TensorDataset (no copy)
            self.dataset = TensorDataset(*(Tensor._make(a, backend.device_of(a), False, None, 0)
                                           for a in self._arrays))
        self._init_order(seed)

    def _init_dataset(self, batch_size, shuffle, drop_last, seed, device):
        """A general Dataset: samples are fetched one by one and collated per batch."""
        n = len(self.dataset)
        if n == 0:
            raise ValueError(f"DataLoader: the dataset {type(self.dataset).__name__} is empty")
        if not checks.is_integer(batch_size) or batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        self.num_samples, self.batch_size = n, int(batch_size)
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        if self.drop_last and self.batch_size > n:
            raise ValueError(f"DataLoader: drop_last=True with batch_size={batch_size} larger "
                             f"than the {n} samples would yield no batch")
        self.device = backend.device(device) if device is not None else backend.get_default_device()
        self.resident, self._arrays = False, None
        self._init_order(seed)

    def _init_order(self, seed):
        if seed is None:
            seed = int(rng.random_state().integers(2**63))
        self._rng = numpy.random.default_rng(checks.seed(seed, "DataLoader"))
        self.epoch = 0  # epochs started
        self._position = 0  # batches yielded in the current epoch
        self._epoch_state = self._rng.bit_generator.state  # generator state that made its order
        self._resume = None  # (epoch state, batches to skip) after load_state_dict mid-epoch

    def __len__(self):
        """Number of batches per epoch."""
        if self.drop_last:
            return self.num_samples // self.batch_size
        return math.ceil(self.num_samples / self.batch_size)

    def __iter__(self):
        if self._resume is not None:  # finish the epoch that was interrupted
            state, start = self._resume
            self._resume = None
            replay = numpy.random.default_rng()
            replay.bit_generator.state = state
            order = self._order(replay)
        else:
            self._epoch_state = self._rng.bit_generator.state
            order, start = self._order(self._rng), 0
            self.epoch += 1
        self._position = start
        # Set up eagerly (above) so iter() alone advances the epoch, as a resumed run expects.
        return self._batches(order, start, self.epoch)

    def _order(self, draws):
        """This epoch's sample order: a permutation when shuffling, else None (sequential)."""
        return draws.permutation(self.num_samples) if self.shuffle else None

    def _batches(self, order, start, epoch):
        if order is not None and self.resident:
            order = backend.to_device(order, self.device)  # one copy per epoch, sliced per batch
        for b in range(start, len(self)):
            lo, hi = b * self.batch_size, min((b + 1) * self.batch_size, self.num_samples)
            rows = slice(lo, hi) if order is None else order[lo:hi]
            if self._arrays is None:  # a general Dataset: one sample at a time, then stacked
                indices = range(lo, hi) if order is None else order[lo:hi].tolist()
                fields = collate([self.dataset[i] for i in indices])
                batch = tuple(Tensor._make(backend.to_device(f, self.device), self.device, False,
                                           None, 0) for f in fields)
            else:
                batch = tuple(self._gather(a, rows) for a in self._arrays)
            if epoch == self.epoch:  # an older, abandoned iterator does not move the position
                self._position = b + 1
            yield batch

    def _gather(self, array, rows):
        """One batch of ``array`` as a Tensor on the device, in a fresh contiguous buffer."""
        if isinstance(rows, slice):
            part = array[rows].copy()  # copy: the batch must not alias the dataset
        else:
            part = array.take(rows, axis=0)  # gathers straight into a new contiguous buffer
        if not self.resident:
            part = backend.to_device(part, self.device)  # the batch's one host-to-device copy
        return Tensor._make(part, self.device, False, None, 0)

    # ---- checkpointing ---------------------------------------------------------------------------
    def state_dict(self):
        """The shuffle generator's state and the position in the epoch, as plain Python values.

        >>> import numpy, gradcore as gc
        >>> a = gc.data.DataLoader(numpy.arange(6), batch_size=2, shuffle=True, seed=0,
        ...                        device="cpu")
        >>> it = iter(a); first = next(it)
        >>> b = gc.data.DataLoader(numpy.arange(6), batch_size=2, shuffle=True, seed=1,
        ...                        device="cpu")
        >>> b.load_state_dict(a.state_dict())
        >>> [x.tolist() for (x,) in b] == [x.tolist() for (x,) in it]
        True
        """
        return {"epoch": self.epoch, "batch": self._position,  # batches taken in this epoch
                "generator": _copy_state(self._rng.bit_generator.state),
                "epoch_generator": _copy_state(self._epoch_state)}

    def load_state_dict(self, state):
        """Continue from ``state`` (from :meth:`state_dict`).

        If the saved epoch was started and not finished, the next ``iter()`` yields the rest of
        it (same order, the batches already taken skipped, ``epoch`` unchanged); after that, and
        otherwise, each ``iter()`` draws the epoch an uninterrupted run would have drawn.
        """
        try:
            epoch, batch = int(state["epoch"]), int(state["batch"])
            self._rng.bit_generator.state = _copy_state(state["generator"])
            epoch_state = _copy_state(state["epoch_generator"])
            numpy.random.default_rng().bit_generator.state = epoch_state  # validate it now
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"DataLoader.load_state_dict: invalid state ({type(e).__name__}: "
                             f"{e})") from e
        if not 0 <= batch <= len(self):
            raise ValueError(f"DataLoader.load_state_dict: batch {batch} is outside the "
                             f"{len(self)} batches of an epoch of this loader")
        self.epoch, self._position, self._epoch_state = epoch, batch, epoch_state
        # An epoch that was started (even with no batch taken yet) and not finished is replayed
        self._resume = (epoch_state, batch) if epoch > 0 and batch < len(self) else None

    def __repr__(self):
        return (f"DataLoader({self.num_samples} samples, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, device='{self.device}', resident={self.resident})")


def _copy_state(state):
    """A deep copy of a bit-generator state dict (plain ints, so it saves with gc.save)."""
    return {k: _copy_state(v) if isinstance(v, dict) else v for k, v in state.items()}


def _is_array(a):
    return isinstance(a, numpy.ndarray) or hasattr(a, "__cuda_array_interface__")


def _fits_on_device(arrays, dev):
    """For resident="auto": already on ``dev``, or under a quarter of its free memory."""
    if all(backend.device_of(a) is dev for a in arrays):
        return True
    with dev.use():
        free, _ = dev.xp.cuda.runtime.memGetInfo()
        free += dev.xp.get_default_memory_pool().free_bytes()  # cached by CuPy, reusable
    return sum(a.nbytes for a in arrays) < _RESIDENT_FRACTION * free
