"""gc.compile on the CPU, interleaved with eager gradcore and hand-written NumPy in ONE process
(issue 15's measurement): the MLP step 784-1024-1024-10 at batch 256 with momentum SGD, and the
100-op chain of 4x4 tensors, forward + backward. Prints min and median per engine and ratios.

    python benchmarks/compile_cpu.py [--reps 20]

Targets: compiled MLP step <= 1.00x the NumPy step; compiled chain >= 3x faster than eager.
"""
import argparse

from gradcore.bench import time_interleaved
from gradcore.bench import workloads as W


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20)
    args = parser.parse_args()
    cases = [("mlp_step 784-1024-1024-10 b256", "mlp_step",
              dict(sizes=(784, 1024, 1024, 10), batch=256), ("gradcore", "compiled", "numpy")),
             ("chain100 4x4", "chain", dict(n_ops=100), ("gradcore", "compiled"))]
    for name, factory, kwargs, engines in cases:
        steps = {e: getattr(W, factory)(e, "cpu", **kwargs)[0] for e in engines}
        times = time_interleaved(steps, "cpu", reps=args.reps)
        print(f"{name} ({args.reps} interleaved samples)")
        for e, t in times.items():
            print(f"  {e:9s} min {t['min_s'] * 1e3:8.3f} ms   median {t['median_s'] * 1e3:8.3f} ms")
        for base in engines:
            if base != "compiled":
                c, b = times["compiled"], times[base]
                print(f"  compiled/{base}: min {c['min_s'] / b['min_s']:.3f}  "
                      f"median {c['median_s'] / b['median_s']:.3f}")


if __name__ == "__main__":
    main()
