"""Every kernel variant through CuPy's own code generators, compiled with NVRTC, without a GPU.

The sources are CuPy's, not imitations: ``cupy_codegen`` (next to this file) feeds the
generators of ``cupy/_core/_kernel.pyx``, ``_reduction.pyx`` and ``_cub_reduction.pyx`` the
metadata of the arrays gradcore passes and takes the source where CuPy would compile it. Every
spec of ``gradcore.kernels.registry()`` is compiled for every dtype it takes (float16/32/64
storage, every integer label dtype), 32- and 64-bit indexing, contiguous and strided inputs (and
a contiguous input next to broadcast ones), both reduction paths (plain and CUB), for sm_80 and
sm_90.

Needs CuPy and NVRTC (``pip install -e ".[test,cuda-compile]"``), not a GPU. Without them the
check skips on a developer machine and fails in CI (the ``CI`` variable is set).
"""

from __future__ import annotations

import concurrent.futures
import os
import re

import pytest

import cupy_codegen as cg
from gradcore.kernels import Reduction, loss, registry


@pytest.fixture(scope="module")
def cupy_nvrtc():
    """CuPy importable and NVRTC loadable; a failure in CI, a skip elsewhere."""
    try:
        import cupy  # noqa: F401
        from cupy_backends.cuda.libs import nvrtc

        nvrtc.getVersion()
        from cuda.pathfinder import find_nvidia_header_directory

        if find_nvidia_header_directory("cudart") is None:
            raise RuntimeError("CUDA runtime headers not found (pip: nvidia-cuda-runtime)")
    except Exception as exc:  # no CuPy, no libnvrtc, no headers
        why = f"CuPy + NVRTC not usable: {exc!r}"
        if os.environ.get("CI"):
            pytest.fail(f"{why}; required in CI (the CI variable is set)")
        pytest.skip(why)


def compile_all(jobs):
    """Compile (label, source, options, arch) jobs on every core; returns {label: log}."""
    # NVRTC compiles without the GIL (cupy_backends' compileProgram runs `with nogil`)
    with cg.nvrtc_arch_without_device(), concurrent.futures.ThreadPoolExecutor(
            os.cpu_count() or 1) as pool:
        logs = pool.map(lambda job: cg.compile_source(*job[1:]), jobs)
        return {job[0]: log for job, log in zip(jobs, logs) if log is not None}


@pytest.mark.slow  # about a minute of NVRTC on 2 cores; CI runs it (no marker is deselected)
def test_every_kernel_variant_compiles_through_cupy(cupy_nvrtc, request):
    specs = [spec for family in registry().values() for spec in family]
    variants = list(cg.variants(specs))
    jobs = []
    for v in variants:
        source, options = cg.generate(v)
        jobs += [(f"{v.label()}@sm_{arch}", source, options, arch) for arch in cg.ARCHS]
    failures = compile_all(jobs)
    paths = {path: sum(v.path == path for v in variants)
             for path in ("elementwise", "plain", "cub")}
    request.config.stash[cg.SUMMARY] = (
        f"CuPy codegen + NVRTC: {len(jobs)} variants compiled ({len(specs)} kernels, "
        f"{len(variants)} sources [{paths}] x sm_{'/sm_'.join(map(str, cg.ARCHS))}), "
        f"{len(failures)} failed")
    assert len(specs) > 0 and len(jobs) > 0
    assert not failures, "\n\n".join(f"{k}:\n{log[-1500:]}" for k, log in failures.items())


