"""benchmarks/verify_gpu.sh, the GPU check: its whole quick mode runs here as a smoke run on the
host stand-in for CuPy (tiny sizes), within the lent machine's file limits; a crash or a hang
of one test loses nothing else."""
import json
import os
import pathlib
import subprocess
import sys
import textwrap

import gradcore
from gradcore.bench import isolate

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "verify_gpu.sh"
FILES = {"environment.txt", "status.txt", "tests.log", "tests.jsonl", "bench.jsonl", "results.md",
         "results.json", "results.png"}


def _run(out, *args, timeout=300):
    return subprocess.run(["bash", str(SCRIPT), *args, str(out)], cwd=ROOT,
                          env={"PATH": os.environ["PATH"], "PYTHON": sys.executable},
                          capture_output=True, text=True, timeout=timeout)


def test_quick_smoke_run_end_to_end_within_the_file_limits(tmp_path):
    out = tmp_path / "out"
    r = _run(out, "--quick", "--smoke")
    assert r.returncode == 0, r.stdout + r.stderr
    files = list(out.iterdir())  # <= 8 files, one folder, each < 16 MiB
    assert {f.name for f in files} == FILES and all(f.is_file() and f.stat().st_size < 16 << 20 for f in files)
    status = (out / "status.txt").read_text().splitlines()
    assert [line.split(" ")[0] for line in status] == ["environment", "tests", "bench"]
    assert all(", ok)" in line for line in status), status
    env = (out / "environment.txt").read_text()
    assert f"gradcore {gradcore.__version__}" in env and "SMOKE RUN" in env and "source fingerprint" in env
    tests = [t for t in isolate.read(out / "tests.jsonl") if t["event"] == "done"]
    assert len(tests) >= 10 and {t["outcome"] for t in tests} == {"passed"}
    assert "SMOKE RUN" in (out / "results.md").read_text().split("\n")[2]
    rows = json.loads((out / "results.json").read_text())["results"]
    cuda = {(r["case"], r["params"]): r for r in rows if r["device"] == "cuda"}
    assert len([c for c in cuda if c[0] == "mlp_step"]) == 5  # the GPU numbers that matter
    compiled = [r for (case, _), r in cuda.items() if case == "mlp_compiled"]  # CUDA graphs
    assert len(compiled) == 3 and all(r["eager_over_compiled"] > 0 for r in compiled)
    assert "Compiled MLP step" in (out / "results.md").read_text()
    for case in ("chain100", "copy", "sigmoid_backward", "softmax_xent", "sgd_momentum_step"):
        assert any(c[0] == case for c in cuda), case
    assert all("gradcore" in r["median_s"] for r in cuda.values())
    assert any("fraction_of_copy" in r for r in cuda.values())
    assert [r["case"] for r in rows if r["device"] == "cpu"] == ["mlp_step"]  # quick: one CPU case
    assert any("gpu_speedup" in r for r in cuda.values())


def test_a_crash_and_a_hang_lose_nothing_else(tmp_path):
    (tmp_path / "test_bad.py").write_text(textwrap.dedent("""
        import os, time
        def test_a(): pass
        def test_crash(): os._exit(3)
        def test_hang(): time.sleep(120)
        def test_d(): pass
    """))
    progress = tmp_path / "progress.jsonl"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "benchmarks")])}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "verify_progress",
           "--rootdir", str(tmp_path), str(tmp_path / "test_bad.py")]
    notes = []
    with open(tmp_path / "log", "w") as log:
        status = isolate.supervise(cmd, progress, case_timeout=8, env=env, stdout=log, cwd=tmp_path,
                                   log=notes.append)
    outcomes = {r["id"].split("::")[1]: r["outcome"] for r in isolate.read(progress) if r["event"] == "done"}
    assert outcomes == {"test_a": "passed", "test_crash": "crashed", "test_hang": "timeout",
                        "test_d": "passed"}, (outcomes, (tmp_path / "log").read_text())
    assert status == 0 and len(notes) == 2


def test_a_deadline_stops_the_run_and_says_so(tmp_path):
    progress = tmp_path / "progress.jsonl"
    worker = [sys.executable, "-c", "import os, time\nfrom gradcore.bench.isolate import append\n"
              "append(os.environ['GRADCORE_PROGRESS'], {'event': 'start', 'id': 'slow'})\ntime.sleep(60)"]
    import time
    status = isolate.supervise(worker, progress, case_timeout=60, deadline=time.monotonic() + 3,
                               env={**os.environ, "PYTHONPATH": str(ROOT)}, log=lambda m: None)
    assert status == "budget"
    assert isolate.read(progress)[-1] == {"event": "done", "id": "slow", "outcome": "budget",
                                          "error": "budget in this case"}


def test_unknown_step_is_refused(tmp_path):
    r = subprocess.run(["bash", str(SCRIPT), str(tmp_path / "out"), "benchmark"], cwd=ROOT,
                       env={"PATH": os.environ["PATH"], "PYTHON": sys.executable},
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "unknown step: benchmark" in r.stderr
