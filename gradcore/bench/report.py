"""``gradcore bench``: run the suite side by side and write a markdown table, raw JSON and a PNG
chart (GPU-over-CPU speedup vs size, gradcore-over-baseline ratios). Every engine runs in a
process of its own (see :mod:`gradcore.bench.isolate`)."""
from __future__ import annotations

import datetime
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile

import numpy

import gradcore as gc
from gradcore.bench import distributed as D
from gradcore.bench import isolate
from gradcore.bench import workloads as W

__all__ = ["environment", "cases", "jobs", "run_suite", "rows_from", "write_reports", "run_cli"]

MLP_SMALL = ((784, 1024, 1024, 10), 256)
MLP_LARGE = ((784, 4096, 4096, 4096, 10), 1024)
MLP_HUGE = ((784, 4096, 4096, 4096, 10), 8192)


def environment():
    """Versions and devices, recorded with every result set."""
    env = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "command": " ".join([_program()] + sys.argv[1:]),
           "python": platform.python_version(), "platform": platform.platform(),
           "cpu": _cpu_model(), "cpu_count": os.cpu_count(), "numpy": numpy.__version__, "gradcore": gc.__version__,
           "git_commit": _git_commit(), "engines": "each in a process of its own",
           "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"), "gpu": None}
    env["matmul_precision"] = gc.get_matmul_precision()  # "highest": TF32 off
    try:
        import torch  # noqa: PLC0415
        env["torch"] = torch.__version__
        env["torch_threads"] = torch.get_num_threads()
        env["torch_cuda"] = torch.version.cuda
        env["torch_allow_tf32"] = W.match_torch_precision(torch)  # as every torch workload runs
    except ImportError:
        env["torch"] = None
    if gc.cuda.is_available():
        import cupy  # noqa: PLC0415
        props = cupy.cuda.runtime.getDeviceProperties(0)
        env.update(gpu=props["name"].decode(), cupy=cupy.__version__,
                   cuda_runtime=cupy.cuda.runtime.runtimeGetVersion(),
                   cuda_driver_api=cupy.cuda.runtime.driverGetVersion(),
                   nvidia_driver=_nvidia_driver())
    else:
        env["gpu_unavailable"] = gc.cuda.unavailable_reason()
    return env


def _cpu_model():
    """The CPU's model name from /proc/cpuinfo (Linux), else what platform knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _git_commit():
    """The commit of the source tree gradcore runs from (``+changes`` if it has uncommitted
    changes to tracked files), or None outside a git checkout."""
    root = pathlib.Path(gc.__file__).resolve().parents[1]
    try:
        git = ["git", "-C", str(root)]
        sha = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=30, check=True).stdout.strip()
        dirty = subprocess.run(git + ["status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+changes" if dirty else "")


def _nvidia_driver():
    """The NVIDIA driver's version as nvidia-smi prints it (e.g. 580.65.06), or None."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.strip().splitlines()[0] if out.strip() else None


def _program():
    prog = sys.argv[0]
    if prog.endswith("__main__.py"):
        return "python -m gradcore"
    return "gradcore" if os.path.basename(prog) == "gradcore" else prog


SMOKE = ("SMOKE RUN: tiny sizes on the host stand-in for CuPy, to check that the machinery runs "
         "end to end. These are not GPU numbers and measure nothing.")
_KERNELS = (("copy", "copy"), ("sigmoid_backward", "activation_backward"), ("bias_relu", "bias_act"),
            ("softmax_xent", "softmax_xent"), ("bias_grad", "bias_grad"))


