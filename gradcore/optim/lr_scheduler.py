"""Learning-rate schedules: step decay, cosine annealing, linear warm-up (PyTorch's names).

Call ``scheduler.step()`` once per epoch (or per iteration, as you define the unit) after
``optimizer.step()``. Each keeps the base learning rates and its step count in ``state_dict``
so a resumed run follows the same schedule.
"""
from __future__ import annotations

import math

from gradcore.optim.hyperparameters import positive_int, real
from gradcore.optim.optimizer import Optimizer

__all__ = ["LRScheduler", "StepLR", "CosineAnnealingLR", "LinearWarmup"]


class LRScheduler:
    """Base class: sets each group's ``lr`` to ``factor(t) * base_lr`` at step t.

    A subclass defines ``lr_at(base_lr, t)``:

    >>> import gradcore as gc
    >>> class Halving(gc.optim.lr_scheduler.LRScheduler):
    ...     def lr_at(self, base_lr, t): return base_lr / 2 ** t
    >>> s = Halving(gc.optim.SGD([gc.nn.Parameter(gc.zeros(1))], lr=1.0))
    >>> s.step(); s.step(); s.get_last_lr()
    [0.25]
    """

    def __init__(self, optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: optimizer must be a gradcore.optim "
                            f"Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lrs = [g["lr"] for g in optimizer.param_groups]
        self.last_step = 0
        self._apply()

    def lr_at(self, base_lr, t):
        raise NotImplementedError(f"{type(self).__name__} must define lr_at(base_lr, t)")

    def _apply(self):
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = self.lr_at(base, self.last_step)

    def step(self):
        """Advance the schedule by one unit and set the new learning rates."""
        self.last_step += 1
        self._apply()

    def get_last_lr(self):
        """The learning rate of each parameter group now."""
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self):
        """The schedule's position and base learning rates."""
        return {"last_step": self.last_step, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state):
        """Restore a position saved by :meth:`state_dict`."""
        self.last_step = int(state["last_step"])
        self.base_lrs = [float(v) for v in state["base_lrs"]]
        self._apply()


class StepLR(LRScheduler):
    """lr = base_lr * gamma ** (t // step_size).

    >>> import gradcore as gc
    >>> opt = gc.optim.SGD([gc.nn.Parameter(gc.zeros(1))], lr=1.0)
    >>> s = gc.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    >>> for _ in range(4): s.step()
    >>> s.get_last_lr()
    [0.25]
    """

    def __init__(self, optimizer, step_size, gamma=0.1):
        self.step_size = positive_int("StepLR", "step_size", step_size)
        self.gamma = real("StepLR", "gamma", gamma, low=0.0)
        super().__init__(optimizer)

    def lr_at(self, base_lr, t):
        return base_lr * self.gamma ** (t // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2, flat after T_max.

    >>> import gradcore as gc
    >>> opt = gc.optim.SGD([gc.nn.Parameter(gc.zeros(1))], lr=1.0)
    >>> s = gc.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4)
    >>> for _ in range(2): s.step()
    >>> s.get_last_lr()  # half way: half the base lr
    [0.5]
    """

    def __init__(self, optimizer, T_max, eta_min=0.0):  # noqa: N803 (PyTorch's name)
        self.T_max = positive_int("CosineAnnealingLR", "T_max", T_max)
        self.eta_min = real("CosineAnnealingLR", "eta_min", eta_min, low=0.0)
        super().__init__(optimizer)

    def lr_at(self, base_lr, t):
        t = min(t, self.T_max)
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * t / self.T_max)) / 2


class LinearWarmup(LRScheduler):
    """lr rises linearly from ``start_factor * base_lr`` to ``base_lr`` over ``warmup_steps``,
    then stays (or follows ``after``, another scheduler's rule, counted from the end of warm-up).

    >>> import gradcore as gc
    >>> opt = gc.optim.SGD([gc.nn.Parameter(gc.zeros(1))], lr=1.0)
    >>> s = gc.optim.lr_scheduler.LinearWarmup(opt, warmup_steps=4)
    >>> for _ in range(2): s.step()
    >>> s.get_last_lr()
    [0.5]
    """

    def __init__(self, optimizer, warmup_steps, start_factor=0.0, after=None):
        self.warmup_steps = positive_int("LinearWarmup", "warmup_steps", warmup_steps)
        self.start_factor = real("LinearWarmup", "start_factor", start_factor, low=0.0, high=1.0)
        if after is not None and not isinstance(after, LRScheduler):
            raise TypeError(f"LinearWarmup: after must be a scheduler (an LRScheduler) or None, "
                            f"got after={after!r}")
        self.after = after
        super().__init__(optimizer)

    def lr_at(self, base_lr, t):
        if t < self.warmup_steps:
            return base_lr * (self.start_factor + (1 - self.start_factor) * t / self.warmup_steps)
        if self.after is not None:
            return self.after.lr_at(base_lr, t - self.warmup_steps)
        return base_lr
