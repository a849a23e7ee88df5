"""RMSprop, Adagrad and Adadelta: per-element step sizes from running squared gradients, each
one fused kernel per flat buffer (``gradcore/kernels/optim.py``), like SGD and Adam.

As the other optimizers, they skip a parameter whose ``.grad`` is None, state included.
"""
from __future__ import annotations

import numpy

from gradcore.kernels import optim as K
from gradcore.optim.hyperparameters import real
from gradcore.optim.optimizer import Optimizer

__all__ = ["RMSprop", "Adagrad", "Adadelta"]


class RMSprop(Optimizer):
    """RMSprop as PyTorch's (Hinton's lecture 6e form), with g = grad + weight_decay * p:

    sq <- alpha sq + (1 - alpha) g²;  avg = sqrt(sq) + eps (``centered``: sqrt(sq - ga²) + eps
    with ga <- alpha ga + (1 - alpha) g);  p <- p - lr g / avg, or with momentum
    buf <- momentum buf + g / avg;  p <- p - lr buf.

    >>> import gradcore as gc
    >>> p = gc.nn.Parameter(gc.tensor([1.0]))
    >>> opt = gc.optim.RMSprop([p], lr=0.01)
    >>> p.grad = gc.tensor([2.0]); opt.step(); round(p.item(), 5)  # 1 - 0.01 * 2 / sqrt(0.04)
    0.9
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))
        groups = self.param_groups
        # the state a configuration needs, named as PyTorch names it (fixed at construction)
        self.state_names = ("square_avg",) + (
            ("momentum_buffer",) if any(g["momentum"] for g in groups) else ()) + (
            ("grad_avg",) if any(g["centered"] for g in groups) else ())

    def _validate(self, hyper):
        super()._validate(hyper)
        real("RMSprop", "alpha", hyper.get("alpha", 0.99), low=0.0)
        real("RMSprop", "eps", hyper.get("eps", 1e-8), low=0.0)
        real("RMSprop", "momentum", hyper.get("momentum", 0.0), low=0.0)
        centered = hyper.get("centered", False)
        if not isinstance(centered, (bool, numpy.bool_)):
            raise TypeError(f"RMSprop: centered must be True or False, got centered={centered!r}")

    def _run_key(self, group, step):
        return 0  # no step count in the update: every parameter with a gradient in one launch

    def _update(self, pack, group, state, run, step):
        missing = [name for name, on in (("momentum_buffer", group["momentum"]),
                                         ("grad_avg", group["centered"])) if on and name not in state]
        if missing:
            raise ValueError(f"RMSprop: {missing} turned on after construction; build the "
                             "optimizer with the momentum/centered settings it will use")
        K.rmsprop_step(pack.data[run], pack.grad[run], state["square_avg"][run], group["lr"],
                       group["alpha"], group["eps"], group["weight_decay"], group["momentum"],
                       grad_avg=state["grad_avg"][run] if group["centered"] else None,
                       buf=state["momentum_buffer"][run] if group["momentum"] else None)


class Adagrad(Optimizer):
    """Adagrad as PyTorch's: with g = grad + weight_decay * p and step t,

    sum <- sum + g²;  p <- p - lr / (1 + (t - 1) lr_decay) * g / (sqrt(sum) + eps).

    ``sum`` starts at ``initial_accumulator_value``.

    >>> import gradcore as gc
    >>> p = gc.nn.Parameter(gc.tensor([1.0]))
    >>> opt = gc.optim.Adagrad([p], lr=0.1)
    >>> p.grad = gc.tensor([2.0]); opt.step(); round(p.item(), 5)  # 1 - 0.1 * 2 / 2
    0.9
    """

    state_names = ("sum",)

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps))

    def _validate(self, hyper):
        super()._validate(hyper)
        real("Adagrad", "lr_decay", hyper.get("lr_decay", 0.0), low=0.0)
        real("Adagrad", "initial_accumulator_value",
             hyper.get("initial_accumulator_value", 0.0), low=0.0)
        real("Adagrad", "eps", hyper.get("eps", 1e-10), low=0.0)

    def _initial_state(self, group, name):
        return group["initial_accumulator_value"]

    def _run_key(self, group, step):
        return step if group["lr_decay"] else 0  # the step matters only through the decay

    def _update(self, pack, group, state, run, step):
        K.adagrad_step(pack.data[run], pack.grad[run], state["sum"][run], group["lr"],
                       group["lr_decay"], group["eps"], group["weight_decay"], step)


class Adadelta(Optimizer):
    """Adadelta (Zeiler 2012) as PyTorch's: with g = grad + weight_decay * p,

    sq <- rho sq + (1 - rho) g²;  d = sqrt(acc + eps) / sqrt(sq + eps) * g;
    acc <- rho acc + (1 - rho) d²;  p <- p - lr d.

    >>> import gradcore as gc
    >>> p = gc.nn.Parameter(gc.tensor([1.0], dtype="float64"))
    >>> opt = gc.optim.Adadelta([p])
    >>> p.grad = gc.ones(1, dtype="float64"); opt.step(); round(1 - p.item(), 6)  # sqrt(1e-6 / 0.1)
    0.003162
    """

    state_names = ("square_avg", "acc_delta")

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay))

    def _validate(self, hyper):
        super()._validate(hyper)
        real("Adadelta", "rho", hyper.get("rho", 0.9), low=0.0, high=1.0)
        real("Adadelta", "eps", hyper.get("eps", 1e-6), low=0.0)

    def _run_key(self, group, step):
        return 0  # no step count in the update

    def _update(self, pack, group, state, run, step):
        K.adadelta_step(pack.data[run], pack.grad[run], state["square_avg"][run],
                        state["acc_delta"][run], group["lr"], group["rho"], group["eps"],
                        group["weight_decay"])
