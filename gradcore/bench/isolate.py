"""Benchmark cases (and, for ``benchmarks/verify_gpu.py``, tests) run in child processes under a
supervisor, so that engines never share a process and one crash or hang loses nothing else.

* **Engines apart.** Each engine's cases run in a process of their own, one engine after the
  other: NOTE after a NumPy GEMM, OpenBLAS's worker threads keep spinning on the cores for a
  while, and PyTorch's OpenMP workers do the same after its ops; an engine that runs next in the
  same process, or at the same time, is slowed by them (measured on a 2-core machine: a PyTorch
  MLP step 21 ms alone, 33 ms alternated with NumPy sample by sample). A process that has exited
  has no threads left. ``gradcore bench --isolation`` shows the difference on this machine.
* **Progress file.** A child appends one JSON line ``{"event": "start", "id": ...}`` before each
  case and ``{"event": "done", "id": ..., ...}`` after it, flushed as it goes. The supervisor
  watches the file: a child that dies inside a case, or spends more than ``case_timeout``
  seconds on one, is killed and the case recorded as ``crashed`` or ``timeout``; a new child
  then skips every case already done. A ``deadline`` stops the whole run in time, recording the
  case in flight as ``budget``.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time

__all__ = ["append", "read", "done_ids", "supervise", "worker_main"]

PROGRESS_ENV = "GRADCORE_PROGRESS"  # the progress file a child appends to
JOBS_ENV = "GRADCORE_BENCH_JOBS"  # the JSON file of benchmark jobs a worker runs


def append(path, record):
    """Append one JSON line to ``path`` and close it: a kill right after loses nothing."""
    with open(path, "a") as f:
        f.write(json.dumps(record, default=str) + "\n")


def read(path):
    """The complete JSON lines of ``path`` (a line cut short by a kill is ignored)."""
    try:
        with open(path) as f:
            lines = f.read().split("\n")
    except FileNotFoundError:
        return []
    out = []
    for line in lines[:-1]:  # the last piece has no newline yet: still being written
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return out


def done_ids(path):
    """Ids of the cases with a ``done`` record: what a restarted child skips."""
    return {r["id"] for r in read(path) if r.get("event") == "done"}


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the child and anything it started
    except ProcessLookupError:
        pass
    proc.wait()


def supervise(cmd, progress, *, case_timeout, deadline=None, env=None, stdout=None, cwd=None,
              log=print, max_restarts=50):
    """Run ``cmd`` (which appends to ``progress``) until it exits with no case left in flight.

    Returns the last exit status, or ``"budget"`` when ``deadline`` (a ``time.monotonic()``
    value) passed first. ``stdout``: a file for the child's output (default: inherited).
    """
    env = {**(env or os.environ), PROGRESS_ENV: str(progress)}
    for _ in range(max_restarts + 1):
        seen = len(read(progress))
        proc = subprocess.Popen(cmd, env=env, stdout=stdout, stderr=subprocess.STDOUT if stdout else None,
                                cwd=cwd, start_new_session=True)
        current, last = None, time.monotonic()
        verdict = None
        while proc.poll() is None:
            time.sleep(0.1)
            records = read(progress)
            for r in records[seen:]:
                current = r["id"] if r.get("event") == "start" else None
                last = time.monotonic()
            seen = len(records)
            now = time.monotonic()
            if deadline is not None and now > deadline:
                verdict = "budget"
            elif now - last > case_timeout:
                verdict = "timeout"
            if verdict:
                _kill(proc)
                break
        for r in read(progress)[seen:]:  # lines written just before the exit
            current = r["id"] if r.get("event") == "start" else None
        if verdict is None and current is None:
            return proc.returncode
        reason = verdict or f"crashed (exit status {proc.returncode})"
        if current is not None:
            append(progress, {"event": "done", "id": current, "outcome": verdict or "crashed",
                              "error": f"{reason} in this case"})
        log(f"{current or 'before the first case'}: {reason}"
            + ("" if verdict == "budget" else "; restarting with the cases left"))
        if verdict == "budget":
            return "budget"
        if current is None:  # died or hung outside any case: a restart would do the same
            return proc.returncode if verdict is None else "timeout"
    return "too many restarts"


# ---- the benchmark worker ------------------------------------------------------------------------
def worker_main():
    """Run the jobs of ``$GRADCORE_BENCH_JOBS`` not yet done in ``$GRADCORE_PROGRESS``.

    A job: ``{"id", "device", "factory", "kwargs", "engines", "reps"}``; one engine is timed
    alone, several are interleaved sample by sample in this process (``--isolation`` only).
    """
    from gradcore.bench import workloads as W  # noqa: PLC0415 (after the environment is set)
    from gradcore.bench.runner import time_interleaved  # noqa: PLC0415

    progress = os.environ[PROGRESS_ENV]
    with open(os.environ[JOBS_ENV]) as f:
        jobs = json.load(f)
    skip = done_ids(progress)
    for job in jobs:
        if job["id"] in skip:
            continue
        append(progress, {"event": "start", "id": job["id"]})
        record = {"event": "done", "id": job["id"], "outcome": "ok", "times": {},
                  "unavailable": {}, "info": {}}
        try:
            steps = {}
            for engine in job["engines"]:
                try:
                    steps[engine], record["info"] = getattr(W, job["factory"])(
                        engine, job["device"], **job["kwargs"])
                except W.Unavailable as e:
                    record["unavailable"][engine] = str(e)
            if steps:
                record["times"] = time_interleaved(steps, job["device"], reps=job["reps"])
        except Exception as e:  # noqa: BLE001 (recorded; the next job still runs)
            record.update(outcome="error", error=f"{type(e).__name__}: {e}")
        append(progress, record)
        print(f"{job['id']}: {record['outcome']} {record.get('error', '')}" + " ".join(
            f"{e} {t['median_s'] * 1e3:.3f} ms" for e, t in record["times"].items()), flush=True)
    return 0
