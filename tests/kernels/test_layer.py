"""The kernel layer is the bottom layer: NumPy and the standard library only, CuPy lazily."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import gradcore.kernels

PACKAGE = Path(gradcore.kernels.__file__).parent
ALLOWED_TOP_LEVEL = {"__future__", "contextlib", "dataclasses", "functools", "importlib", "math",
                     "numpy", "os", "pathlib", "sys", "threading", "typing"}


def imports(path):
    """(module name, imported at module level?) for every import in a file."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name, id(node) in top) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node.module, id(node) in top


def test_imports_only_numpy_and_itself():
    for path in PACKAGE.glob("*.py"):
        for name, at_top in imports(path):
            root = name.split(".")[0]
            if name.startswith("gradcore"):
                assert name.startswith("gradcore.kernels"), f"{path.name} imports {name}"
            elif root == "cupy":
                assert not at_top, f"{path.name} imports CuPy at import time"
            else:
                assert root in ALLOWED_TOP_LEVEL, f"{path.name} imports {name}"


def test_import_needs_no_cupy():
    code = "import sys, gradcore.kernels; assert 'cupy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PACKAGE.parents[1])


def test_sources_load():
    for family in ("common", "activation", "loss", "reduction", "optim"):
        assert f"GRADCORE_{family.upper()}_CUH" in gradcore.kernels.load_source(family)
    assert gradcore.kernels.preamble("loss").startswith("#define GRADCORE_HALF_TYPE float16")


def test_every_kernel_name_is_written_out_where_it_is_defined():
    """A kernel name seen in a profiler trace greps to its definition: the literal name is in
    its family module, not assembled from pieces."""
    for family, specs in gradcore.kernels.registry().items():
        source = (PACKAGE / f"{family}.py").read_text()
        for spec in specs:
            assert f'"{spec.name}"' in source, f"{spec.name} is not written out in {family}.py"
