"""``gradcore bench --isolation``: evidence that the suite's numbers are each engine's own.

For the MLP step and the 1024 GEMM on the CPU it measures every engine three ways: **alone** (a
process that runs only that engine on only that case), **in the suite** (``gradcore bench
--quick`` as it runs: one process per engine, all cases), and **interleaved** (all engines in one
process, alternating sample by sample: how the suite ran before). Alone and in the suite should
agree within the machine's noise; interleaved shows what sharing a process costs.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile

from gradcore.bench import isolate
from gradcore.bench import workloads as W
from gradcore.bench.report import environment, jobs, run_suite

__all__ = ["compare_isolation"]

CASES = ("mlp_step", "matmul")


def _run(todo, progress, env, log):
    jobs_file = progress + ".jobs.json"
    with open(jobs_file, "w") as f:
        json.dump(todo, f)
    isolate.supervise([sys.executable, "-m", "gradcore.bench.worker"], progress, case_timeout=900,
                      env={**env, isolate.JOBS_ENV: jobs_file}, log=log)
    return {r["id"]: r for r in isolate.read(progress) if r.get("event") == "done"}


def compare_isolation(out_dir, reps=20, log=print):
    """Measure, write ``isolation.md`` and ``isolation.json`` into ``out_dir``; returns 0."""
    os.makedirs(out_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="gradcore-isolation-")
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    mine = [j for j in jobs(["cpu"], quick=True, reps=reps) if j["case"] in CASES]
    table = {}  # (case, params, engine) -> {way: median_s}
    for k, job in enumerate(mine):  # alone: a fresh process per engine and case
        rec = _run([job], os.path.join(tmp, f"alone{k}.jsonl"), env, log)[job["id"]]
        for engine, t in rec.get("times", {}).items():
            table.setdefault((job["case"], job["params"], engine), {})["alone"] = t["median_s"]
    for row in run_suite(["cpu"], quick=True, reps=reps, log=log):  # the suite as it runs
        for engine, t in row["median_s"].items():
            if row["case"] in CASES:
                table.setdefault((row["case"], row["params"], engine), {})["suite"] = t
    together = []  # interleaved: every engine of a case in one process
    for job in mine:
        if not any(j["id"] == job["id"].rsplit(" ", 1)[0] for j in together):
            together.append({**job, "id": job["id"].rsplit(" ", 1)[0], "engines": list(W.ENGINES)})
    for rec in _run(together, os.path.join(tmp, "interleaved.jsonl"), env, log).values():
        job = next(j for j in together if j["id"] == rec["id"])
        for engine, t in rec.get("times", {}).items():
            table.setdefault((job["case"], job["params"], engine), {})["interleaved"] = t["median_s"]
    ms = lambda v: "" if v is None else f"{v * 1e3:.2f}"  # noqa: E731
    lines = ["| case | size | engine | alone ms | in the suite ms | interleaved in one process ms |",
             "|---|---|---|---|---|---|"]
    for (case, params, engine), t in table.items():
        lines.append(f"| {case} | {params} | {engine} | {ms(t.get('alone'))} | {ms(t.get('suite'))} "
                     f"| {ms(t.get('interleaved'))} |")
    env_info = environment()
    with open(os.path.join(out_dir, "isolation.json"), "w") as f:
        json.dump({"environment": env_info, "reps": reps, "results": [
            {"case": c, "params": p, "engine": e, "median_s": t} for (c, p, e), t in table.items()]},
                  f, indent=1, default=str)
    text = "\n".join(lines)
    with open(os.path.join(out_dir, "isolation.md"), "w") as f:
        f.write("# Engine isolation check\n\n" + "\n".join(f"- {k}: {v}" for k, v in env_info.items())
                + f"\n\nMedian of {reps} samples per engine.\n\n{text}\n")
    log(text)
    return 0
