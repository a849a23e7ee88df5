"""The ``distributed`` group of ``gradcore bench`` (``gradcore bench --only distributed``).

* **All-reduce bandwidth** vs message size, on 2 ranks: gradcore's ``distributed.all_reduce`` of
  one flat float32 Tensor (what ``DistributedDataParallel`` issues per flat gradient buffer)
  against mpi4py's own ``Allreduce`` on a NumPy array (the real baseline: the same MPI library
  with nothing of gradcore on top). Reported as NCCL's tests report it (nccl-tests,
  doc/PERFORMANCE.md): algorithm bandwidth ``algbw = S / t`` and bus bandwidth
  ``busbw = algbw * 2 (n - 1) / n``, which is comparable with the hardware's link bandwidth
  whatever the number of ranks n.
* **DDP step time** of an MLP (forward, backward, gradient all-reduce, momentum SGD) on 1 and on 2
  ranks with the same per-rank batch (weak scaling: ideally the time stays the same).

Each job runs as an MPI job of its own, ``mpiexec -n RANKS python -m gradcore.bench.dist_worker``,
under the same supervisor as every other case (gradcore.bench.isolate: a crash or hang is
recorded, the run goes on); one rank alone is a plain process. A sample is timed on every rank
between two barriers and the slowest rank's time counts (a collective is done when the last rank
is done), as nccl-tests does.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import time

import numpy

__all__ = ["GROUP", "CASES", "jobs", "run", "derive", "table", "time_ranks", "allreduce",
           "ddp_mlp_step", "worker_main"]

GROUP = "distributed"
CASES = ("allreduce", "ddp_mlp_step")
ENGINES = ("gradcore", "mpi4py")
RANKS = 2
KIB, MIB = 2**10, 2**20
SIZES = tuple(4 * KIB * 4**k for k in range(8))  # 4 KiB .. 64 MiB
QUICK_SIZES = (4 * KIB, 256 * KIB, 16 * MIB)
SMOKE_SIZES = (4 * KIB, 64 * KIB)
MLP = ((784, 1024, 1024, 10), 128)  # per-rank batch
SMOKE_MLP = ((32, 64, 10), 8)
NOTE = ("Median over the samples of the slowest rank's time between two barriers. Bandwidths as "
        "nccl-tests defines them (doc/PERFORMANCE.md): algbw = bytes / time, busbw = algbw x "
        "2 (n - 1) / n for n ranks. The DDP step uses the same per-rank batch on 1 and on n ranks "
        "(ideal: the same time), BLAS threads = cores / ranks. All ranks run on this one machine "
        "and share its cores and memory.")


def _size_label(nbytes):
    return f"{nbytes // MIB} MiB" if nbytes >= MIB else f"{nbytes // KIB} KiB"


def cases(quick=False, smoke=False):
    """(case, label, factory, kwargs, engines, ranks) of the group."""
    sizes = SMOKE_SIZES if smoke else QUICK_SIZES if quick else SIZES
    out = [("allreduce", _size_label(n), "allreduce", {"nbytes": n}, ENGINES, RANKS) for n in sizes]
    sizes_, batch = SMOKE_MLP if smoke else MLP
    for ranks in (1, RANKS):
        out.append(("ddp_mlp_step", f"{'-'.join(map(str, sizes_))} b{batch}/rank x{ranks}",
                    "ddp_mlp_step", {"sizes": sizes_, "batch": batch}, ("gradcore",), ranks))
    return out


def jobs(quick=False, reps=20, smoke=False):
    """One job per (case, engine), as gradcore.bench.report.jobs makes them, plus ``ranks``."""
    return [{"id": f"cpu {name} {label} {engine}", "device": "cpu", "case": name, "params": label,
             "factory": factory, "kwargs": kwargs, "engines": [engine], "reps": reps,
             "ranks": ranks}
            for name, label, factory, kwargs, engines, ranks in cases(quick, smoke)
            for engine in engines]


def run(todo, progress, tmp, env, *, case_timeout, deadline, log):
    """Run the jobs ``todo`` (from :func:`jobs`): one MPI job per (ranks, engine). Returns
    ``"budget"`` when the deadline passed, else None. Without MPI, every job is recorded as not
    measured, with the reason."""
    from gradcore.bench import isolate  # noqa: PLC0415
    from gradcore.distributed.launch import (find_mpiexec, mpiexec_command,  # noqa: PLC0415
                                             thread_share_env)

    for ranks, engine in sorted({(j["ranks"], j["engines"][0]) for j in todo}):
        mine = [j for j in todo if j["ranks"] == ranks and j["engines"] == [engine]]
        worker = [sys.executable, "-m", "gradcore.bench.dist_worker"]
        if ranks > 1:
            path, why = find_mpiexec()
            if path is None:
                for job in mine:
                    isolate.append(progress, {"event": "done", "id": job["id"], "outcome": "ok",
                                              "times": {}, "info": {}, "unavailable": {
                                                  engine: f"needs the [mpi] extra: {why}"}})
                continue
            worker = mpiexec_command(ranks, worker)
        jobs_file = os.path.join(tmp, f"distributed-{ranks}-{engine}.json")
        with open(jobs_file, "w") as f:
            json.dump(mine, f)
        child_env = {**thread_share_env(ranks, env), isolate.JOBS_ENV: jobs_file}
        if isolate.supervise(worker, progress, case_timeout=case_timeout, deadline=deadline,
                             env=child_env, log=log) == "budget":
            return "budget"
    return None


# ---- workloads (run inside every rank) ---------------------------------------------------------
def allreduce(engine, device, nbytes):
    """One in-place sum all-reduce of ``nbytes`` of float32 over all ranks.

    NOTE: the values double at every call and reach inf after ~128 calls; the result is not
    looked at, and x86 SIMD adds infinities at full speed (only subnormals take a slow path)."""
    import gradcore as gc  # noqa: PLC0415
    import gradcore.distributed as dist  # noqa: PLC0415
    from gradcore.bench.workloads import Unavailable, _data  # noqa: PLC0415

    if device != "cpu":
        raise Unavailable("the distributed group measures MPI on host arrays")
    x = _data(nbytes // 4, seed=dist.get_rank())
    info = {"message_bytes": nbytes, "ranks": dist.get_world_size()}
    if engine == "gradcore":
        t = gc.tensor(x, device="cpu")
        return (lambda: dist.all_reduce(t, op="sum")), info
    if engine == "mpi4py":
        from mpi4py import MPI  # noqa: PLC0415
        comm = MPI.COMM_WORLD
        return (lambda: comm.Allreduce(MPI.IN_PLACE, x, op=MPI.SUM)), info
    raise Unavailable(f"no all-reduce for engine {engine!r}")


def ddp_mlp_step(engine, device, sizes, batch):
    """One DDP training step of an MLP with ReLU, softmax cross-entropy and momentum SGD on this
    rank's ``batch`` rows: forward, backward, one all-reduce of the flat gradient buffer, step."""
    import gradcore as gc  # noqa: PLC0415
    import gradcore.distributed as dist  # noqa: PLC0415
    from gradcore.bench.workloads import Unavailable, _data  # noqa: PLC0415

    if engine != "gradcore":
        raise Unavailable("DDP is gradcore's")
    rank = dist.get_rank()
    x = _data((batch, sizes[0]), 1 + rank)  # each rank its own rows
    y = numpy.random.default_rng(2 + rank).integers(0, sizes[-1], batch)
    gc.manual_seed(0)
    ddp = gc.nn.DistributedDataParallel(gc.nn.MLP(list(sizes), device=device))
    opt = gc.optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)
    xt, yt = gc.tensor(x, device=device), gc.tensor(y, device=device)
    params = sum(p.size for p in ddp.parameters())

    def step():
        opt.zero_grad()
        gc.nn.functional.cross_entropy(ddp(xt), yt).backward()
        ddp.step(opt)
    return step, {"flops": 6 * batch * sum(a * b for a, b in zip(sizes[:-1], sizes[1:])),
                  "gradient_bytes": 4 * params, "ranks": dist.get_world_size()}


