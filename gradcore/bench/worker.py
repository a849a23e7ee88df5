"""``python -m gradcore.bench.worker``: a benchmark worker process (see gradcore.bench.isolate)."""
import sys

from gradcore.bench.isolate import worker_main

if __name__ == "__main__":
    sys.exit(worker_main())
