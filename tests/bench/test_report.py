"""The report side of ``gradcore bench`` (gradcore/bench/report.py) on a run that includes a GPU.

No GPU is needed: the rows below stand for what ``run_suite`` returns from a CPU + GPU run (the
times are inputs of this test, not measurements), so the derived numbers, the table and the
chart of a GPU run are checked on every CI machine. The measuring side is exercised in
benchmarks/ (smoke mode) and, on a GPU, by ``gradcore bench`` itself.
"""
import json
import pathlib
import sys

import pytest

from gradcore.bench import report
from gradcore.bench import workloads as W

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _row(case, params, device, **median_s):
    return {"case": case, "params": params, "device": device, "median_s": median_s,
            "info": {"bytes": 8 * 2**20} if case in ("copy", "sigmoid_backward") else {},
            "skipped": {}}


@pytest.fixture
def rows():
    rows = [
        _row("mlp_step", "784-1024-1024-10 b256", "cpu", gradcore=0.022, numpy=0.020, torch=0.040),
        _row("mlp_gemms", "784-1024-1024-10 b256", "cpu", gradcore=0.017),
        _row("mlp_step", "784-1024-1024-10 b256", "cuda", gradcore=0.0004, torch=0.0005),
        _row("mlp_gemms", "784-1024-1024-10 b256", "cuda", gradcore=0.0003),
        _row("copy", "64 MB", "cuda", gradcore=0.001, torch=0.001),
        _row("sigmoid_backward", "64 MB", "cuda", gradcore=0.002, torch=0.0025),
        _row("copy", "64 MB", "cpu", gradcore=0.01, numpy=0.01),
    ]
    report._derive(rows)
    return rows


def test_derived_numbers(rows):
    by = {(r["case"], r["device"]): r for r in rows}
    gpu_step = by["mlp_step", "cuda"]
    assert gpu_step["ratios"] == {"gradcore/torch": pytest.approx(0.8)}
    assert gpu_step["step_over_gemms"] == pytest.approx(0.0004 / 0.0003)
    assert gpu_step["gpu_speedup"] == pytest.approx(0.022 / 0.0004)
    assert "gpu_speedup" not in by["mlp_step", "cpu"]
    sig = by["sigmoid_backward", "cuda"]
    assert sig["gbps"]["gradcore"] == pytest.approx(8 * 2**20 / 0.002 / 1e9)
    assert sig["fraction_of_copy"] == pytest.approx(0.5)  # half the copy kernel's GB/s
    assert by["copy", "cuda"]["gpu_speedup"] == pytest.approx(10.0)
    assert "fraction_of_copy" not in by["copy", "cuda"]


def test_compiled_rows_compare_with_the_eager_step_and_both_pytorch_modes(tmp_path):
    rows = [_row("mlp_step", "784-1024-1024-10 b64", "cuda", gradcore=0.003, torch=0.002),
            _row("mlp_compiled", "784-1024-1024-10 b64", "cuda", gradcore=0.001, torch=0.0008),
            _row("mlp_compiled", "784-1024-1024-10 b256", "cuda", gradcore=0.002)]  # no eager row
    report._derive(rows)
    compiled = rows[1]
    assert compiled["eager_over_compiled"] == pytest.approx(3.0)
    assert compiled["compiled_over_torch_eager"] == pytest.approx(0.5)
    assert compiled["ratios"] == {"gradcore/torch": pytest.approx(1.25)}  # vs PyTorch's CUDA graph
    assert rows[2]["eager_over_compiled"] is None and "eager_over_compiled" not in rows[0]
    assert "b64: eager / compiled 3.00, compiled / PyTorch eager 0.50, compiled / PyTorch CUDA " \
           "graph 1.25" in report._compiled(rows)


