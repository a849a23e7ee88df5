"""Same-job check of the all-reduce: gradcore's all_reduce and mpi4py's Allreduce alternated in
one 2-rank job (10 calls per sample, 40 samples each, slowest rank, median in ms), so both see the
same moment of the machine. Run: OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 mpiexec -n 2 python
benchmarks/results/cpu-2cores-2026-11-30-distributed/same_job_check.py"""
import time, numpy
import gradcore as gc, gradcore.distributed as dist
from mpi4py import MPI
dist.init(); comm = MPI.COMM_WORLD
for nbytes in (64*1024, 1<<20, 4<<20):
    x = numpy.random.default_rng(dist.get_rank()).random(nbytes // 4, dtype=numpy.float32)
    t = gc.tensor(x.copy())
    res = {"gc": [], "mpi": []}
    for r in range(40):
        for name in (("gc", "mpi") if r % 2 else ("mpi", "gc")):
            comm.Barrier(); t0 = time.perf_counter()
            for _ in range(10):
                if name == "gc": dist.all_reduce(t, op="sum")
                else: comm.Allreduce(MPI.IN_PLACE, x, op=MPI.SUM)
            dt = comm.allreduce((time.perf_counter() - t0) / 10, op=MPI.MAX)
            res[name].append(dt)
    if dist.get_rank() == 0:
        print(nbytes, {k: round(numpy.median(v) * 1e3, 3) for k, v in res.items()}, t.array.dtype, t.array.flags.c_contiguous, x.dtype)