def cases(device, quick, with_gpu=False, smoke=False):
    """(case name, parameter label, workload name, kwargs, engines) for one device.

    Full run: with ``with_gpu`` (the run also measures a GPU) the CPU measures every size the
    GPU does, for the GPU-over-CPU speedups; at batch 8192 only gradcore runs on the CPU (a
    2-core CPU step takes ~10 s per engine and sample). Quick run: the smallest sizes on a CPU
    alone; with a GPU, the GPU gets the numbers that matter (three MLP sizes, the kernels at 64 MB
    vs copy, the optimizer step, the op chain, the CUDA-graph step ``mlp_compiled`` beside the
    eager one at batch 64/256/1024) and the CPU only the small MLP step, for the
    speedup at one size. ``smoke``: the same cases on tiny sizes (see ``SMOKE``).
    """
    gpu = device != "cpu"
    # hand-written NumPy and (until the CUDA capture layer lands) compiled rows: CPU only
    compiled = ("gradcore", "torch") if gpu else W.ENGINES
    engines = tuple(e for e in compiled if e != "compiled")
    if quick and with_gpu:
        mlps, sizes_mb, rest = ([MLP_SMALL, MLP_LARGE, MLP_HUGE], (64,), True) if gpu else ([MLP_SMALL], (), False)
    elif quick:
        mlps, sizes_mb, rest = [MLP_SMALL], (1, 16), True
    else:
        big = gpu or with_gpu
        sizes_mb = (1, 16, 64, 256) if big else (1, 16, 64)
        mlps, rest = ([MLP_SMALL, MLP_LARGE, MLP_HUGE] if big else [MLP_SMALL, MLP_LARGE]), True
    out = []
    for k, (sizes, batch) in enumerate(mlps):
        if smoke:
            sizes, batch = (32,) + (64,) * (k + 1) + (10,), 8 << k
        label = f"{'-'.join(map(str, sizes))} b{batch}"
        cpu_huge = not gpu and (sizes, batch) == MLP_HUGE
        out.append(("mlp_step", label, "mlp_step", dict(sizes=sizes, batch=batch),
                    ("gradcore",) if cpu_huge else compiled))
        if rest:
            out.append(("mlp_gemms", label, "mlp_gemms", dict(sizes=sizes, batch=batch), ("gradcore",)))
    if gpu and quick:  # CUDA graphs (gc.compile): the replayed step beside eager, 3 batches
        sizes = (32, 64, 10) if smoke else MLP_SMALL[0]
        for batch in ((8, 16, 32) if smoke else (64, 256, 1024)):
            label = f"{'-'.join(map(str, sizes))} b{batch}"
            if ("mlp_step", label) not in [c[:2] for c in out]:
                out.append(("mlp_step", label, "mlp_step", dict(sizes=sizes, batch=batch), engines))
            out.append(("mlp_compiled", label, "mlp_compiled", dict(sizes=sizes, batch=batch), engines))
    if not rest:
        return out
    out.append(("chain100", "100 ops, 4x4", "chain", dict(n_ops=100), compiled))
    for mb in sizes_mb:
        for name, factory in _KERNELS:
            out.append((name, f"{mb / 256 if smoke else mb:g} MB", factory,
                        dict(mbytes=mb / 256 if smoke else mb), engines))
    opt_sizes = (32, 64, 10) if smoke else (784, 1024, 1024, 10)
    out.append(("sgd_momentum_step", "-".join(map(str, opt_sizes)), "optimizer_step",
                dict(sizes=opt_sizes), engines))
    n = 64 if smoke else 1024
    out.append(("matmul", f"{n}x{n}", "matmul", dict(n=n), engines))
    return out


def jobs(devices, quick=False, reps=20, only=None, smoke=False):
    """One job per (device, case, engine), in run order: what the worker processes run.

    ``only``: case names, or the group name ``"distributed"`` (gradcore.bench.distributed: MPI
    jobs, run only when asked for)."""
    with_gpu = any(d != "cpu" for d in devices)
    if only is not None and D.GROUP in only:
        only = tuple(n for n in only if n != D.GROUP) + D.CASES
    out = [j for j in D.jobs(quick, reps, smoke) if only is not None and j["case"] in only]
    for device in devices:
        for name, label, factory, kwargs, engines in cases(device, quick, with_gpu, smoke):
            if only is not None and name not in only:
                continue
            for engine in engines:
                out.append({"id": f"{device} {name} {label} {engine}", "device": device,
                            "case": name, "params": label, "factory": factory, "kwargs": kwargs,
                            "engines": [engine], "reps": reps})
    return out


