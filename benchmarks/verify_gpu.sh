#!/usr/bin/env bash
# The GPU check in one command (benchmarks/verify_gpu.py does the work; benchmarks/README.md says
# what it runs and writes). On the lent GPU machine, one command line:
#
#   bash benchmarks/verify_gpu.sh --quick "$OUT"       # <= 8 minutes, <= 8 files in $OUT
#   bash benchmarks/verify_gpu.sh --full "$OUT" tests  # longer runs, a step per command
#   bash benchmarks/verify_gpu.sh --quick --smoke OUT  # no GPU: the host stand-in, tiny sizes
exec "${PYTHON:-python3}" "$(dirname "$0")/verify_gpu.py" "$@"
