"""``gradcore bench``: run the suite's short version side by side and write a markdown table, raw
JSON and a PNG chart (GPU-over-CPU speedup vs size, gradcore-over-baseline ratios)."""
from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys

import numpy

import gradcore as gc
from gradcore.bench import workloads as W
from gradcore.bench.runner import time_interleaved

__all__ = ["environment", "cases", "run_suite", "write_reports", "run_cli"]

MLP_SMALL = ((784, 1024, 1024, 10), 256)
MLP_LARGE = ((784, 4096, 4096, 4096, 10), 1024)
MLP_HUGE = ((784, 4096, 4096, 4096, 10), 8192)


def environment():
    """Versions and devices, recorded with every result set."""
    env = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "command": " ".join([_program()] + sys.argv[1:]),
           "python": platform.python_version(), "platform": platform.platform(),
           "cpu": _cpu_model(), "cpu_count": os.cpu_count(), "numpy": numpy.__version__, "gradcore": gc.__version__,
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


def cases(device, quick, with_gpu=False):
    """(case name, parameter label, factory, kwargs, engines) for one device.

    ``with_gpu``: the run also measures a GPU, so the CPU measures every size the GPU does (the
    GPU-over-CPU speedups need both); at batch 8192 only gradcore runs on the CPU (the targets
    there are GPU ones, and a 2-core CPU step takes ~10 s per engine and sample).
    """
    gpu = device != "cpu"
    big = gpu or with_gpu
    sizes_mb = (1, 16) if quick else ((1, 16, 64, 256) if big else (1, 16, 64))
    mlps = [MLP_SMALL] if quick else ([MLP_SMALL, MLP_LARGE, MLP_HUGE] if big else [MLP_SMALL, MLP_LARGE])
    out = []
    for sizes, batch in mlps:
        label = f"{'-'.join(map(str, sizes))} b{batch}"
        cpu_huge = not gpu and (sizes, batch) == MLP_HUGE
        out.append(("mlp_step", label, W.mlp_step, dict(sizes=sizes, batch=batch),
                    ("gradcore",) if cpu_huge else W.ENGINES))
        out.append(("mlp_gemms", label, W.mlp_gemms, dict(sizes=sizes, batch=batch), ("gradcore",)))
    out.append(("chain100", "100 ops, 4x4", W.chain, dict(n_ops=100), W.ENGINES))
    for mb in sizes_mb:
        for name, factory in (("copy", W.copy), ("sigmoid_backward", W.activation_backward),
                              ("bias_relu", W.bias_act), ("softmax_xent", W.softmax_xent),
                              ("bias_grad", W.bias_grad)):
            out.append((name, f"{mb} MB", factory, dict(mbytes=mb), W.ENGINES))
    out.append(("sgd_momentum_step", "784-1024-1024-10", W.optimizer_step, {}, W.ENGINES))
    out.append(("matmul", "1024x1024", W.matmul, dict(n=1024), W.ENGINES))
    return out


def run_suite(devices=None, quick=False, reps=20, log=print, only=None):
    """Measure every case (or those named in ``only``) on every device; returns result rows."""
    devices = devices or (["cpu", "cuda"] if gc.cuda.is_available() else ["cpu"])
    with_gpu = any(d != "cpu" for d in devices)
    rows = []
    for device in devices:
        for name, label, factory, kwargs, engines in cases(device, quick, with_gpu):
            if only is not None and name not in only:
                continue
            steps, info, skipped = {}, {}, {}
            for engine in engines:
                try:
                    steps[engine], info = factory(engine, device, **kwargs)
                except W.Unavailable as e:
                    skipped[engine] = str(e)
            times = time_interleaved(steps, device, reps=reps)
            row = {"case": name, "params": label, "device": device, "info": info,
                   "median_s": {e: t["median_s"] for e, t in times.items()}, "skipped": skipped}
            rows.append(row)
            log(f"{device:5s} {name:18s} {label:30s} " + "  ".join(
                f"{e} {t['median_s'] * 1e3:9.3f} ms" for e, t in times.items()))
    _derive(rows)
    return rows


def _derive(rows):
    """Ratios, achieved bandwidth vs the copy kernel, step time vs GEMM time, GPU speedups."""
    index = {(r["case"], r["params"], r["device"]): r for r in rows}
    for r in rows:
        t = r["median_s"]
        g = t.get("gradcore")
        r["ratios"] = {f"gradcore/{e}": g / v for e, v in t.items() if e != "gradcore" and g and v}
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
        if r["device"] != "cpu" and g:
            cpu = index.get((r["case"], r["params"], "cpu"))
            if cpu and cpu["median_s"].get("gradcore"):
                r["gpu_speedup"] = cpu["median_s"]["gradcore"] / g


def _table(rows):
    head = ("| device | case | size | gradcore ms | numpy ms | torch ms | gc/numpy | gc/torch "
            "| GB/s (gc) | % of copy | step/GEMMs | GPU speedup |")
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
            fmt(r.get("step_over_gemms"), ".2f"), fmt(r.get("gpu_speedup"), ".1f")]) + " |")
    return "\n".join(lines)


def write_reports(rows, env, out_dir):
    """Write results.md, results.json and results.png into ``out_dir``; returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    md, js, png = (os.path.join(out_dir, f"results.{ext}") for ext in ("md", "json", "png"))
    with open(js, "w") as f:
        json.dump({"environment": env, "results": rows}, f, indent=1, default=str)
    env_lines = "\n".join(f"- {k}: {v}" for k, v in env.items())
    with open(md, "w") as f:
        f.write(f"# gradcore benchmark results\n\n{env_lines}\n\nMedian of >= 20 interleaved "
                "samples; ratios are gradcore time over baseline time (lower is better for "
                f"gradcore).\n\n{_table(rows)}\n")
    written = [md, js]
    try:
        _chart(rows, png)
        written.append(png)
    except ImportError:
        print("matplotlib is not installed: no chart (pip install 'gradcore[plot]')", file=sys.stderr)
    return written


def _chart(rows, path):
    import matplotlib  # noqa: PLC0415 (optional extra)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    labels, values, colors = [], [], []
    for r in rows:
        for key, v in r["ratios"].items():
            labels.append(f"{r['device']} {r['case']} {r['params']} vs {key.split('/')[1]}")
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

    NOTE: PyTorch's OpenMP threads spin for a while after every op by default; interleaved with
    other engines on a few cores they steal the CPU from whichever engine runs next (measured
    here: +40% on a NumPy step). Must run before torch is imported; an explicit setting wins.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def run_cli(args):
    """Entry of ``gradcore bench``."""
    quiet_openmp()
    env = environment()
    rows = run_suite(quick=args.quick)
    for path in write_reports(rows, env, args.out):
        print(f"wrote {path}")
    return 0
