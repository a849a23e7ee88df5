"""``gradcore info`` from a source tree that is not installed (as on the lent GPU machine, where
benchmarks/verify_gpu.sh runs gradcore with PYTHONPATH=<tree>). The rest of the command line is
tested with the training job (tests/test_train.py)."""
import os
import pathlib
import subprocess
import venv

import numpy

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_info_runs_from_the_source_tree_without_an_install(tmp_path):
    venv.create(tmp_path / "venv", with_pip=False)  # a Python where gradcore is not installed
    python = tmp_path / "venv" / "bin" / "python"
    site = next((tmp_path / "venv" / "lib").glob("python*/site-packages"))
    # NumPy from this environment as a plain path entry: its .pth files (gradcore's editable
    # install among them) are not processed, so only PYTHONPATH can provide gradcore
    (site / "numpy-only.pth").write_text(str(pathlib.Path(numpy.__file__).parents[1]) + "\n")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT)}
    where = subprocess.run([str(python), "-c", "import gradcore; print(gradcore.__file__)"], env=env,
                           cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert where.stdout.strip() == str(ROOT / "gradcore" / "__init__.py"), where.stderr
    r = subprocess.run([str(python), "-m", "gradcore", "info"], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert f"kernel sources: {ROOT / 'kernels'} (source tree" in r.stdout
    assert "default device:" in r.stdout