def test_reports_of_a_gpu_run(rows, tmp_path):
    env = {"gpu": "NVIDIA H100", "nvidia_driver": "580.00", "date": "2026-11-22"}
    md, js, png = report.write_reports(rows, env, str(tmp_path))  # matplotlib: a test extra
    text = open(md).read()
    assert "- gpu: NVIDIA H100" in text and "- nvidia_driver: 580.00" in text
    line = next(x for x in text.splitlines() if x.startswith("| cuda | mlp_step"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[3:5] == ["0.400", ""] and cells[7] == "0.80" and cells[11] == "55.0"
    assert "| cuda | sigmoid_backward | 64 MB |" in text and "| 50 |" in text
    saved = json.load(open(js))
    assert saved["environment"]["gpu"] == "NVIDIA H100" and len(saved["results"]) == len(rows)
    import matplotlib.image
    width = matplotlib.image.imread(png).shape[1]
    assert width > 10 * 130  # the speedup panel sits next to the ratios: 15 in wide, not 10


def test_a_gpu_run_measures_every_gpu_size_on_the_cpu_too():
    def names(device, with_gpu):
        return {(c[0], c[1]): c[4] for c in report.cases(device, quick=False, with_gpu=with_gpu)}
    gpu, cpu_with_gpu, cpu_alone = names("cuda", True), names("cpu", True), names("cpu", False)
    assert set(gpu) == set(cpu_with_gpu)  # so each GPU case gets its GPU-over-CPU speedup
    huge = ("mlp_step", "784-4096-4096-4096-10 b8192")
    assert cpu_with_gpu[huge] == ("gradcore",) and "torch" in gpu[huge]
    assert huge not in cpu_alone and ("copy", "256 MB") not in cpu_alone


def test_a_quick_gpu_run_keeps_the_cpu_to_the_speedup_case():
    gpu = {(c[0], c[1]) for c in report.cases("cuda", quick=True, with_gpu=True)}
    cpu = [(c[0], c[1], c[4]) for c in report.cases("cpu", quick=True, with_gpu=True)]
    assert cpu == [("mlp_step", "784-1024-1024-10 b256", ("gradcore", "compiled", "numpy", "torch"))]
    assert ("mlp_step", "784-1024-1024-10 b256") in gpu  # so it has its GPU-over-CPU speedup
    assert {p for c, p in gpu if c == "mlp_step"} == {"784-1024-1024-10 b256", "784-4096-4096-4096-10 b1024",
                                                        "784-4096-4096-4096-10 b8192",
                                                        "784-1024-1024-10 b64", "784-1024-1024-10 b1024"}
    assert {p for c, p in gpu if c == "mlp_compiled"} == {  # CUDA graphs beside the eager step
        "784-1024-1024-10 b64", "784-1024-1024-10 b256", "784-1024-1024-10 b1024"}
    assert {"copy", "sigmoid_backward", "sgd_momentum_step", "chain100"} <= {c for c, _ in gpu}
    assert all(c[4] == ("gradcore", "torch") or c[4] == ("gradcore",)
               for c in report.cases("cuda", quick=True, with_gpu=True))  # no NumPy on a GPU


def test_rows_say_what_was_not_measured_and_why():
    todo = report.jobs(["cpu"], quick=True, only=("matmul",))
    assert [j["engines"] for j in todo] == [["gradcore"], ["numpy"], ["torch"]]
    records = [
        {"event": "done", "id": todo[0]["id"], "outcome": "ok", "info": {"flops": 2}, "unavailable": {},
         "times": {"gradcore": {"median_s": 0.5}}},
        {"event": "done", "id": todo[1]["id"], "outcome": "crashed", "error": "crashed in this case"},
    ]
    [row] = report.rows_from(records, todo)
    assert row["median_s"] == {"gradcore": 0.5} and row["info"] == {"flops": 2}
    assert row["failed"] == {"numpy": "crashed: crashed in this case", "torch": "not run (time budget spent)"}


def test_summary_regenerates_readmes_table_from_the_results_file():
    """Every number in README's CPU summary table comes from the committed results file."""
    results = ROOT / "benchmarks" / "results" / "cpu-2cores-2026-11-30" / "results.json"
    table = report.summary(results)
    readme = (ROOT / "benchmarks" / "README.md").read_text()
    assert table in readme, table


def test_each_engine_runs_in_a_process_of_its_own(tmp_path):
    """A stand-in worker reports its process id as the time: one process per engine, shared by
    all of that engine's cases, never by two engines."""
    fake = tmp_path / "worker.py"
    fake.write_text(
        "import json, os\nfrom gradcore.bench.isolate import append\n"
        "progress = os.environ['GRADCORE_PROGRESS']\n"
        "for job in json.load(open(os.environ['GRADCORE_BENCH_JOBS'])):\n"
        "    append(progress, {'event': 'start', 'id': job['id']})\n"
        "    append(progress, {'event': 'done', 'id': job['id'], 'outcome': 'ok', 'info': {},\n"
        "                      'unavailable': {}, 'times': {job['engines'][0]: {'median_s': os.getpid()}}})\n")
    rows = report.run_suite(["cpu"], quick=True, only=("matmul", "copy"), worker=[sys.executable, str(fake)],
                            log=lambda m: None)
    pids = {e: {r["median_s"][e] for r in rows} for e in ("gradcore", "numpy", "torch")}
    assert len(rows) == 3 and all(len(p) == 1 for p in pids.values())
    assert len(set.union(*pids.values())) == 3


def test_compiled_rows_only_where_a_compiled_engine_exists():
    for c in report.cases("cpu", quick=False):
        assert ("compiled" in c[4]) == (c[2] in W.COMPILED), c
