"""Optimizers over flat parameter buffers: SGD (plain, momentum, Nesterov), Adam, AdamW.

At construction the parameters of each group are packed into one flat buffer per device and
dtype (:mod:`gradcore.nn.flat`); ``step`` is then ONE fused kernel per buffer (on a GPU one
launch for the whole model) and ``zero_grad`` one fill.

As in PyTorch, a parameter whose ``.grad`` is None (a frozen layer, a branch the loss did not
use) is left alone by ``step``: no update, no weight decay, no momentum or moment change, and its
step count (Adam's bias correction, SGD's first step) does not advance. State is therefore per
parameter, and ``step`` launches one kernel per run of consecutive parameters that have a
gradient and share a step count: one per buffer in the common case, when all do.
"""
from __future__ import annotations

import numpy

from gradcore import backend, tracing
from gradcore.kernels import optim as K
from gradcore.nn.flat import pack_parameters
from gradcore.optim.hyperparameters import real
from gradcore.tensor import Tensor

__all__ = ["Optimizer", "SGD", "Adam", "AdamW"]


class Optimizer:
    """Base class: parameter groups, flat buffers, per-buffer state, state_dict round trips.

    >>> import gradcore as gc
    >>> a, b = gc.nn.Parameter(gc.zeros(2)), gc.nn.Parameter(gc.zeros(3))
    >>> opt = gc.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    >>> [g["lr"] for g in opt.param_groups], isinstance(opt, gc.optim.Optimizer)
    ([0.1, 0.5], True)
    """

    state_names = ()  # names of the flat per-parameter state buffers (e.g. "momentum_buffer")

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self._validate(self.defaults)
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self.param_groups = []
        for g in groups:
            group = {**self.defaults, **g}
            group["params"] = [p for p in group["params"] if p.requires_grad]
            if not group["params"]:
                raise ValueError(f"{type(self).__name__}: a parameter group has no parameter "
                                 "that requires grad")
            self._validate(group)
            self.param_groups.append(group)
        for group in self.param_groups:
            group["_packs"] = pack_parameters(group["params"])
        self.state = {}  # id(pack) -> {"step": [int per parameter], name: flat array}
        self._checked = [None] * len(self.param_groups)  # hyperparameters last validated
        self.step_count = 0

    # ---- to be defined by subclasses ---------------------------------------------------------
    def _validate(self, hyper):
        """Check a group's hyperparameters (at construction, load_state_dict and every step)."""
        real(type(self).__name__, "lr", hyper.get("lr"), low=0.0)
        real(type(self).__name__, "weight_decay", hyper.get("weight_decay", 0.0), low=0.0)

    def _run_key(self, group, step):
        """Parameters updated by one launch must agree on this (by default their step count)."""
        return step

    def _initial_state(self, group, name):
        """The value a state buffer starts at (0; Adagrad's ``initial_accumulator_value``)."""
        return 0.0

    def _update(self, pack, group, state, run, step):
        """Update ``pack``'s flat buffers on the slice ``run``, whose parameters take step
        number ``step``, with one fused kernel."""
        raise NotImplementedError(f"{type(self).__name__} must define _update (one fused update of a flat buffer)")

    # ---- the public interface ----------------------------------------------------------------
    def zero_grad(self, set_to_none=True):
        """Reset all gradients, as PyTorch: to None by default (the next backward then copies
        each gradient into its view of the flat buffer, no fill needed), or to zeros with ONE
        fill per flat buffer when ``set_to_none=False``. A parameter whose gradient is still
        None at ``step`` counts as zero gradient."""
        for pack in self._packs():
            pack.zero_grad(set_to_none)

    def step(self):
        """Update every parameter that has a ``.grad`` (one fused kernel per flat buffer when
        all have one); a parameter whose ``.grad`` is None and its state are left alone."""
        # Under gc.compile the step is a host call: it runs again at every replay, so learning
        # rates, step counts and bias corrections stay live. Which parameters have a gradient
        # is decided here, at trace time: a replay's .grad state is that of the trace.
        active = [pack.has_grad() for group in self.param_groups for pack in group["_packs"]]
        tracing.host_call(self._step, active)

    def _step(self, active):
        """:meth:`step` with ``active[i]``: which parameters of pack i have a gradient."""
        # Hyperparameters first, so a bad value fails before any update. A schedule or user code
        # may have set one since the last step: check again the groups where a value changed.
        for k, group in enumerate(self.param_groups):
            hyper = [group.get(name) for name in self.defaults]
            checked = self._checked[k]
            if checked is None or any(a is not b for a, b in zip(hyper, checked)):
                self._validate(group)
                self._checked[k] = hyper
        for pack in self._packs():
            if not pack.intact():  # .array or .grad was rebound by user code
                pack.sync()
        flags = iter(active)
        for group in self.param_groups:
            for pack in group["_packs"]:
                active = next(flags)
                if not any(active):
                    continue
                state = self._state_for(pack, group)
                steps = state["step"] = [s + a for s, a in zip(state["step"], active)]
                for run, step in self._runs(pack, group, active, steps):
                    self._update(pack, group, state, run, step)
                pack.bump_versions(active)
        self.step_count += 1

    def _runs(self, pack, group, active, steps):
        """(slice of the flat buffers, step number) for each launch of this step."""
        if all(active) and steps.count(steps[0]) == len(steps):  # the common case: one launch
            return [(slice(None), steps[0])]
        keys = [self._run_key(group, s) if a else None for a, s in zip(active, steps)]
        return [(slice(start, stop), steps[first]) for start, stop, first in pack.runs(keys)]

    def _packs(self):
        return [pack for group in self.param_groups for pack in group["_packs"]]

    def _state_for(self, pack, group):
        state = self.state.get(id(pack))
        if state is None:
            state = {"step": [0] * len(pack.params)}  # per parameter, as PyTorch's
            for name in self.state_names:
                state[name] = pack.device.xp.full(pack.size, self._initial_state(group, name),
                                                  pack.dtype)
            self.state[id(pack)] = state
        for name in self.state_names:  # the model moved to another device since
            if backend.device_of(state[name]) is not pack.device:
                state[name] = backend.to_device(state[name], pack.device)
        return state

    def state_dict(self):
        """Hyperparameters and per-parameter state (views of the flat state), PyTorch-style:
        ``{"state": {index: {name: Tensor, "step": int}}, "param_groups": [...]}``; a parameter
        that has not been updated yet has no entry."""
        out_state, index = {}, 0
        groups = []
        for group in self.param_groups:
            ids = []
            for pack in group["_packs"]:
                state = self.state.get(id(pack))
                offset = 0
                for k, p in enumerate(pack.params):
                    if state is not None and state["step"][k] > 0:  # PyTorch: no state before
                        entry = {"step": state["step"][k]}
                        for name in self.state_names:
                            view = state[name][offset:offset + p.size].reshape(p.shape)
                            entry[name] = Tensor._make(view, pack.device, False, None, 0)
                        out_state[index] = entry
                    ids.append(index)
                    index += 1
                    offset += p.size
            groups.append({k: v for k, v in group.items() if k not in ("params", "_packs")} | {"params": ids})
        return {"state": out_state, "param_groups": groups, "step_count": self.step_count}

    def load_state_dict(self, state_dict):
        """Restore hyperparameters and state saved by :meth:`state_dict` (checked first, so a
        failed call changes nothing)."""
        where = f"{type(self).__name__}.load_state_dict"
        missing = [k for k in ("state", "param_groups") if k not in state_dict]
        missing += [f"param_groups[{i}]['params']"
                    for i, g in enumerate(state_dict.get("param_groups", ())) if "params" not in g]
        if missing:
            raise KeyError(f"{where}: the state dict lacks {missing} (it has keys "
                           f"{list(state_dict)})")
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"{type(self).__name__}.load_state_dict: {len(groups)} parameter "
                             f"groups in the state dict, {len(self.param_groups)} here")
        for saved, group in zip(groups, self.param_groups):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{type(self).__name__}.load_state_dict: a group has "
                                 f"{len(saved['params'])} parameters in the state dict, "
                                 f"{len(group['params'])} here")
            self._validate({**group, **{k: v for k, v in saved.items() if k != "params"}})
        states = {int(k): v for k, v in state_dict["state"].items()}
        new_state = {}
        for saved, group in zip(groups, self.param_groups):
            ids = iter(saved["params"])
            for pack in group["_packs"]:
                indices = [int(next(ids)) for _ in pack.params]
                entries = [states.get(i) for i in indices]
                if all(e is None for e in entries):
                    continue
                need = ("step", *self.state_names)
                partial = [i for i, e in zip(indices, entries)
                           if e is not None and any(k not in e for k in need)]
                if partial:
                    raise KeyError(f"{where}: incomplete state for parameter(s) {partial}; each "
                                   f"needs the keys {list(need)}")
                # a parameter without an entry has not been updated yet: step 0, initial state
                state = {"step": [0 if e is None else _saved_step(where, i, e["step"])
                                  for i, e in zip(indices, entries)]}
                for name in self.state_names:
                    flat = pack.device.xp.full(pack.size, self._initial_state(group, name),
                                               pack.dtype)
                    offset = 0
                    for p, e in zip(pack.params, entries):
                        if e is None:
                            offset += p.size
                            continue
                        value = e[name]
                        value = value.array if isinstance(value, Tensor) else numpy.asarray(value)
                        if tuple(value.shape) != p.shape:
                            raise ValueError(f"{type(self).__name__}.load_state_dict: state "
                                             f"{name!r} has shape {tuple(value.shape)} for a "
                                             f"parameter of shape {p.shape}")
                        flat[offset:offset + p.size] = backend.to_device(value, pack.device).reshape(-1)
                        offset += p.size
                    state[name] = flat
                new_state[id(pack)] = state
        for saved, group in zip(groups, self.param_groups):
            group.update({k: v for k, v in saved.items() if k != "params"})
        self.state = new_state
        self.step_count = int(state_dict.get("step_count", 0))

    def __repr__(self):
        hyper = ", ".join(f"{k}={v}" for k, v in self.defaults.items())
        return f"{type(self).__name__}({hyper})"


