"""The ``gradcore`` command: ``train`` (the main job), ``info`` (devices and why no GPU) and
``bench`` (a short benchmark run). Also ``python -m gradcore``."""
from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys

__all__ = ["main"]


# ---- option types: every value is checked by argparse, which names the option in its error ----

def _checked(parse, ok, expected):
    """An argparse ``type``: ``parse`` the text, then require ``ok(value)``."""
    def convert(text):
        try:
            value = parse(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value
    return convert


_positive_int = _checked(int, lambda n: n > 0, "a positive integer")
_count = _checked(int, lambda n: n >= 0, "a non-negative integer")
_positive_float = _checked(float, lambda x: 0 < x < math.inf, "a positive finite number")
_non_negative_float = _checked(float, lambda x: 0 <= x < math.inf, "a finite number >= 0")
_fraction = _checked(float, lambda x: 0 <= x < 1, "a number in [0, 1)")
_existing_dir = _checked(str, os.path.isdir, "an existing directory")
# a file to write: '' (none), or a path that is not a folder, in a folder that exists
_output_file = _checked(str, lambda p: p == "" or (not os.path.isdir(p) and os.path.isdir(
    os.path.dirname(os.path.abspath(p)))), "a file path in an existing directory")
# a folder to write into: created with its parents if missing, but it must not be a file
_output_dir = _checked(str, lambda p: p != "" and not os.path.isfile(p),
                       "a directory path (not an existing file)")


def _device(text):
    from gradcore import backend  # noqa: PLC0415 (keep `gradcore info` light)

    try:
        backend.device(text)
    except (ValueError, RuntimeError) as e:  # unknown name, or a GPU that is not usable
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def _sizes(text):
    try:
        sizes = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from e
    if any(n <= 0 for n in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return sizes


def _names(text):
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {text!r}")
    return names


def _train_parser(sub):
    from gradcore.train import TrainConfig  # noqa: PLC0415 (keep `gradcore info` light)

    d = TrainConfig()
    p = sub.add_parser("train", help="train an MLP classifier (default: bundled MNIST-5k)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--hidden", type=_sizes, default=d.hidden, help="hidden layer sizes, e.g. 512,256")
    p.add_argument("--activation", default=d.activation,
                   choices=["relu", "leaky_relu", "sigmoid", "tanh", "gelu", "gelu_tanh", "silu"])
    p.add_argument("--optimizer", default=d.optimizer, choices=["sgd", "adam", "adamw"])
    p.add_argument("--lr", type=_positive_float, default=d.lr, help="learning rate")
    p.add_argument("--momentum", type=_fraction, default=d.momentum,
                   help="SGD momentum in [0, 1) (0: plain)")
    p.add_argument("--nesterov", action="store_true", help="Nesterov momentum (SGD, momentum > 0)")
    p.add_argument("--weight-decay", type=_non_negative_float, default=d.weight_decay,
                   help="L2 regularization")
    p.add_argument("--batch-size", type=_count, default=d.batch_size,
                   help="mini-batch size (1: stochastic; 0: full batch)")
    p.add_argument("--epochs", type=_positive_int, default=d.epochs)
    p.add_argument("--schedule", default=d.schedule, choices=["none", "step", "cosine"])
    p.add_argument("--warmup", type=_count, default=d.warmup, help="epochs of linear lr warm-up")
    p.add_argument("--device", type=_device, default=d.device,
                   help="cpu, cuda or cuda:N (default: best available)")
    p.add_argument("--seed", type=_count, default=d.seed)
    p.add_argument("--data-dir", type=_existing_dir, default=d.data_dir,
                   help="folder with MNIST/Fashion-MNIST IDX files (default: bundled MNIST-5k)")
    p.add_argument("--checkpoint", type=_output_file, default=d.checkpoint,
                   help="checkpoint path ('' to skip saving)")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    p.add_argument("--plot", type=_output_file, default=d.plot, metavar="FILE",
                   help="write a loss/accuracy PNG")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--limit", type=_positive_int, default=None,
                   help="use only the first N training samples")
    p.add_argument("--nproc", type=_positive_int, default=None, metavar="N",
                   help="train on N local ranks started with the installed MPI's mpiexec (the "
                        "[mpi] extra); --batch-size is per rank: the global batch is N times it")
    p.add_argument("--compile", action="store_true",
                   help="trace the training step once with gc.compile and replay it (same "
                        "results as eager; see docs/api/compile.md)")
    return p


def _check_train(p, args):
    """What no single option can check: the options that only make sense together."""
    if args.nesterov and (args.optimizer != "sgd" or args.momentum == 0):
        p.error("--nesterov needs --optimizer sgd and --momentum > 0")
    if args.resume and not (args.checkpoint and os.path.isfile(args.checkpoint)):
        p.error(f"--resume needs an existing --checkpoint file, got {args.checkpoint!r}")
    if args.nproc is not None and args.nproc > 1:
        from gradcore.distributed.launch import find_mpiexec  # noqa: PLC0415

        if find_mpiexec()[0] is None:
            p.error(f"--nproc {args.nproc} needs MPI ({find_mpiexec()[1]}): "
                    f"pip install 'gradcore[mpi]' (mpi4py and the mpich wheel with mpiexec)")


def _launch_ranks(nproc, argv):
    """``gradcore train --nproc N``: the same command line as N ranks under ``mpiexec``; its
    exit status. Each rank sees ``--nproc N`` under an MPI launcher and trains as one rank."""
    from gradcore.distributed.launch import mpiexec_command, thread_share_env  # noqa: PLC0415

    cmd = mpiexec_command(nproc, [sys.executable, "-m", "gradcore", *argv], where="gradcore train")
    proc = subprocess.Popen(cmd, env=thread_share_env(nproc))
    try:
        return proc.wait()
    except KeyboardInterrupt:  # Ctrl-C reached mpiexec too (same process group): it stops the ranks
        return proc.wait()


def _check_rank_count(p, nproc):
    """Under ``mpiexec -n M``, ``--nproc N`` must agree with M (it launches nothing then)."""
    from gradcore import distributed as dist  # noqa: PLC0415

    dist.init()
    if dist.get_world_size() != nproc:
        p.error(f"--nproc {nproc}, but this process is one of {dist.get_world_size()} ranks "
                f"started by an MPI launcher; leave --nproc out under mpiexec")


def _run_train(args):
    from gradcore.train import TrainConfig, run  # noqa: PLC0415

    cfg = TrainConfig(hidden=args.hidden, activation=args.activation, optimizer=args.optimizer,
                      lr=args.lr, momentum=args.momentum, nesterov=args.nesterov,
                      weight_decay=args.weight_decay,
                      batch_size=args.batch_size if args.batch_size > 0 else None,
                      epochs=args.epochs, schedule=args.schedule, warmup=args.warmup,
                      device=args.device, seed=args.seed, data_dir=args.data_dir,
                      checkpoint=args.checkpoint or None, resume=args.resume, plot=args.plot,
                      progress=not args.no_progress, limit=args.limit, compile=args.compile)
    from gradcore import distributed as dist  # noqa: PLC0415

    def rank0():  # run() joins the MPI job; rank 0 alone speaks for it
        return not dist.is_initialized() or dist.get_rank() == 0

    try:
        result = run(cfg)
    except KeyboardInterrupt:
        where = f"; resume with --resume --checkpoint {cfg.checkpoint}" if cfg.checkpoint else ""
        many = dist.is_initialized() and dist.get_world_size() > 1
        who = f" (rank {dist.get_rank()} of {dist.get_world_size()})" if many else ""
        print(f"interrupted{who}: the last complete epoch's checkpoint is intact{where}",
              file=sys.stderr)
        if many:
            # NOTE: the interrupt reaches the ranks at different points; one may sit in an
            # all-reduce (C code: no Python signal handler runs there) that this rank will never
            # join, so a plain exit hangs the job: abort every rank (rank 0 writes checkpoints
            # atomically, so the last one stays valid)
            dist.abort(130)
        return 130
    if rank0():
        print(f"test accuracy {result['test_accuracy']:.4f}"
              + (f"; checkpoint {cfg.checkpoint}" if cfg.checkpoint else ""))
    return 0


def _run_info(args):
    import platform  # noqa: PLC0415

    import numpy  # noqa: PLC0415

    import gradcore as gc  # noqa: PLC0415

    print(f"gradcore {gc.__version__}  (python {platform.python_version()}, numpy {numpy.__version__})")
    try:
        import cupy  # noqa: PLC0415
        print(f"cupy {cupy.__version__}")
    except Exception as e:  # noqa: BLE001 (report any import failure)
        print(f"cupy: not importable ({type(e).__name__}: {e})")
    if gc.cuda.is_available():
        import cupy  # noqa: PLC0415
        for i in range(gc.cuda.device_count()):
            props = cupy.cuda.runtime.getDeviceProperties(i)
            print(f"cuda:{i}: {props['name'].decode()}  {props['totalGlobalMem'] / 2**30:.1f} GiB  "
                  f"sm_{props['major']}{props['minor']}")
        print(f"CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()}, driver "
              f"{cupy.cuda.runtime.driverGetVersion()}, NVRTC {cupy.cuda.nvrtc.getVersion()}")
    else:
        print(f"GPU: not usable: {gc.cuda.unavailable_reason()}")
    print(f"default device: {gc.get_default_device()}")
    print(f"float32 matmul precision: {gc.get_matmul_precision()}")
    print(f"kernel sources: {_kernel_sources()}")
    return 0


def _kernel_sources():
    """Where the .cuh files are read from: the installed package data, or, when gradcore runs
    from a source tree (PYTHONPATH, no install), the tree's kernels/ folder, which is what the
    kernel layer falls back to (the package gradcore.kernels.cuda_src exists only once installed)."""
    import importlib.resources  # noqa: PLC0415

    from gradcore import kernels  # noqa: PLC0415

    try:
        return importlib.resources.files("gradcore.kernels.cuda_src")
    except ModuleNotFoundError:
        return f"{kernels._SOURCE_TREE_KERNELS} (source tree; gradcore is not installed)"


def _run_bench(args):
    from gradcore.bench import run_cli  # noqa: PLC0415

    return run_cli(args)


def main(argv=None):
    """Entry point of the ``gradcore`` console script."""
    parser = argparse.ArgumentParser(prog="gradcore", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    train = _train_parser(sub)
    sub.add_parser("info", help="versions, devices, and why no GPU is usable")
    bench = sub.add_parser("bench", help="a short benchmark run: markdown table, JSON and PNG chart")
    bench.add_argument("--out", type=_output_dir, default="gradcore-bench", help="output folder")
    bench.add_argument("--quick", action="store_true", help="smallest sizes only (a minute or two)")
    bench.add_argument("--reps", type=_positive_int, default=20, help="samples per engine and case")
    bench.add_argument("--isolation", action="store_true",
                       help="instead: each engine alone vs in the suite vs interleaved in one process")
    bench.add_argument("--only", type=_names, default=None, metavar="NAMES",
                       help="comma-separated case names, or 'distributed': the all-reduce "
                            "bandwidth and DDP step group (MPI jobs; the [mpi] extra)")
    bench.add_argument("--summary", metavar="RESULTS_JSON",
                       help="instead: print README's summary table from a results.json")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.command == "train":
        _check_train(train, args)
        if args.nproc is not None:
            from gradcore.distributed.launch import under_mpi_launcher  # noqa: PLC0415

            if under_mpi_launcher():
                _check_rank_count(train, args.nproc)
            elif args.nproc > 1:
                return _launch_ranks(args.nproc, argv)
    handler = {"train": _run_train, "info": _run_info, "bench": _run_bench}[args.command]
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
