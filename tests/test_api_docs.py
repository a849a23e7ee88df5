"""Every public function and class has a docstring with a runnable example (STYLE.md, principle 8).

"Public" means listed in the ``__all__`` of a user-facing namespace. The examples themselves are
run by tests/test_doctests.py; this test checks that they exist. NumPy's dtype aliases
(``gc.float32``...) are NumPy's own classes and are skipped. Tensor's public methods and
properties need a docstring but no example (most are one-line mirrors of NumPy methods).
"""
import inspect

import pytest

import gradcore as gc

NAMESPACES = {
    "gc": gc,
    "gc.nn": gc.nn,
    "gc.nn.functional": gc.nn.functional,
    "gc.nn.init": gc.nn.init,
    "gc.optim": gc.optim,
    "gc.optim.lr_scheduler": gc.optim.lr_scheduler,
    "gc.data": gc.data,
    "gc.viz": gc.viz,
    "gc.cuda": gc.cuda,
    "gc.linalg": gc.linalg,
    "gc.distributed": gc.distributed,
}


def _is_api(obj):
    if inspect.isclass(obj):
        return not (obj.__module__ or "").startswith("numpy")  # dtype aliases: NumPy's types
    return inspect.isfunction(obj)


def _public_api():
    found = []
    for ns_name, module in NAMESPACES.items():
        for name in module.__all__:
            obj = getattr(module, name)  # a stale __all__ entry fails here
            if _is_api(obj):
                found.append((f"{ns_name}.{name}", obj))
    return found


API = _public_api()


def test_the_api_was_found():
    names = {name for name, _ in API}
    assert {"gc.tensor", "gc.Tensor", "gc.nn.Linear", "gc.optim.SGD", "gc.data.DataLoader",
            "gc.viz.to_dot", "gc.cuda.is_available"} <= names
    assert "gc.float32" not in names


@pytest.mark.parametrize("name, obj", API, ids=[name for name, _ in API])
def test_public_api_has_an_example(name, obj):
    doc = obj.__doc__ or ""  # the object's own docstring (a class's is not inherited)
    where = f"{obj.__module__}.{obj.__qualname__}"
    assert doc.strip(), f"{name} ({where}) has no docstring"
    assert ">>>" in doc, f"{name} ({where}): the docstring has no '>>>' example"


# Tensor's own members and those of its mixin (gradcore/tensor_methods.py)
_TENSOR_VARS = {name: member for klass in reversed(gc.Tensor.__mro__[:-1])
                for name, member in vars(klass).items()}
TENSOR_MEMBERS = sorted(
    name for name, member in _TENSOR_VARS.items()
    if not name.startswith("_") and (inspect.isfunction(member) or isinstance(member, property)))


def test_tensor_members_were_found():
    assert {"sum", "backward", "reshape", "numpy", "shape"} <= set(TENSOR_MEMBERS)


@pytest.mark.parametrize("name", TENSOR_MEMBERS)
def test_tensor_member_has_a_docstring(name):
    member = _TENSOR_VARS[name]
    assert (member.__doc__ or "").strip(), f"Tensor.{name} has no docstring"
