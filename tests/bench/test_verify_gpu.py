"""benchmarks/verify_gpu.sh, the one command that runs everything GPU-related: its cheap
``environment`` step runs here (it must work with or without a GPU), the others on a GPU."""
import pathlib
import subprocess
import sys

import gradcore

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "verify_gpu.sh"


def _run(tmp_path, *steps):
    return subprocess.run(["bash", str(SCRIPT), str(tmp_path / "out"), *steps], cwd=ROOT,
                          env={"PATH": "/usr/bin:/bin:/usr/local/bin", "PYTHON": sys.executable},
                          capture_output=True, text=True, timeout=120)


def test_environment_step_records_versions_and_status(tmp_path):
    r = _run(tmp_path, "environment")
    assert r.returncode == 0, r.stderr
    env = (tmp_path / "out" / "environment.txt").read_text()
    assert "numpy" in env and f"gradcore {gradcore.__version__}" in env and "GPU:" in env and "command:" in env
    assert (tmp_path / "out" / "status.txt").read_text().startswith("environment rc=0 ")


def test_unknown_step_is_refused(tmp_path):
    r = _run(tmp_path, "benchmark")
    assert r.returncode == 2 and "unknown step: benchmark" in r.stderr
