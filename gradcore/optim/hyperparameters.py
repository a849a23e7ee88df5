"""Checks of optimizer and schedule hyperparameters: each error names the class and the argument.

A string, a tensor or a bool where a number belongs would otherwise fail deep inside a step
(``'>=' not supported between 'str' and 'int'``), or worse, work: ``True`` is 1 to Python.
"""
from __future__ import annotations

import math
import numbers

__all__ = ["real", "positive_int"]


def real(where, name, value, low=None, high=None, high_open=False):
    """``value`` as a float, checked to be a finite real number in [low, high] (or [low, high)).

    >>> real("SGD", "lr", 0.1, low=0.0)
    0.1
    >>> real("SGD", "lr", "0.1", low=0.0)
    Traceback (most recent call last):
    TypeError: SGD: lr must be a real number, got lr='0.1' (str)
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a real number, got {name}={value!r} "
                        f"({type(value).__name__})")
    x = float(value)
    above = high is not None and (x >= high if high_open else x > high)
    if not math.isfinite(x) or (low is not None and x < low) or above:
        bounds = f"[{low if low is not None else '-inf'}, {high if high is not None else 'inf'}"
        bounds += ")" if high_open or high is None else "]"
        raise ValueError(f"{where}: invalid {name}={value!r} (must be finite and in {bounds})")
    return x


def positive_int(where, name, value):
    """``value`` checked to be an integer >= 1 (not a bool, not a float).

    >>> positive_int("StepLR", "step_size", 0)
    Traceback (most recent call last):
    ValueError: StepLR: step_size must be a positive integer, got step_size=0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}: {name} must be an integer, got {name}={value!r} "
                        f"({type(value).__name__})")
    if value < 1:
        raise ValueError(f"{where}: {name} must be a positive integer, got {name}={value!r}")
    return int(value)
