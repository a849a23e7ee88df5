"""The GPU check: everything GPU-related in one command that fits one short run on a lent GPU
machine (CuPy, pytest, optionally PyTorch preinstalled; no network; an empty kernel cache; one
command <= 10 minutes; <= 8 files back, in one folder). gradcore runs from this source tree.

    python3 benchmarks/verify_gpu.py [--quick | --full] [--smoke] OUT_DIR [STEP ...]

STEPs (default: all, in this order): ``environment``, ``tests`` (every test marked gpu), ``bench``
(``gradcore bench`` on the GPU and the CPU, each engine in a process of its own). Quick mode
(the default) stops by ``--budget`` seconds (480: 8 minutes from a cold cache, kernel
compilation included) and measures what matters on the GPU; the CPU runs only the small MLP
step, for the GPU-over-CPU speedup. Full mode measures every size; it may need more than one
command: each stops by its budget (570 s) and a command given ``--resume PREVIOUS_OUT`` (or the
same OUT_DIR) skips every test and case already done there.

Every test and benchmark case is isolated: a crash or a hang (``--case-timeout``) kills only its
process, is recorded, and the run goes on with the rest; results are appended as they come.
The files, all in OUT_DIR: environment.txt, status.txt, tests.log, tests.jsonl, bench.jsonl,
results.md, results.json, results.png.

``--smoke`` runs it all on the host stand-in for CuPy (tests/kernels/hostcupy) on tiny sizes, so
CI proves it works end to end without a GPU. Its numbers are marked as a smoke run: they are
not GPU numbers.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # gradcore from this source tree, installed or not

from gradcore.bench import isolate  # noqa: E402

FILES = ("environment.txt", "status.txt", "tests.log", "tests.jsonl", "bench.jsonl", "results.md",
         "results.json", "results.png")
STEPS = ("environment", "tests", "bench")


def _env(smoke):
    """The children's environment: this tree first on the path; the stand-in for a smoke run."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "benchmarks")]
                                        + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    if smoke:
        env["GRADCORE_TEST_HOSTCUPY"] = "1"
    return env


def fingerprint():
    """sha256 over the files of gradcore/ and kernels/ (paths and contents): matches a result to
    a commit where the machine has no .git (``python3 benchmarks/verify_gpu.py --fingerprint``)."""
    h = hashlib.sha256()
    for path in sorted(p for d in ("gradcore", "kernels") for p in (ROOT / d).rglob("*")
                       if p.is_file() and "__pycache__" not in p.parts):
        h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def _run(cmd, env, timeout):
    try:
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
        return f"$ {' '.join(cmd)}\n{r.stdout}{r.stderr}" + (f"(exit status {r.returncode})\n" if r.returncode else "")
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"$ {' '.join(cmd)}\n{type(e).__name__}: {e}\n"


def environment(args, out, env, deadline):
    py = sys.executable
    left = lambda: max(5, min(120, deadline - time.monotonic()))  # noqa: E731
    parts = [f"date: {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}",
             f"command: {' '.join([os.path.basename(py)] + sys.argv)}",
             f"mode: {'full' if args.full else 'quick'}{' SMOKE RUN on the host stand-in: not GPU numbers' if args.smoke else ''}",
             f"source fingerprint: {fingerprint()}\n"]
    parts.append(_run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], env, left()))
    parts.append(_run(["nvidia-smi"], env, left()))
    parts.append(_run([py, "-c", "import sys, numpy; print('python', sys.version.split()[0], 'numpy', numpy.__version__)"], env, left()))
    parts.append(_run([py, "-c", "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"], env, left()))
    parts.append(_run([py, "-m", "gradcore", "info"], env, left()))
    (out / "environment.txt").write_text("\n".join(parts))
    return "written", True


def tests(args, out, env, deadline):
    paths = args.tests or (["tests/test_gpu.py"] if args.smoke else ["tests", "benchmarks"])
    # a test file whose imports fail (hypothesis is a test extra the machine may lack) must not
    # stop the others: its collection error is in tests.log and in the status line
    cmd = [sys.executable, "-m", "pytest", "-q", "-rfEs", "-p", "no:cacheprovider", "-p", "verify_progress",
           "--continue-on-collection-errors", "-m", "gpu", *paths]
    progress = out / "tests.jsonl"
    with open(out / "tests.log", "a") as log:
        status = isolate.supervise(cmd, progress, case_timeout=args.case_timeout, deadline=deadline,
                                   env=env, stdout=log, cwd=ROOT, log=lambda m: _note(out, f"tests: {m}"))
    text, ok = _summary(progress, f"pytest exit status {status}")
    errors = sorted({line.strip() for line in (out / "tests.log").read_text(errors="replace").splitlines()
                     if line.startswith("ERROR ")})
    return "\n".join([text] + [f"  {e}" for e in errors]), ok and not errors and status in (0, 5)  # 5: nothing left


