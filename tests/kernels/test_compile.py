"""Compile every kernel's CUDA code without a GPU: a syntax error must fail CI.

For each header family one translation unit includes common.cuh + that family header (with
``GRADCORE_HALF_TYPE`` = ``__half``), exactly as CuPy pairs them, and wraps the operation string
of every CuPy kernel of the family in a ``__global__`` function that mimics CuPy's generated code
(typedefs for the type placeholders, one variable per parameter, ``i`` as the loop index), for
float, double and __half storage. nvcc builds all of them in one call for sm_80 and sm_90.

This checks the headers and operation strings under nvcc with warnings as errors; what CuPy itself
generates around them (both reduction paths, every dtype and layout) is compiled with NVRTC in
test_cupy_codegen.py.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from gradcore.kernels import Elementwise, registry
from hostcupy.kernels import C_NAMES as FIXED  # fixed CuPy param types: by value or raw arrays
from hostcupy.kernels import parse_params

pytestmark = pytest.mark.nvcc

KERNEL_DIR = Path(__file__).resolve().parents[2] / "kernels"
FAMILY_KERNELS = registry()
# storage type -> (accumulate type, CuPy's name for the storage type)
STORAGE = {"float": ("float", "float"), "double": ("double", "double"),
           "__half": ("float", "float16")}


def storages_for(spec):
    """Storage types a spec serves: a Reduction's reduce_type fixes its accumulate type."""
    if isinstance(spec, Elementwise):
        return list(STORAGE)
    acc = "double" if "double" in spec.reduce_type else "float"
    return [s for s, (a, _) in STORAGE.items() if a == acc]


def type_map(storage, half_name):
    acc = STORAGE[storage][0]
    t = half_name if storage == "__half" else storage
    # T: storage; S: the accumulate-dtype arrays (lse, loss); L: integer labels.
    return {"T": t, "S": acc, "L": "long long"}


# ---------------------------------------------------------------- nvcc, one TU per family
FAKE_CARRAY = """
// Just enough of CuPy's CArray for `raw` parameters: flat and multi-index access.
template <class T> struct gradcore_test_carray {
  T* data; const ptrdiff_t* strides;
  __device__ T& operator[](ptrdiff_t i) { return data[i]; }
  template <class I, int K> __device__ T& operator[](const I (&idx)[K]) {
    ptrdiff_t off = 0;
    for (int k = 0; k < K; ++k) off += idx[k] * strides[k];
    return data[off];
  }
};
"""


def kernel_params(spec, raw_decl, scalar_decl, array_decl, index):
    """The parameter list and per-element loads of a wrapper around ``spec.operation``:
    ``raw`` params, fixed-type scalars by value, and the rest as arrays read at ``index``."""
    decls, loads = [], []
    for is_out, text in ((False, spec.in_params), (True, spec.out_params)):
        for raw, typ, name in parse_params(text):
            ctype = FIXED.get(typ, typ)
            if raw:
                decls.append(raw_decl(ctype, name))
            elif typ in FIXED and not is_out:
                decls.append(scalar_decl(ctype, name))
            else:
                decls.append(array_decl(ctype, name))
                ref = f"{ctype} &" if is_out else f"const {ctype} "
                loads.append(f"{ref}{name} = _raw_{name}[{index}];")
    return decls, loads


def nvcc_elementwise(spec, storage, ns):
    types = type_map(storage, "__half")
    decls, loads = kernel_params(spec, lambda c, n: f"gradcore_test_carray<{c}> {n}",
                                 lambda c, n: f"const {c} {n}", lambda c, n: f"{c}* _raw_{n}", "i")
    typedefs = " ".join(f"typedef {c} {p};" for p, c in types.items())
    return f"""
namespace {ns} {{ {typedefs}
__global__ void {spec.name}({", ".join(decls)}, ptrdiff_t _n) {{
  for (ptrdiff_t i = (ptrdiff_t)blockIdx.x * blockDim.x + threadIdx.x; i < _n;
       i += (ptrdiff_t)blockDim.x * gridDim.x) {{
    {" ".join(loads)}
    {spec.operation};
  }}
}}
}}  // namespace {ns}
"""


