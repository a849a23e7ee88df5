"""Learning-rate schedules: step decay, cosine annealing, linear warm-up, one-cycle, and
reduce-on-plateau (PyTorch's names and rules).

Call ``scheduler.step()`` once per epoch (or per iteration, as you define the unit) after
``optimizer.step()`` (``ReduceLROnPlateau.step(metric)`` takes the monitored value). Each keeps the base learning rates and its step count in ``state_dict``
so a resumed run follows the same schedule.
"""
from __future__ import annotations

import math

from gradcore import tracing
from gradcore.optim.hyperparameters import positive_int, real
from gradcore.optim.optimizer import Optimizer

__all__ = ["LRScheduler", "StepLR", "CosineAnnealingLR", "LinearWarmup", "OneCycleLR",
           "ReduceLROnPlateau"]


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
        """Advance the schedule by one unit and set the new learning rates (under
        ``gc.compile`` a host call, so a replayed step advances it too)."""
        tracing.host_call(self._advance)

    def _advance(self):
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


def _per_group(where, name, value, n):
    """A scalar or one value per parameter group, as a list of n floats."""
    values = list(value) if isinstance(value, (list, tuple)) else [value] * n
    if len(values) != n:
        raise ValueError(f"{where}: expected {n} values of {name} (one per parameter group), "
                         f"got {len(values)}")
    return [real(where, name, v, low=0.0) for v in values]


def _anneal_cos(start, end, pct):
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def _anneal_linear(start, end, pct):
    return (end - start) * pct + start


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin 2018) as ``torch.optim.lr_scheduler.OneCycleLR``: the lr
    rises from ``max_lr / div_factor`` to ``max_lr`` over the first ``pct_start`` of
    ``total_steps`` (= ``epochs * steps_per_epoch`` when not given), then falls to
    ``initial_lr / final_div_factor``; ``three_phase`` comes back to the initial lr first.
    With ``cycle_momentum`` the momentum (Adam's beta1) moves the other way, between
    ``max_momentum`` and ``base_momentum``. Call ``step()`` after every batch.

    >>> import gradcore as gc
    >>> opt = gc.optim.SGD([gc.nn.Parameter(gc.zeros(1))], lr=0.1, momentum=0.9)
    >>> s = gc.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10)
    >>> lrs = [s.get_last_lr()[0]] + [(s.step(), s.get_last_lr()[0])[1] for _ in range(9)]
    >>> round(lrs[0], 4), round(max(lrs), 4), lrs.index(max(lrs)), f"{lrs[-1]:.1e}"
    (0.04, 1.0, 2, '4.0e-06')
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start=0.3, anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85,
                 max_momentum=0.95, div_factor=25.0, final_div_factor=1e4, three_phase=False):
        where = "OneCycleLR"
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{where}: optimizer must be a gradcore.optim Optimizer, got "
                            f"{type(optimizer).__name__}")
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError(f"{where}: give total_steps, or both epochs and steps_per_epoch")
            total_steps = (positive_int(where, "epochs", epochs)
                           * positive_int(where, "steps_per_epoch", steps_per_epoch))
        self.total_steps = positive_int(where, "total_steps", total_steps)
        pct = real(where, "pct_start", pct_start, low=0.0, high=1.0)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{where}: anneal_strategy must be 'cos' or 'linear', got "
                             f"{anneal_strategy!r}")
        self._anneal = _anneal_cos if anneal_strategy == "cos" else _anneal_linear
        groups = optimizer.param_groups
        self.max_lrs = _per_group(where, "max_lr", max_lr, len(groups))
        div = real(where, "div_factor", div_factor, low=0.0)
        final_div = real(where, "final_div_factor", final_div_factor, low=0.0)
        if div == 0 or final_div == 0:
            raise ValueError(f"{where}: div_factor and final_div_factor must be positive")
        self.initial_lrs = [m / div for m in self.max_lrs]
        self.min_lrs = [i / final_div for i in self.initial_lrs]
        t = self.total_steps
        # (end step, lr from, lr to, momentum from, momentum to): PyTorch's phases
        if three_phase:
            self._phases = [(pct * t - 1, "initial", "max", "max_m", "base_m"),
                            (2 * pct * t - 2, "max", "initial", "base_m", "max_m"),
                            (t - 1, "initial", "min", "max_m", "max_m")]
        else:
            self._phases = [(pct * t - 1, "initial", "max", "max_m", "base_m"),
                            (t - 1, "max", "min", "base_m", "max_m")]
        self.cycle_momentum = bool(cycle_momentum)
        self._beta1 = "betas" in optimizer.defaults
        if self.cycle_momentum:
            if not self._beta1 and "momentum" not in optimizer.defaults:
                raise ValueError(f"{where}: cycle_momentum=True needs an optimizer with momentum "
                                 f"or betas; {type(optimizer).__name__} has neither (pass "
                                 "cycle_momentum=False)")
            if not self._beta1 and "momentum_buffer" not in optimizer.state_names:
                raise ValueError(f"{where}: cycle_momentum=True needs the optimizer built with "
                                 f"momentum > 0 (its momentum state is made at construction); "
                                 "or pass cycle_momentum=False")
            self.base_momentums = _per_group(where, "base_momentum", base_momentum, len(groups))
            self.max_momentums = _per_group(where, "max_momentum", max_momentum, len(groups))
        super().__init__(optimizer)

    def _values(self, k, t):
        if t > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {t} times; the schedule has "
                             f"total_steps={self.total_steps}")
        named = {"initial": self.initial_lrs[k], "max": self.max_lrs[k], "min": self.min_lrs[k]}
        if self.cycle_momentum:
            named |= {"base_m": self.base_momentums[k], "max_m": self.max_momentums[k]}
        start = 0.0
        for i, (end, lr0, lr1, m0, m1) in enumerate(self._phases):
            if t <= end or i == len(self._phases) - 1:
                pct = (t - start) / (end - start)
                momentum = (self._anneal(named[m0], named[m1], pct) if self.cycle_momentum
                            else None)
                return self._anneal(named[lr0], named[lr1], pct), momentum
            start = end
        raise AssertionError("unreachable: the last phase always matches")

    def _apply(self):
        for k, group in enumerate(self.optimizer.param_groups):
            lr, momentum = self._values(k, self.last_step)
            group["lr"] = lr
            if momentum is not None:
                if self._beta1:
                    group["betas"] = (momentum, *group["betas"][1:])
                else:
                    group["momentum"] = momentum