def test_array_metadata_reaches_cupys_generated_source(cupy_nvrtc):
    """The layouts map to CuPy's CArray<T, ndim, c_contiguous, index_32_bits> as documented."""
    from gradcore.kernels import activation

    def header(layout, bits):
        [v] = [v for v in cg.variants([activation._BIAS_RELU]) if v.layout == layout
               and v.index_32_bits == bits and dict(v.types)["T"].__name__ == "float32"]
        [line] = [ln for ln in cg.generate(v)[0].splitlines() if "__global__" in ln]
        return line

    assert ("const CArray<float, 1, 1, 1> _raw_z, const CArray<float, 1, 1, 1> _raw_b, "
            "const double slope, CArray<float, 1, 1, 1> _raw_y, CIndexer<1, 1> _ind"
            ) in header("contiguous", True)
    assert ("const CArray<float, 2, 1, 0> _raw_z, const CArray<float, 2, 0, 0> _raw_b, "
            "const double slope, CArray<float, 2, 1, 0> _raw_y, CIndexer<2, 0> _ind"
            ) in header("mixed", False)
    assert "const CArray<float, 2, 0, 1> _raw_z" in header("strided", True)


def test_variants_cover_the_required_axes():
    variants = list(cg.variants([loss._LSE["float"], loss._PICK]))
    lse = [v for v in variants if v.spec is loss._LSE["float"]]
    assert {v.path for v in lse} == {"plain", "cub"}
    assert {(v.layout, v.index_32_bits) for v in lse if v.path == "plain"} == {
        ("contiguous", True), ("contiguous", False), ("strided", True), ("strided", False)}
    assert {dict(v.types)["T"].__name__ for v in lse} == {"float16", "float32"}
    labels = {dict(v.types)["L"] for v in variants if v.spec is loss._PICK}
    assert labels == set(cg.LABELS) and len(labels) == 8


# ---------------------------------------------------------------- the CUB renaming bug
# The logsumexp reduction as it stood before the fix: output param `lse`, which CuPy's CUB path
# renames to out0 by text replacement, turning gradcore_lse_value into gradcore_out0_value.
OLD_LSE = Reduction(
    name="gradcore_logsumexp_rows",
    family="loss",
    in_params="T x",
    out_params="S lse",
    map_expr="gradcore_lse_leaf<float>((float)x)",
    reduce_expr="gradcore_lse_merge(a, b)",
    post_map_expr="lse = (S)gradcore_lse_value(a)",
    identity="gradcore_lse_identity<float>()",
    reduce_type="gradcore_lse_state<float>",
)


def cub_variant(spec):
    [v] = [v for v in cg.variants([spec]) if v.path == "cub" and v.index_32_bits
           and dict(v.types)["T"].__name__ == "float32"]
    return v


def test_cub_path_regression_old_logsumexp_fails_fixed_one_compiles(cupy_nvrtc):
    old_source, options = cg.generate(cub_variant(OLD_LSE))
    assert "gradcore_out0_value" in old_source  # CuPy's rewrite, in CuPy's own source
    with cg.nvrtc_arch_without_device():
        log = cg.compile_source(old_source, options, 90)
        assert log is not None and 'identifier "gradcore_out0_value" is undefined' in log
        new_source, options = cg.generate(cub_variant(loss._LSE["float"]))
        assert "gradcore_lse_value" in new_source
        assert cg.compile_source(new_source, options, 90) is None


def whole_word_rename(text, old, new):
    return re.sub(rf"\b{re.escape(old)}\b", new, text)


def test_reduction_param_names_survive_cubs_text_replacement():
    """No GPU or CuPy needed: CuPy's CUB path renames params with str.replace, so a param name
    must not occur inside another identifier of the map or post-map expression."""
    for spec in [s for family in registry().values() for s in family]:
        if not isinstance(spec, Reduction):
            continue
        (in_name,), (out_name,) = ([p.split()[-1] for p in text.split(",")]
                                   for text in (spec.in_params, spec.out_params))
        for text, old, new in ((spec.map_expr, in_name, "in0"),
                               (spec.post_map_expr, out_name, "out0")):
            assert text.replace(old, new) == whole_word_rename(text, old, new), (
                f"{spec.name}: CuPy's CUB path would rewrite {text!r} to "
                f"{text.replace(old, new)!r}; rename the param {old!r}")
    bad = OLD_LSE.post_map_expr
    assert bad.replace("lse", "out0") != whole_word_rename(bad, "lse", "out0")  # the check bites
