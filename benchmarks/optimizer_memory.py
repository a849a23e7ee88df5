"""Peak resident memory of MLP training with momentum SGD, gradcore vs PyTorch, net of import.

Each engine runs in a fresh subprocess (so one engine's allocator cannot lend memory to the
other): import, read the resident set size (RSS), build the model and the optimizer, take a few
training steps, then report ``ru_maxrss`` minus the RSS after import. The floor printed beside it
is what any engine must hold: parameters + gradients + momentum + the activations and their
gradients of one batch (float32).

    python benchmarks/optimizer_memory.py                      # 784-4096-4096-4096-10, batch 256
    python benchmarks/optimizer_memory.py --sizes 784,1024,10 --engines gradcore

Linux only (``ru_maxrss`` in KiB, the RSS from /proc/self/statm). The numbers depend on the
allocator and the BLAS library; compare engines on one machine.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, os, resource, sys
engine, sizes, batch, steps = sys.argv[1], [int(s) for s in sys.argv[2].split(",")], int(sys.argv[3]), int(sys.argv[4])
import numpy as np
if engine == "gradcore":
    import gradcore as gc
else:
    import torch
    torch.set_num_threads(os.cpu_count())

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

base = rss()
rng = np.random.default_rng(0)
x = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
y = rng.integers(0, sizes[-1], batch)
if engine == "gradcore":
    gc.manual_seed(0)
    net = gc.nn.MLP(sizes)
    opt = gc.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    tx, ty, cross_entropy = gc.tensor(x), gc.tensor(y), gc.nn.functional.cross_entropy
else:
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers[:-1])
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    tx, ty, cross_entropy = torch.from_numpy(x), torch.from_numpy(y), torch.nn.functional.cross_entropy
for _ in range(steps):
    opt.zero_grad()
    cross_entropy(net(tx), ty).backward()
    opt.step()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"engine": engine, "peak_net_bytes": peak - base}))
"""


def floor_bytes(sizes, batch, itemsize=4):
    """params + grads + momentum, plus every layer's output and its gradient for one batch."""
    n_params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    activations = batch * sum(sizes)
    return itemsize * (3 * n_params + 2 * activations)


def measure(engine, sizes, batch, steps):
    out = subprocess.run([sys.executable, "-c", CHILD, engine, ",".join(map(str, sizes)),
                          str(batch), str(steps)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_net_bytes"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="784,4096,4096,4096,10")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--engines", default="gradcore,torch")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"MLP {args.sizes}, batch {args.batch}, SGD momentum, {args.steps} steps; "
          f"floor {floor_bytes(sizes, args.batch) / 1e6:.0f} MB")
    for engine in args.engines.split(","):
        try:
            peak = measure(engine, sizes, args.batch, args.steps)
        except subprocess.CalledProcessError as e:
            print(f"{engine:9s} failed: {e.stderr.strip().splitlines()[-1]}")
            continue
        print(f"{engine:9s} peak RSS net of import {peak / 1e6:7.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