def _saved_step(where, index, step):
    """A step count from a state dict: an integer >= 0 (3.0 is accepted as 3)."""
    try:
        ok = int(step) == step and step >= 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{where}: the state of parameter {index} has step={step!r}; a step "
                         "count must be an integer >= 0")
    return int(step)


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay.

    With g = grad + weight_decay * p (the gradient of loss + weight_decay/2 * ||p||²):

    * plain:     p <- p - lr * g
    * momentum:  v <- momentum * v + (1 - dampening) * g   (v = g on the first step);  p <- p - lr * v
    * Nesterov:  v as above;  p <- p - lr * (g + momentum * v)

    This is PyTorch's form. The textbook form v' <- momentum * v' - lr * g; p <- p + v' is the
    same trajectory for a constant lr (v' = -lr * v).

    >>> import gradcore as gc
    >>> p = gc.nn.Parameter(gc.tensor([1.0]))
    >>> opt = gc.optim.SGD([p], lr=0.1)
    >>> (p * p).sum().backward(); opt.step(); round(p.item(), 6)
    0.8
    """

    state_names = ("momentum_buffer",)

    def __init__(self, params, lr=1e-2, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      nesterov=nesterov, weight_decay=weight_decay))
        if not any(g["momentum"] for g in self.param_groups):
            self.state_names = ()  # plain gradient descent keeps no state

    def _validate(self, hyper):
        super()._validate(hyper)
        m = real("SGD", "momentum", hyper.get("momentum", 0.0), low=0.0, high=1.0, high_open=True)
        dampening = real("SGD", "dampening", hyper.get("dampening", 0.0))
        nesterov = hyper.get("nesterov", False)
        if not isinstance(nesterov, (bool, numpy.bool_)):
            raise TypeError(f"SGD: nesterov must be True or False, got nesterov={nesterov!r}")
        if nesterov and (m <= 0 or dampening != 0):
            raise ValueError(f"SGD: nesterov=True needs momentum > 0 and dampening = 0, got "
                             f"momentum={hyper.get('momentum', 0.0)!r}, "
                             f"dampening={hyper.get('dampening', 0.0)!r}")

    def _run_key(self, group, step):
        return step == 1  # only the first step differs (buf = g)

    def _update(self, pack, group, state, run, step):
        momentum = group["momentum"]
        K.sgd_step(pack.data[run], pack.grad[run],
                   state["momentum_buffer"][run] if momentum else None, group["lr"], momentum,
                   group["dampening"], group["weight_decay"], group["nesterov"],
                   first_step=step == 1)


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction; ``weight_decay`` adds L2 to the gradient.

    m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g²;  p <- p - lr * m̂ / (sqrt(v̂) + eps)

    >>> import gradcore as gc
    >>> p = gc.nn.Parameter(gc.tensor([1.0]))
    >>> opt = gc.optim.Adam([p], lr=0.1)
    >>> (p * p).sum().backward(); opt.step(); round(p.item(), 6)  # first step: about lr
    0.9
    """

    state_names = ("exp_avg", "exp_avg_sq")
    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        betas = tuple(betas) if isinstance(betas, (list, tuple)) else betas  # _validate checks
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    def _validate(self, hyper):
        super()._validate(hyper)
        where = type(self).__name__
        betas = hyper.get("betas", (0.9, 0.999))
        if not isinstance(betas, (list, tuple)) or len(betas) != 2:
            raise ValueError(f"{where}: betas must be a pair (beta1, beta2), got betas={betas!r}")
        for k, beta in enumerate(betas):
            real(where, f"betas[{k}]", beta, low=0.0, high=1.0, high_open=True)
        real(where, "eps", hyper.get("eps", 1e-8), low=0.0)

    def _update(self, pack, group, state, run, step):
        b1, b2 = group["betas"]
        K.adam_step(pack.data[run], pack.grad[run], state["exp_avg"][run],
                    state["exp_avg_sq"][run], group["lr"], b1, b2, group["eps"],
                    group["weight_decay"], step, self.decoupled)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p <- p (1 - lr wd) before the step.

    >>> import gradcore as gc
    >>> p = gc.nn.Parameter(gc.tensor([1.0]))
    >>> opt = gc.optim.AdamW([p], lr=0.1, weight_decay=0.5)
    >>> p.grad = gc.zeros(1); opt.step(); round(p.item(), 6)  # zero gradient: only the decay moves p
    0.95
    """

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr, betas, eps, weight_decay)