def bench(args, out, env, deadline):
    from gradcore.bench import report  # noqa: PLC0415

    devices = ["cpu", "cuda"] if args.smoke or _gpu(env) else ["cpu"]
    worker = [sys.executable, str(pathlib.Path(__file__)), "--worker"] if args.smoke else None
    rows = report.run_suite(devices, quick=not args.full, reps=3 if args.smoke else 20,
                            smoke=args.smoke, progress=str(out / "bench.jsonl"), worker=worker,
                            case_timeout=args.case_timeout, deadline=deadline,
                            log=lambda m: _note(out, f"bench: {m}"))
    info = report.environment()
    info.update(command=" ".join([os.path.basename(sys.executable)] + sys.argv),
                source_fingerprint=fingerprint(), samples=3 if args.smoke else 20)
    if args.smoke:
        info.pop("gpu_unavailable", None)
        info.update(smoke=report.SMOKE, gpu="hostcupy (host stand-in for CuPy, not a GPU)")
    report.write_reports(rows, info, str(out))
    text, ok = _summary(out / "bench.jsonl", f"{len(rows)} rows")
    missing = [f"  {r['device']} {r['case']} {r['params']} {e}: {why}" for r in rows for e, why in r["failed"].items()]
    return "\n".join([text] + [m for m in missing if m not in text]), ok and not missing


def _gpu(env):
    probe = "import gradcore as gc, sys; sys.exit(0 if gc.cuda.is_available() else 1)"
    return subprocess.run([sys.executable, "-c", probe], env=env, timeout=120).returncode == 0


def _summary(progress, head):
    """('<head>; N passed; ...' with failures listed by id, no failures) from a progress file."""
    counts, bad = {}, []
    for r in isolate.read(progress):
        if r.get("event") == "done":
            counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
            if r["outcome"] not in ("passed", "skipped", "ok"):
                bad.append(f"  {r['outcome']}: {r['id']}: {r.get('error', '')}")
    return "; ".join([head] + [f"{n} {k}" for k, n in sorted(counts.items())]) + "".join("\n" + b for b in bad), not bad


def _note(out, line):
    print(line, flush=True)
    with open(out / "status.txt", "a") as f:
        f.write(line + "\n")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="the default: <= 8 minutes")
    mode.add_argument("--full", action="store_true", help="every size; continue with --resume")
    p.add_argument("--smoke", action="store_true", help="host stand-in, tiny sizes: not GPU numbers")
    p.add_argument("--budget", type=float, help="seconds for the whole command (quick 480, full 570)")
    p.add_argument("--case-timeout", type=float, default=180, help="seconds for one test or case")
    p.add_argument("--resume", metavar="DIR", help="continue the run whose files are in DIR")
    p.add_argument("--tests", nargs="*", help="test paths (default: tests benchmarks)")
    p.add_argument("out", type=pathlib.Path)
    p.add_argument("steps", nargs="*", metavar="STEP", help=f"any of {', '.join(STEPS)} (default: all)")
    args = p.parse_args(argv)
    for step in args.steps:
        if step not in STEPS:
            p.error(f"unknown step: {step} (expected one of {', '.join(STEPS)})")
    start = time.monotonic()
    budget = args.budget or (570 if args.full else 480)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    if args.resume and pathlib.Path(args.resume).resolve() != out:
        for name in ("tests.jsonl", "bench.jsonl", "tests.log", "status.txt"):
            if (pathlib.Path(args.resume) / name).exists():
                shutil.copy(pathlib.Path(args.resume) / name, out / name)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # what the workers get (and the record says)
    env = _env(args.smoke)
    steps = args.steps or list(STEPS)
    failed = False
    for k, step in enumerate(steps):
        now = time.monotonic()
        end = start + budget
        if step == "tests" and "bench" in steps[k:] and not args.full:
            end = now + (end - now) / 2  # quick: the tests get half of what is left, bench the rest
        if now >= end:
            _note(out, f"{step}: not run (time budget spent)")
            failed = True
            continue
        t0 = time.monotonic()
        try:
            result, ok = {"environment": environment, "tests": tests, "bench": bench}[step](args, out, env, end)
        except Exception as e:  # noqa: BLE001 (recorded; the next step still runs)
            result, ok = f"error: {type(e).__name__}: {e}", False
        failed |= not ok
        _note(out, f"{step} ({time.monotonic() - t0:.0f} s, {'ok' if ok else 'NOT OK'}): {result}")
    extra = sorted(p.name for p in out.iterdir() if p.name not in FILES)
    if extra:
        _note(out, f"unexpected files in {out}: {extra}")
        failed = True
    return 1 if failed else 0


def worker():
    """A benchmark worker for a smoke run: the host stand-in in CuPy's place, then the jobs."""
    sys.path.insert(0, str(ROOT / "tests" / "kernels"))
    import hostcupy  # noqa: PLC0415

    hostcupy.install()  # as cupy and cupy_backends.cuda.libs.cublas
    return isolate.worker_main()


if __name__ == "__main__":
    if sys.argv[1:] == ["--fingerprint"]:
        print(fingerprint())
        sys.exit(0)
    sys.exit(worker() if sys.argv[1:] == ["--worker"] else main())