def reduction_body(spec):
    """The shape of CuPy's reduction template: identity, map, REDUCE/POST_MAP, shared memory."""
    [(_, in_t, in_name)] = parse_params(spec.in_params)
    [(_, out_t, out_name)] = parse_params(spec.out_params)
    return f"""
#define REDUCE(a, b) ({spec.reduce_expr})
#define POST_MAP(a) ({spec.post_map_expr})
typedef {spec.reduce_type} _type_reduce;
__global__ void {spec.name}(const {in_t}* _raw_{in_name}, {out_t}* _raw_{out_name}, ptrdiff_t _n) {{
  __shared__ char _sdata_raw[256 * sizeof(_type_reduce)];
  _type_reduce* _sdata = reinterpret_cast<_type_reduce*>(_sdata_raw);
  _type_reduce _s = _type_reduce({spec.identity});
  for (ptrdiff_t _j = threadIdx.x; _j < _n; _j += blockDim.x) {{
    const {in_t} {in_name} = _raw_{in_name}[_j];
    _type_reduce _a = static_cast<_type_reduce>({spec.map_expr});
    _s = REDUCE(_s, _a);
  }}
  _sdata[threadIdx.x] = _s;
  __syncthreads();
  for (unsigned int _half = blockDim.x / 2; _half > 0; _half >>= 1) {{
    if (threadIdx.x < _half) {{
      _type_reduce _a = _sdata[threadIdx.x], _b = _sdata[threadIdx.x + _half];
      _sdata[threadIdx.x] = REDUCE(_a, _b);
    }}
    __syncthreads();
  }}
  if (threadIdx.x == 0) {{
    _s = _sdata[0];
    {out_t} &{out_name} = _raw_{out_name}[blockIdx.x];
    POST_MAP(_s);
  }}
}}
#undef REDUCE
#undef POST_MAP
"""


def nvcc_reduction(spec, storage, ns):
    typedefs = " ".join(f"typedef {c} {p};" for p, c in type_map(storage, "__half").items())
    return f"namespace {ns} {{ {typedefs}\n{reduction_body(spec)}}}  // namespace {ns}\n"


def family_translation_unit(family):
    parts = [
        "#include <cuda_fp16.h>",
        "#define GRADCORE_HALF_TYPE __half",
        '#include "common.cuh"',
        f'#include "{family}.cuh"',
        FAKE_CARRAY,
    ]
    for k, spec in enumerate(FAMILY_KERNELS[family]):
        for storage in storages_for(spec):
            ns = f"k{k}_{storage.strip('_')}"
            gen = nvcc_elementwise if isinstance(spec, Elementwise) else nvcc_reduction
            parts.append(gen(spec, storage, ns))
    return "\n".join(parts)


def test_every_kernel_compiles_with_nvcc(tmp_path, nvcc):
    sources = []
    for family in FAMILY_KERNELS:
        path = tmp_path / f"{family}_kernels.cu"
        path.write_text(family_translation_unit(family))
        sources.append(str(path))
    cmd = [
        nvcc, "-c", "-std=c++17", f"-I{KERNEL_DIR}", "-odir", str(tmp_path),
        "-gencode", "arch=compute_80,code=sm_80", "-gencode", "arch=compute_90,code=sm_90",
        "-Werror", "all-warnings", *sources,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"nvcc failed:\n{result.stdout}\n{result.stderr}"
    assert len(list(tmp_path.glob("*.o"))) == len(sources)


def test_kernel_names_carry_the_prefix():
    for family, specs in FAMILY_KERNELS.items():
        for spec in specs:
            assert spec.family == family
            assert re.fullmatch(r"gradcore_[a-z0-9_]+", spec.name), spec.name


def test_kernel_names_do_not_shadow_device_functions():
    # CuPy declares `extern "C" __global__ void <name>` right after the preamble: a device
    # function of the same name would be hidden inside (or clash with) the kernel.
    declared = set()
    for header in KERNEL_DIR.glob("*.cuh"):
        declared |= set(re.findall(r"\b(gradcore_\w+)\s*\(", header.read_text()))
    kernel_names = {spec.name for specs in FAMILY_KERNELS.values() for spec in specs}
    assert not kernel_names & declared
