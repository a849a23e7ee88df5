"""Layers: Linear, activation modules, Sequential (which fuses Linear + activation), MLP, and
loss modules."""
from __future__ import annotations

import functools
import math

from gradcore import checks
from gradcore.creation import empty
from gradcore.nn import functional as F
from gradcore.nn import init
from gradcore.nn.activation import GELU, SiLU
from gradcore.nn.module import Module
from gradcore.nn.parameter import Parameter

__all__ = ["Linear", "Identity", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Sequential", "MLP",
           "MSELoss", "CrossEntropyLoss", "BCEWithLogitsLoss"]


class Linear(Module):
    """``y = x @ weight.T + bias`` with weight (out_features, in_features), as ``torch.nn.Linear``.

    Initialised like PyTorch: U(-1/sqrt(in_features), 1/sqrt(in_features)) for both.

    >>> import gradcore as gc
    >>> gc.nn.Linear(3, 2)(gc.ones((5, 3))).shape
    (5, 2)
    """

    def __init__(self, in_features, out_features, bias=True, dtype=None, device=None):
        super().__init__()
        in_features = checks.integer(in_features, "Linear", "in_features")
        out_features = checks.integer(out_features, "Linear", "out_features")
        if in_features <= 0 or out_features <= 0:
            raise ValueError(f"Linear: sizes must be positive, got ({in_features}, {out_features})")
        self.in_features, self.out_features = in_features, out_features
        bound = 1 / math.sqrt(in_features)
        self.weight = Parameter(init.uniform_(empty(out_features, in_features, dtype=dtype, device=device), -bound, bound))
        self.bias = Parameter(init.uniform_(empty(out_features, dtype=dtype, device=device), -bound, bound)) if bias else None

    def forward(self, x, activation=None, negative_slope=0.01):
        return F.linear(x, self.weight, self.bias, activation, negative_slope)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """Returns its input.

    >>> import gradcore as gc
    >>> x = gc.ones(2)
    >>> gc.nn.Identity()(x) is x
    True
    """

    name = "identity"

    def forward(self, x):
        return x


class ReLU(Module):
    """max(x, 0), as a module (see :func:`gradcore.relu`).

    >>> import gradcore as gc
    >>> gc.nn.ReLU()(gc.tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """

    name = "relu"

    def forward(self, x):
        return F.relu(x)


class LeakyReLU(Module):
    """x if x > 0 else negative_slope * x.

    >>> import gradcore as gc
    >>> gc.nn.LeakyReLU(0.5)(gc.tensor([-1.0, 2.0])).tolist()
    [-0.5, 2.0]
    """

    name = "leaky_relu"

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Module):
    """1 / (1 + e**-x).

    >>> import gradcore as gc
    >>> gc.nn.Sigmoid()(gc.tensor([0.0])).tolist()
    [0.5]
    """

    name = "sigmoid"

    def forward(self, x):
        return F.sigmoid(x)


class Tanh(Module):
    """tanh(x).

    >>> import gradcore as gc
    >>> gc.nn.Tanh()(gc.tensor([0.0, 100.0])).tolist()
    [0.0, 1.0]
    """

    name = "tanh"

    def forward(self, x):
        return F.tanh(x)


# MLP's activation names -> the module to put between layers; each module's ``name`` is its row
# in the fused family, so Sequential runs Linear + any of them as one op.
_ACTIVATION_MODULES = {"relu": ReLU, "leaky_relu": LeakyReLU, "sigmoid": Sigmoid, "tanh": Tanh,
                       "identity": Identity, "gelu": GELU, "silu": SiLU,
                       "gelu_tanh": functools.partial(GELU, approximate="tanh")}
_FUSABLE = (ReLU, LeakyReLU, Sigmoid, Tanh, Identity, GELU, SiLU)


