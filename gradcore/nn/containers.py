"""Containers that register the modules they hold: ModuleList and ModuleDict (PyTorch's)."""
from __future__ import annotations

from gradcore.nn.module import Module

__all__ = ["ModuleList", "ModuleDict"]


def _check(module, op, where):
    if not isinstance(module, Module):
        raise TypeError(f"{op}: {where} is a {type(module).__name__}, not a Module")
    return module


class ModuleList(Module):
    """A list of modules whose parameters belong to the owner; state_dict keys are
    ``"<index>.<name>"`` as in PyTorch. It has no forward: iterate over it in yours.

    >>> import gradcore as gc
    >>> layers = gc.nn.ModuleList([gc.nn.Linear(2, 2) for _ in range(3)])
    >>> len(layers), len(list(layers.parameters())), list(layers.state_dict())[:2]
    (3, 6, ['0.weight', '0.bias'])
    """

    def __init__(self, modules=()):
        super().__init__()
        self.extend(modules)

    def _items(self):
        return list(self._modules.values())

    def _reindex(self, modules):
        for name in list(self._modules):
            object.__delattr__(self, name)
        self._modules.clear()
        for i, m in enumerate(modules):
            setattr(self, str(i), m)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._items())

    def __getitem__(self, i):
        if isinstance(i, slice):
            return ModuleList(self._items()[i])
        return self._items()[self._index(i)]

    def __setitem__(self, i, module):
        setattr(self, str(self._index(i)), _check(module, "ModuleList", f"item {i}"))

    def __delitem__(self, i):
        items = self._items()
        del items[i if isinstance(i, slice) else self._index(i)]
        self._reindex(items)

    def _index(self, i):
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"ModuleList: index {i} is out of range for {n} modules")
        return i % n

    def append(self, module):
        """Add ``module`` at the end; returns self."""
        setattr(self, str(len(self)), _check(module, "ModuleList.append", "the argument"))
        return self

    def extend(self, modules):
        """Append each of ``modules``; returns self."""
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        """Insert ``module`` before position ``index``."""
        items = self._items()
        items.insert(index, _check(module, "ModuleList.insert", "the argument"))
        self._reindex(items)


class ModuleDict(Module):
    """An ordered dict of named modules whose parameters belong to the owner; state_dict keys
    are ``"<key>.<name>"`` as in PyTorch.

    >>> import gradcore as gc
    >>> heads = gc.nn.ModuleDict({"a": gc.nn.Linear(2, 1), "b": gc.nn.Linear(2, 3)})
    >>> heads["b"](gc.ones((4, 2))).shape, list(heads.keys())
    ((4, 3), ['a', 'b'])
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        if not isinstance(key, str) or not key or "." in key:
            raise KeyError(f"ModuleDict: keys must be non-empty strings without '.', got {key!r}")
        if key in type(self).__dict__ or key in Module.__dict__ or key in self.__dict__ and key not in self._modules:
            raise KeyError(f"ModuleDict: key {key!r} would hide an attribute of ModuleDict")
        setattr(self, key, _check(module, "ModuleDict", f"value for {key!r}"))

    def __delitem__(self, key):
        if key not in self._modules:
            raise KeyError(f"ModuleDict: no module under key {key!r}")
        delattr(self, key)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        """The keys, in insertion order."""
        return self._modules.keys()

    def values(self):
        """The modules, in insertion order."""
        return self._modules.values()

    def items(self):
        """(key, module) pairs, in insertion order."""
        return self._modules.items()

    def pop(self, key):
        """Remove ``key`` and return its module."""
        module = self._modules[key]
        delattr(self, key)
        return module

    def update(self, modules):
        """Add (or replace) modules from a mapping or an iterable of (key, module) pairs."""
        pairs = modules.items() if hasattr(modules, "items") else modules
        for key, module in pairs:
            self[key] = module
