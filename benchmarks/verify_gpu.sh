#!/usr/bin/env bash
# Everything GPU-related in one go, on a machine with an NVIDIA GPU and CuPy (PyTorch optional:
# it is the baseline). Run from the repository root; gradcore runs from the source tree, so no
# network is needed when numpy, cupy, pytest and pytest-benchmark are already installed.
#
#   bash benchmarks/verify_gpu.sh OUT_DIR [STEP ...]
#
# STEPs (default: all four, in this order; each can run alone, e.g. under a time limit):
#   environment   nvidia-smi, versions, `gradcore info`          -> OUT_DIR/environment.txt
#   tests         every test marked gpu (kernels vs twins, CPU/GPU agreement, no host waits,
#                 OOM, TF32, the cuda copies of the op tests)   -> OUT_DIR/gpu-tests.log
#   bench         `gradcore bench`: GPU and CPU side by side     -> OUT_DIR/results.{md,json,png}
#   pytest-bench  the pytest-benchmark suite's cuda cases        -> OUT_DIR/pytest-benchmark.json
# A step's exit status is recorded in OUT_DIR/status.txt; the script fails if any step failed.
set -uo pipefail
out=${1:?usage: bash benchmarks/verify_gpu.sh OUT_DIR [environment|tests|bench|pytest-bench ...]}
shift
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(environment tests bench pytest-bench)
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
py=${PYTHON:-python}
failed=0

run_step() {
  local name=$1
  shift
  local start=$SECONDS
  "$@"
  local rc=$?
  echo "$name rc=$rc $((SECONDS - start))s $(date -u +%FT%TZ)" >>"$out/status.txt"
  [ $rc -eq 0 ] || failed=1
}

environment() {
  {
    echo "date: $(date -u +%FT%TZ)"
    echo "command: bash benchmarks/verify_gpu.sh $out ${steps[*]}"
    echo "git: $(git rev-parse HEAD 2>/dev/null || echo 'not a git checkout')"
    nvidia-smi || echo "nvidia-smi: not available"
    "$py" -c 'import sys, numpy; print("python", sys.version.split()[0], "numpy", numpy.__version__)'
    "$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' \
      || echo "torch: not installed (no PyTorch baseline)"
    "$py" -m gradcore info
  } >"$out/environment.txt" 2>&1
}

tests() {
  "$py" -m pytest -q -rs -m gpu -p no:cacheprovider tests benchmarks 2>&1 | tee "$out/gpu-tests.log"
}

bench() {
  "$py" -m gradcore bench --out "$out" 2>&1 | tee "$out/bench.log"
}

pytest_bench() {
  "$py" -m pytest -q -p no:cacheprovider benchmarks -k cuda --benchmark-enable \
    --benchmark-group-by=group --benchmark-json "$out/pytest-benchmark.json" 2>&1 \
    | tee "$out/pytest-benchmark.log"
}

for step in "${steps[@]}"; do
  case $step in
    environment) run_step environment environment ;;
    tests) run_step tests tests ;;
    bench) run_step bench bench ;;
    pytest-bench) run_step pytest-bench pytest_bench ;;
    *) echo "unknown step: $step" >&2; exit 2 ;;
  esac
done
exit $failed
