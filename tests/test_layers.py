"""Layers point one way (STYLE.md): kernels <- backend <- autograd <- ops <- nn/optim/data <- CLI.

Every ``import gradcore.X`` in the package is checked statically against the layer of the
importing module. The documented exceptions: ``gradcore/tensor.py`` imports the ops and
``gradcore/interop`` (NumPy's and PyTorch's protocols, DLPack) at its bottom, because Tensor's
operators and protocol dunders delegate to them (see its module docstring).
"""
import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "gradcore"

LAYER = {  # first component under gradcore -> rank; a module may import equal or lower ranks
    "kernels": 0, "checks": 0, "backend": 1, "cuda": 1, "tracing": 1, "accelerator": 1, "rng": 1,
    "autograd": 2, "tensor": 2, "tensor_methods": 2, "tensor_inplace": 2, "creation": 2,
    "ops": 3, "interop": 3,
    "distributed": 3,
    "nn": 4, "optim": 4, "data": 4, "utils": 4, "io": 4, "files": 4, "safetensors_format": 4, "viz": 4,
    "compile": 4,
    "train": 5, "bench": 5,
    "cli": 6, "__main__": 6, "__init__": 7,
}
ALLOWED = {("tensor", "ops"), ("tensor", "interop"), ("tensor_methods", "ops"), ("tensor_inplace", "ops")}


def _layer_of(parts):
    return parts[0] if parts else "__init__"


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gradcore"):
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            yield min(names, key=len) if node.module != "gradcore" else None, node
            if node.module == "gradcore":
                for a in node.names:
                    yield f"gradcore.{a.name}", node
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("gradcore"):
                    yield a.name, node


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_upward_imports(path):
    rel = path.relative_to(PACKAGE).with_suffix("").parts
    own = _layer_of(rel)
    if own == "__init__":
        return
    for target, node in _imports(path):
        if target is None:
            continue
        parts = target.split(".")[1:]
        if not parts:
            continue
        other = parts[0]
        if other not in LAYER:
            continue
        assert LAYER[other] <= LAYER[own] or (own, other) in ALLOWED, (
            f"{path.relative_to(PACKAGE)}:{node.lineno} imports gradcore.{'.'.join(parts)} "
            f"(layer {other!r}) from layer {own!r}")
