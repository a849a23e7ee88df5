"""Benchmark plumbing: engines and devices as parameters, GPU work synchronized inside the timed
call, unavailable baselines skipped with their reason. Workloads live in gradcore.bench."""
import pytest

import gradcore as gc
from gradcore.bench import sync
from gradcore.bench.report import quiet_openmp

quiet_openmp()  # before any benchmark imports torch (see gradcore.bench.report.quiet_openmp)
from gradcore.bench import workloads as W
from gradcore.bench.workloads import ENGINES, Unavailable

DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu, pytest.mark.skipif(
    not gc.cuda.is_available(), reason=f"no usable GPU: {gc.cuda.unavailable_reason()}")])]


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


@pytest.fixture(params=ENGINES)
def engine(request):
    return request.param


@pytest.fixture
def measure(benchmark):
    """measure(group, factory, engine, device, **kw): time one workload with pytest-benchmark."""

    def run(group, factory, engine, device, **kwargs):
        if engine == "compiled" and factory.__name__ not in W.COMPILED:
            pytest.skip(f"no compiled engine for {factory.__name__}")
        try:
            step, info = factory(engine, device, **kwargs)
        except Unavailable as e:
            pytest.skip(str(e))
        benchmark.group = group
        benchmark.extra_info.update(engine=engine, device=device, **info)

        def timed():
            step()
            sync(device)  # GPU work is asynchronous: the clock is read after it finished
        if not benchmark.disabled:  # smoke mode (--benchmark-disable) runs each step once
            step()  # warm-up: kernel compilation and allocator pools stay out of the numbers
            sync(device)
        benchmark.pedantic(timed, rounds=20, iterations=1, warmup_rounds=2)
    return run