# ---- timing across ranks -------------------------------------------------------------------------
def time_ranks(step, reps=20, warmup=2, target_s=2e-3):
    """Median seconds per ``step()`` over ``reps`` samples, each the slowest rank's time between
    two barriers; ``inner`` repetitions per sample (the same on every rank) so a sample lasts at
    least ``target_s``. Every rank must call it (it is collective)."""
    import gradcore.distributed as dist  # noqa: PLC0415

    def sample(inner):
        dist.barrier()
        t0 = time.perf_counter()
        for _ in range(inner):
            step()
        return max(dist.all_gather_object((time.perf_counter() - t0) / inner))

    for _ in range(warmup):
        step()
    inner = 1
    while True:
        t = sample(inner) * inner
        if t >= target_s or inner >= 1 << 16:
            break
        inner *= 2 if t <= 0 else max(2, min(16, int(target_s / t) + 1))
    samples = [sample(inner) for _ in range(reps)]
    return {"median_s": statistics.median(samples), "min_s": min(samples), "samples": len(samples),
            "inner": inner}


def worker_main():
    """One rank of a distributed benchmark job: the jobs of ``$GRADCORE_BENCH_JOBS`` not yet done.

    Rank 0 alone writes the progress records. An exception is not caught: in a job of several
    ranks it aborts them all (gradcore.distributed's hook), which the supervisor records as a
    crash of the case in flight before it restarts with the cases left; a rank that caught it and
    went on would leave the others waiting in a barrier."""
    import gradcore.distributed as dist  # noqa: PLC0415
    from gradcore.bench import isolate  # noqa: PLC0415
    from gradcore.bench.workloads import Unavailable  # noqa: PLC0415

    dist.init()
    rank = dist.get_rank()
    progress = os.environ[isolate.PROGRESS_ENV]
    with open(os.environ[isolate.JOBS_ENV]) as f:
        todo = json.load(f)
    skip = dist.all_gather_object(isolate.done_ids(progress) if rank == 0 else None)[0]
    for job in todo:
        if job["id"] in skip:
            continue
        if rank == 0:
            isolate.append(progress, {"event": "start", "id": job["id"]})
        [engine] = job["engines"]
        record = {"event": "done", "id": job["id"], "outcome": "ok", "times": {},
                  "unavailable": {}, "info": {}}
        try:
            step, record["info"] = globals()[job["factory"]](engine, job["device"], **job["kwargs"])
        except Unavailable as e:  # raised alike on every rank: they all skip the case
            record["unavailable"][engine] = str(e)
        else:
            record["times"][engine] = time_ranks(step, reps=job["reps"])
        if rank == 0:
            isolate.append(progress, record)
            print(f"{job['id']}: " + " ".join(f"{t['median_s'] * 1e3:.3f} ms"
                                              for t in record["times"].values()), flush=True)
    return 0


