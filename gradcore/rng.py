"""Random numbers: gradcore's global generator (seeded by :func:`manual_seed`) and
:class:`Generator`, a seeded one of its own. Every draw happens on the host in NumPy, whatever
the device, so one seed gives the same numbers on CPU and GPU; the creation functions and the
layers that draw (``randn``, ``dropout``, the initializers, ``DataLoader``'s shuffle) ask
:func:`numpy_generator` for the generator to use.
"""
from __future__ import annotations

import numpy

from gradcore.checks import seed as _checked_seed

__all__ = ["Generator", "manual_seed", "numpy_generator", "random_state"]


# One generator per device family, so a seed gives the same numbers on every run. GPU tensors
# draw on the host and copy, which keeps CPU and GPU initialisations identical for one seed.
_rng = {"generator": numpy.random.default_rng()}


def manual_seed(seed):
    """Seed gradcore's random number generator (used by randn, rand and the initializers).

    On the CPU one seed gives bit-identical training runs. On a GPU the random numbers are the
    same too (they are drawn on the host), and so is most of the arithmetic, but not all of it:

    * cuBLAS GEMMs (matmul, linear, the fused Linear + activation) are deterministic for a fixed
      configuration: same GPU model, CUDA/cuBLAS and CuPy versions, shapes, dtypes and
      ``set_matmul_precision`` (TF32 or not). Change any of these and the low bits may change.
    * gradcore's own kernels (activations, bias + activation, the optimizer updates, the
      softmax cross-entropy) and CuPy's ReductionKernels (sum, mean, max, logsumexp, the bias
      gradient) reduce in a fixed order, so they are bit-identical run to run.
    * Atomics-based reductions are not: the backward of integer-array indexing scatters with an
      atomic add (``add.at`` / ``cupyx.scatter_add``), so where an index repeats, the order of
      the additions, and the low bits of the result, may differ from run to run.
    * GPU and CPU results agree to rounding, not bit for bit.

    >>> import gradcore as gc
    >>> gc.manual_seed(0); a = gc.randn(3).numpy(); gc.manual_seed(0)
    >>> bool((a == gc.randn(3).numpy()).all())
    True
    """
    _rng["generator"] = numpy.random.default_rng(_checked_seed(seed, "manual_seed"))


def random_state():
    """The ``numpy.random.Generator`` behind gradcore's random functions."""
    return _rng["generator"]


class Generator:
    """A seeded random number generator of its own, PyTorch's ``torch.Generator``: pass it as
    ``generator=`` to ``randn``, ``rand``, ``randint``, ``multinomial``, ``normal_``,
    ``uniform_``, ``dropout`` and ``DataLoader``; without one they draw from the global generator
    that :func:`manual_seed` seeds. It wraps a ``numpy.random.Generator`` and draws on the host
    for every device, as the global one does, so one seed gives the same numbers on CPU and GPU.

    >>> import gradcore as gc
    >>> g = gc.Generator().manual_seed(3)
    >>> a = gc.randn(2, generator=g).tolist(); g.manual_seed(3)
    Generator(seed=3)
    >>> a == gc.randn(2, generator=g).tolist(), g.initial_seed()
    (True, 3)
    """

    def __init__(self, device=None):
        self.device = device  # accepted for PyTorch's signature; draws are on the host
        self._seed = None
        self.numpy = numpy.random.default_rng()

    def manual_seed(self, seed):
        """Reseed; returns the generator (as PyTorch's)."""
        self._seed = _checked_seed(seed, "Generator.manual_seed")
        self.numpy = numpy.random.default_rng(self._seed)
        return self

    def initial_seed(self):
        """The seed last given to :meth:`manual_seed` (None if never seeded)."""
        return self._seed

    def __repr__(self):
        return f"Generator(seed={self._seed})"


def numpy_generator(generator, op):
    """The ``numpy.random.Generator`` to draw from: ``generator``'s, or the global one (None).

    >>> from gradcore import rng
    >>> rng.numpy_generator(None, "randn") is rng.random_state()
    True
    """
    if generator is None:
        return _rng["generator"]
    if not isinstance(generator, Generator):
        raise TypeError(f"{op}: generator must be a gradcore.Generator, got "
                        f"{type(generator).__name__}")
    return generator.numpy