def run_suite(devices=None, quick=False, reps=20, log=print, only=None, smoke=False,
              progress=None, worker=None, case_timeout=900, deadline=None):
    """Measure every case (or those named in ``only``) on every device, each engine in a worker
    process of its own; returns result rows.

    ``progress``: the JSON-lines file results are appended to as they come (a run given the
    file of an interrupted one continues it); ``worker``: the command of a worker process;
    ``case_timeout`` (s): a case that takes longer is killed and recorded as such; ``deadline``:
    a ``time.monotonic()`` value by which the run stops, the cases left recorded as not run.
    """
    devices = devices or (["cpu", "cuda"] if gc.cuda.is_available() else ["cpu"])
    todo = jobs(devices, quick, reps, only, smoke)
    tmp = tempfile.mkdtemp(prefix="gradcore-bench-")
    progress = progress or os.path.join(tmp, "progress.jsonl")
    worker = worker or [sys.executable, "-m", "gradcore.bench.worker"]
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    for engine in W.ENGINES:
        mine = [j for j in todo if j["engines"] == [engine] and "ranks" not in j]
        if not mine:
            continue
        jobs_file = os.path.join(tmp, f"{engine}.json")
        with open(jobs_file, "w") as f:
            json.dump(mine, f)
        if isolate.supervise(worker, progress, case_timeout=case_timeout, deadline=deadline,
                             env={**env, isolate.JOBS_ENV: jobs_file}, log=log) == "budget":
            break
    else:
        D.run([j for j in todo if "ranks" in j], progress, tmp, env, case_timeout=case_timeout,
              deadline=deadline, log=log)
    return rows_from(isolate.read(progress), todo)


def rows_from(records, todo):
    """Result rows (one per device and case, engines side by side) from progress records."""
    done = {r["id"]: r for r in records if r.get("event") == "done"}
    rows = {}
    for job in todo:
        key = (job["device"], job["case"], job["params"])
        row = rows.setdefault(key, {"case": job["case"], "params": job["params"],
                                    "device": job["device"], "info": {}, "median_s": {},
                                    "skipped": {}, "failed": {}})
        [engine] = job["engines"]
        rec = done.get(job["id"])
        if rec is None:
            row["failed"][engine] = "not run (time budget spent)"
        elif rec["outcome"] != "ok":
            row["failed"][engine] = f"{rec['outcome']}: {rec.get('error', '')}"
        else:
            row["info"] = rec["info"] or row["info"]
            row["skipped"].update(rec["unavailable"])
            if engine in rec["times"]:
                row["median_s"][engine] = rec["times"][engine]["median_s"]
    rows = list(rows.values())
    _derive(rows)
    return rows


def _derive(rows):
    """Ratios, achieved bandwidth vs the copy kernel, step time vs GEMM time, GPU speedups."""
    index = {(r["case"], r["params"], r["device"]): r for r in rows}
    for r in rows:
        t = r["median_s"]
        g = t.get("gradcore")
        r["ratios"] = {f"gradcore/{e}": g / v for e, v in t.items() if e != "gradcore" and g and v}
        c = t.get("compiled")
        r["ratios"].update({f"compiled/{e}": c / v for e, v in t.items()
                            if e in ("gradcore", "numpy", "torch") and c and v})
        nbytes = r["info"].get("bytes")
        if nbytes:
            r["gbps"] = {e: nbytes / v / 1e9 for e, v in t.items()}
            copy = index.get(("copy", r["params"], r["device"]))
            if copy and g and r["case"] != "copy":
                r["fraction_of_copy"] = r["gbps"]["gradcore"] / copy["gbps"]["gradcore"]
        if r["case"] == "mlp_step" and g:
            gemm = index.get(("mlp_gemms", r["params"], r["device"]))
            if gemm:
                r["step_over_gemms"] = g / gemm["median_s"]["gradcore"]
        eager = index.get(("mlp_step", r["params"], r["device"]), {}).get("median_s", {})
        if r["case"] == "mlp_compiled" and g:  # torch's column here is PyTorch's CUDA graph
            r["eager_over_compiled"] = eager["gradcore"] / g if eager.get("gradcore") else None
            r["compiled_over_torch_eager"] = g / eager["torch"] if eager.get("torch") else None
        if r["device"] != "cpu" and g:
            cpu = index.get((r["case"], r["params"], "cpu"))
            if cpu and cpu["median_s"].get("gradcore"):
                r["gpu_speedup"] = cpu["median_s"]["gradcore"] / g
    D.derive(rows)


