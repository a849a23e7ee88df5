"""``python -m gradcore.bench.dist_worker``: one rank of a ``distributed`` benchmark job (see
gradcore.bench.distributed)."""
import sys

from gradcore.bench.distributed import worker_main

if __name__ == "__main__":
    sys.exit(worker_main())