# ---- report --------------------------------------------------------------------------------------
def derive(rows):
    """Bandwidths of the all-reduce rows (NCCL's definitions) and the 2-rank DDP step's
    efficiency (1-rank time / n-rank time, same per-rank batch)."""
    steps = {r["info"].get("ranks"): r for r in rows if r["case"] == "ddp_mlp_step"}
    for r in rows:
        if r["case"] == "allreduce" and r["info"].get("message_bytes"):
            n, size = r["info"]["ranks"], r["info"]["message_bytes"]
            r["algbw_gbps"] = {e: size / t / 1e9 for e, t in r["median_s"].items()}
            r["busbw_gbps"] = {e: v * 2 * (n - 1) / n for e, v in r["algbw_gbps"].items()}
        if r["case"] == "ddp_mlp_step" and r["info"].get("ranks", 1) > 1:
            one = steps.get(1)
            t1, tn = (one or {}).get("median_s", {}).get("gradcore"), r["median_s"].get("gradcore")
            if t1 and tn:
                r["weak_scaling_efficiency"] = t1 / tn


def table(rows):
    """The group's markdown tables (empty when the rows have none of its cases)."""
    fmt = lambda v, f: "" if v is None else format(v, f)  # noqa: E731
    out = []
    ar = [r for r in rows if r["case"] == "allreduce"]
    if ar:
        out += ["| all-reduce (sum, float32) | ranks | gradcore ms | mpi4py ms | gradcore / mpi4py "
                "| algbw GB/s (gc) | busbw GB/s (gc) | busbw GB/s (mpi4py) |",
                "|---|---|---|---|---|---|---|---|"]
        for r in ar:
            t, bus = r["median_s"], r.get("busbw_gbps", {})
            out.append(f"| {r['params']} | {r['info'].get('ranks', '')} "
                       f"| {fmt(t.get('gradcore') and t['gradcore'] * 1e3, '.3f')} "
                       f"| {fmt(t.get('mpi4py') and t['mpi4py'] * 1e3, '.3f')} "
                       f"| {fmt(r.get('ratios', {}).get('gradcore/mpi4py'), '.2f')} "
                       f"| {fmt(r.get('algbw_gbps', {}).get('gradcore'), '.2f')} "
                       f"| {fmt(bus.get('gradcore'), '.2f')} | {fmt(bus.get('mpi4py'), '.2f')} |")
    steps = [r for r in rows if r["case"] == "ddp_mlp_step"]
    if steps:
        out += ["", "| DDP MLP step | ranks | gradcore ms | gradient all-reduced | 1-rank time / this "
                "time |", "|---|---|---|---|---|"]
        for r in steps:
            t = r["median_s"].get("gradcore")
            grad = r["info"].get("gradient_bytes")
            out.append(f"| {r['params']} | {r['info'].get('ranks', '')} | {fmt(t and t * 1e3, '.2f')} "
                       f"| {fmt(grad and grad / MIB, '.1f')}{' MiB' if grad else ''} "
                       f"| {fmt(r.get('weak_scaling_efficiency'), '.2f')} |")
    return "\n".join(out)