class ReduceLROnPlateau:
    """Multiply each group's lr by ``factor`` when the monitored metric has not improved for
    more than ``patience`` calls of ``step(metric)``, as PyTorch's: improvement is relative
    (``threshold_mode='rel'``: better than ``best * (1 -+ threshold)``) or absolute; after a
    reduction ``cooldown`` calls pass before counting again; the lr never goes below
    ``min_lr`` and a change smaller than ``eps`` is skipped.

    >>> import gradcore as gc
    >>> opt = gc.optim.SGD([gc.nn.Parameter(gc.zeros(1))], lr=1.0)
    >>> s = gc.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1)
    >>> for loss in [1.0, 0.9, 0.9, 0.9, 0.9]: s.step(loss)
    >>> s.get_last_lr()  # two calls without improvement after 0.9, twice
    [0.5]
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0.0, eps=1e-8):
        where = "ReduceLROnPlateau"
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{where}: optimizer must be a gradcore.optim Optimizer, got "
                            f"{type(optimizer).__name__}")
        if mode not in ("min", "max"):
            raise ValueError(f"{where}: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{where}: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        self.factor = real(where, "factor", factor, low=0.0, high=1.0, high_open=True)
        if not isinstance(patience, int) or isinstance(patience, bool) or patience < 0:
            raise ValueError(f"{where}: patience must be an integer >= 0, got {patience!r}")
        if not isinstance(cooldown, int) or isinstance(cooldown, bool) or cooldown < 0:
            raise ValueError(f"{where}: cooldown must be an integer >= 0, got {cooldown!r}")
        self.optimizer, self.mode, self.threshold_mode = optimizer, mode, threshold_mode
        self.patience, self.cooldown = patience, cooldown
        self.threshold = real(where, "threshold", threshold, low=0.0)
        self.eps = real(where, "eps", eps, low=0.0)
        self.min_lrs = _per_group(where, "min_lr", min_lr, len(optimizer.param_groups))
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = self.last_step = 0

    def _is_better(self, a):
        if self.mode == "min":
            return a < (self.best * (1 - self.threshold) if self.threshold_mode == "rel"
                        else self.best - self.threshold)
        return a > (self.best * (1 + self.threshold) if self.threshold_mode == "rel"
                    else self.best + self.threshold)

    def step(self, metric):
        """Record ``metric`` (a number or a 0-d tensor) and reduce the lr if it has plateaued."""
        current = float(metric)
        self.last_step += 1
        if self._is_better(current):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in cooldown do not count
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
                new = max(group["lr"] * self.factor, min_lr)
                if group["lr"] - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0

    def get_last_lr(self):
        """The learning rate of each parameter group now."""
        return [g["lr"] for g in self.optimizer.param_groups]

    def state_dict(self):
        """The counters and the best value so far (plain Python values)."""
        return {"best": self.best, "num_bad_epochs": self.num_bad_epochs,
                "cooldown_counter": self.cooldown_counter, "last_step": self.last_step}

    def load_state_dict(self, state):
        """Restore counters saved by :meth:`state_dict`."""
        self.best = float(state["best"])
        self.num_bad_epochs = int(state["num_bad_epochs"])
        self.cooldown_counter = int(state["cooldown_counter"])
        self.last_step = int(state["last_step"])