class Sequential(Module):
    """Applies its modules in order. A Linear followed by an activation module runs as ONE fused
    op (GEMM, then bias + activation in one pass; the fused kernels on a GPU).

    >>> import gradcore as gc
    >>> net = gc.nn.Sequential(gc.nn.Linear(4, 8), gc.nn.ReLU(), gc.nn.Linear(8, 2))
    >>> net(gc.ones((3, 4))).shape
    (3, 2)
    """

    def __init__(self, *modules):
        super().__init__()
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: item {i} is a {type(m).__name__}, not a Module")
            setattr(self, str(i), m)
        self._plan = None

    def __len__(self):
        return len(self._modules)

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def _fusion_plan(self):
        """[(module, activation name or None)]: Linear layers absorb the activation after them."""
        mods, plan, i = list(self._modules.values()), [], 0
        while i < len(mods):
            m, nxt = mods[i], mods[i + 1] if i + 1 < len(mods) else None
            if (type(m) is Linear and m.bias is not None and type(nxt) in _FUSABLE
                    and getattr(nxt, "negative_slope", 1) > 0):
                plan.append((m, nxt))
                i += 2
            else:
                plan.append((m, None))
                i += 1
        return plan

    def forward(self, x):
        if self._plan is None:
            object.__setattr__(self, "_plan", self._fusion_plan())
        for module, act in self._plan:
            if act is None:
                x = module(x)
            else:
                x = module(x, act.name, getattr(act, "negative_slope", 0.01))
        return x

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        if name != "_plan":
            object.__setattr__(self, "_plan", None)  # the module list changed: plan again


class MLP(Sequential):
    """A multilayer perceptron ``sizes[0] -> sizes[1] -> ... -> sizes[-1]``, with ``activation``
    between layers and none after the last.

    Weights are initialised for the activation: He/Kaiming normal for relu and leaky_relu, and
    for gelu, gelu_tanh and silu (ReLU-like for large inputs; PyTorch defines no gain for them),
    Xavier/Glorot uniform (with the activation's gain) for sigmoid and tanh; biases start at 0.

    >>> import gradcore as gc
    >>> gc.nn.MLP([784, 128, 10]).forward(gc.zeros((2, 784))).shape
    (2, 10)
    """

    def __init__(self, sizes, activation="relu", negative_slope=0.01, bias=True, dtype=None, device=None):
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"MLP: need at least an input and an output size, got {sizes}")
        if activation not in _ACTIVATION_MODULES:
            raise ValueError(f"MLP: unknown activation {activation!r}; expected one of "
                             f"{sorted(_ACTIVATION_MODULES)}")
        layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layer = Linear(n_in, n_out, bias=bias, dtype=dtype, device=device)
            _init_for(layer, activation, negative_slope)
            layers.append(layer)
            if i < len(sizes) - 2:
                act = _ACTIVATION_MODULES[activation]
                layers.append(act(negative_slope) if activation == "leaky_relu" else act())
        super().__init__(*layers)
        self.sizes, self.activation = sizes, activation

    def extra_repr(self):
        return f"sizes={self.sizes}, activation={self.activation!r}"


def _init_for(layer, activation, negative_slope):
    if activation in ("relu", "gelu", "gelu_tanh", "silu"):
        init.kaiming_normal_(layer.weight, nonlinearity="relu")
    elif activation == "leaky_relu":
        init.kaiming_normal_(layer.weight, a=negative_slope, nonlinearity=activation)
    else:
        init.xavier_uniform_(layer.weight, gain=init.calculate_gain(
            "linear" if activation == "identity" else activation))
    if layer.bias is not None:
        init.zeros_(layer.bias)


class MSELoss(Module):
    """Module form of :func:`gradcore.nn.functional.mse_loss`.

    >>> import gradcore as gc
    >>> gc.nn.MSELoss()(gc.tensor([1.0, 3.0]), gc.zeros(2)).item()
    5.0
    """

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, x, target):
        return F.mse_loss(x, target, self.reduction)


class CrossEntropyLoss(Module):
    """Module form of :func:`gradcore.nn.functional.cross_entropy` (integer labels).

    >>> import gradcore as gc
    >>> loss = gc.nn.CrossEntropyLoss()(gc.zeros((2, 4)), gc.tensor([0, 3]))
    >>> round(loss.item(), 4)  # uniform over 4 classes: log(4)
    1.3863
    """

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, logits, labels):
        return F.cross_entropy(logits, labels, self.reduction)


class BCEWithLogitsLoss(Module):
    """Module form of :func:`gradcore.nn.functional.binary_cross_entropy_with_logits`.

    >>> import gradcore as gc
    >>> loss = gc.nn.BCEWithLogitsLoss()(gc.zeros(2), gc.tensor([0.0, 1.0]))
    >>> round(loss.item(), 4)  # p = 0.5 for both: log(2)
    0.6931
    """

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, logits, target):
        return F.binary_cross_entropy_with_logits(logits, target, self.reduction)