def _table(rows):
    head = ("| device | case | size | gradcore ms | numpy ms | torch ms | gc/numpy | gc/torch "
            "| GB/s (gc) | % of copy | step/GEMMs | GPU speedup | compiled ms | compiled/numpy "
            "| compiled/gc |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    fmt = lambda v, f: "" if v is None else format(v, f)  # noqa: E731
    for r in rows:
        t = r["median_s"]
        lines.append("| " + " | ".join([
            r["device"], r["case"], r["params"],
            fmt(t.get("gradcore") and t["gradcore"] * 1e3, ".3f"),
            fmt(t.get("numpy") and t["numpy"] * 1e3, ".3f"),
            fmt(t.get("torch") and t["torch"] * 1e3, ".3f"),
            fmt(r["ratios"].get("gradcore/numpy"), ".2f"), fmt(r["ratios"].get("gradcore/torch"), ".2f"),
            fmt(r.get("gbps", {}).get("gradcore"), ".1f"),
            fmt(r.get("fraction_of_copy") and 100 * r["fraction_of_copy"], ".0f"),
            fmt(r.get("step_over_gemms"), ".2f"), fmt(r.get("gpu_speedup"), ".1f"),
            fmt(t.get("compiled") and t["compiled"] * 1e3, ".3f"),
            fmt(r["ratios"].get("compiled/numpy"), ".2f"),
            fmt(r["ratios"].get("compiled/gradcore"), ".2f")]) + " |")
    return "\n".join(lines)


def write_reports(rows, env, out_dir):
    """Write results.md, results.json and results.png into ``out_dir``; returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    md, js, png = (os.path.join(out_dir, f"results.{ext}") for ext in ("md", "json", "png"))
    with open(js, "w") as f:
        json.dump({"environment": env, "results": rows}, f, indent=1, default=str)
    env_lines = "\n".join(f"- {k}: {v}" for k, v in env.items())
    banner = f"**{SMOKE}**\n\n" if env.get("smoke") else ""
    notes = "".join(f"- {r['device']} {r['case']} {r['params']}, {e}: {why}\n"
                    for r in rows for kind in ("failed", "skipped")
                    for e, why in r.get(kind, {}).items())
    suite = [r for r in rows if r["case"] not in D.CASES]
    group = D.table(rows)
    with open(md, "w") as f:
        f.write(f"# gradcore benchmark results\n\n{banner}{env_lines}\n\nMedian of the samples "
                "(>= 20 unless the command says otherwise); each engine runs in a process of its "
                "own; ratios are gradcore time over baseline time (lower is better for "
                "gradcore).\n\n" + (f"{_table(suite)}\n{_compiled(suite)}" if suite else "")
                + (f"\n## Distributed (MPI jobs, {D.RANKS} ranks on this machine)\n\n{D.NOTE}\n\n"
                   f"{group}\n" if group else "")
                + (f"\nNot measured (engine: reason):\n\n{notes}" if notes else ""))
    written = [md, js]
    if not suite:  # the chart shows the suite's ratios; the distributed group has its tables
        return written
    try:
        _chart(suite, png)
        written.append(png)
    except ImportError:
        print("matplotlib is not installed: no chart (pip install 'gradcore[plot]')", file=sys.stderr)
    return written


def _compiled(rows):
    """The CUDA-graph rows in words: in their table row, torch's column is PyTorch's CUDA graph."""
    fmt = lambda v: "n/a" if v is None else f"{v:.2f}"  # noqa: E731
    lines = [f"- {r['device']} {r['params']}: eager / compiled {fmt(r.get('eager_over_compiled'))}, "
             f"compiled / PyTorch eager {fmt(r.get('compiled_over_torch_eager'))}, compiled / "
             f"PyTorch CUDA graph {fmt(r['ratios'].get('gradcore/torch'))}"
             for r in rows if r["case"] == "mlp_compiled" and "eager_over_compiled" in r]
    return ("\nCompiled MLP step (mlp_compiled: gradcore's CUDA-graph replay; its torch column is "
            "PyTorch's torch.cuda.CUDAGraph replay):\n\n" + "\n".join(lines) + "\n") if lines else ""


def _chart(rows, path):
    import matplotlib  # noqa: PLC0415 (optional extra)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    labels, values, colors = [], [], []
    for r in rows:
        for key, v in r["ratios"].items():
            labels.append(f"{r['device']} {r['case']} {r['params']} {key}")
            values.append(v)
            colors.append("tab:blue" if key.endswith("numpy") else "tab:orange")
    speed = [r for r in rows if "gpu_speedup" in r]
    height = 1.5 + 0.16 * len(values)
    if speed:
        fig, (left, right) = plt.subplots(1, 2, figsize=(15, height), width_ratios=(3, 2))
    else:
        fig, left = plt.subplots(figsize=(10, height))
    left.barh(range(len(values)), values, color=colors)
    left.set_yticks(range(len(values)), labels, fontsize=7)
    left.axvline(1.0, color="black", lw=0.8)
    left.set_xscale("log")
    left.set_xlabel("gradcore time / baseline time, lower is better (blue: NumPy, orange: PyTorch)")
    left.invert_yaxis()
    if speed:
        by_case = {}
        for r in speed:
            by_case.setdefault(r["case"], []).append((r["params"], r["gpu_speedup"]))
        for case, pts in by_case.items():
            right.plot([p for p, _ in pts], [s for _, s in pts], marker="o", label=case)
        right.set_yscale("log")
        right.set_ylabel("GPU speedup over CPU (gradcore)")
        right.tick_params(axis="x", labelrotation=30, labelsize=7)
        right.legend(fontsize=7)
    else:
        left.set_title("CPU only: no GPU in this run", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def quiet_openmp():
    """Make OpenMP worker threads sleep instead of spinning after each parallel region.

    NOTE: PyTorch's OpenMP threads spin for a while after every op by default, stealing cores
    from whatever runs next (the pytest-benchmark suite runs engines one after another in one
    process). Must run before torch is imported; an explicit setting wins.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


# README's summary rows: (case, params) -> (workload as README names it, target)
SUMMARY = {
    ("mlp_step", "784-1024-1024-10 b256"): ("MLP step 784-1024-1024-10, batch 256", "<= 1.10 / <= 1.25"),
    ("mlp_step", "784-4096-4096-4096-10 b1024"): ("MLP step 784-4096-4096-4096-10, batch 1024",
                                                   "<= 1.10 / <= 1.25"),
    ("chain100", "100 ops, 4x4"): ("100-op chain, forward + backward, 4x4", "<= 2.5"),
}


def summary(path, device="cpu"):
    """README's summary table, regenerated from a ``results.json``."""
    with open(path) as f:
        rows = json.load(f)["results"]
    def ms(r, e):
        if e not in r["median_s"]:
            return "n/a"
        v = r["median_s"][e] * 1e3
        return f"{v:.{0 if v >= 100 else 1 if v >= 10 else 2}f} ms"
    ratio = lambda r, e: f"**{r['ratios'][e]:.2f}**" if e in r.get("ratios", {}) else ""  # noqa: E731
    lines = ["| workload | gradcore | NumPy (hand-written) | PyTorch eager | gradcore / NumPy "
             "| gradcore / PyTorch | target |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        name = SUMMARY.get((r["case"], r["params"]))
        if name and r["device"] == device:
            lines.append(f"| {name[0]} | {ms(r, 'gradcore')} | {ms(r, 'numpy')} | {ms(r, 'torch')} "
                         f"| {ratio(r, 'gradcore/numpy')} | {ratio(r, 'gradcore/torch')} | {name[1]} |")
    return "\n".join(lines)


def run_cli(args):
    """Entry of ``gradcore bench``."""
    quiet_openmp()
    if args.summary:
        print(summary(args.summary))
        return 0
    if args.isolation:
        from gradcore.bench.compare import compare_isolation  # noqa: PLC0415
        return compare_isolation(args.out, reps=args.reps)
    env = {**environment(), "samples": args.reps}
    rows = run_suite(quick=args.quick, reps=args.reps, only=args.only)
    for path in write_reports(rows, env, args.out):
        print(f"wrote {path}")
    return 0
