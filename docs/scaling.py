"""The scaling model of docs/distributed.md ("Scaling model"): data-parallel step time of an MLP
on 8 GPUs in one NVLink machine and on 4 machines x 8 GPUs over InfiniBand.

Run ``python docs/scaling.py`` to print the page's tables; tests/test_docs.py checks that the
page shows exactly what this prints, so the tables cannot drift from the model or its inputs.

The model, per step and per GPU (weak scaling: the per-GPU batch ``b`` is fixed):

* compute ``t_c = 6 b P / (F u)``: an MLP with P parameters spends 2 b P FLOPs in the forward
  pass and 4 b P in the backward pass (the GEMMs; bias and activations are ignored); F is the
  GPU's peak dense throughput, u the fraction achieved;
* gradient all-reduce (ring) ``t_ar = 2 (N - 1) / N * S / B``: S = 4 P bytes (float32
  gradients), B the bus bandwidth as nccl-tests defines it, so that ``t_ar = S / algbw``;
* without overlap ``t = t_c + t_ar``; with the all-reduce overlapped with the backward pass (as
  PyTorch's bucketed DDP does; gradcore does not yet), ``t = t_c / 3 + max(2 t_c / 3, t_ar)``;
* efficiency ``E = t_c / t``.

Every term is proportional to P, so E depends on the per-GPU batch b, not on the size of the
MLP: the tables give the smallest b with E >= 90 %. The model has no latency term: NCCL reaches
its peak bus bandwidth only on large messages (hundreds of MB), so it is optimistic for small
gradient buffers.
"""
from __future__ import annotations

import math

TARGET = 0.90
GRAD_BYTES = 4  # float32 gradients, one all-reduce of the flat buffer per step

# Peak dense throughput of one H200 SXM, FLOP/s. NVIDIA's H200 page
# (https://www.nvidia.com/en-us/data-center/h200/) lists FP32 67 TFLOPS and, for the Tensor
# Cores, TF32 989 and BF16 1,979 TFLOPS "with sparsity"; dense is half of those.
PEAK = {"FP32 (no Tensor Cores)": 67e12, "TF32 Tensor Cores": 989e12 / 2,
        "BF16 Tensor Cores": 1979e12 / 2}
ACHIEVED = 0.5  # assumed: the fraction of peak an MLP's GEMMs reach (not measured here)

# Bus bandwidth B of an all-reduce, bytes/s (nccl-tests' busbw).
SYSTEMS = {
    # 8 H100/H200 in one machine (NVLink 4, NVSwitch): 450 GB/s per direction per GPU (half of
    # the 900 GB/s total); NCCL's ring reaches ~370 GB/s busbw after ~20 % protocol overhead
    # (NCCL maintainer, https://github.com/NVIDIA/nccl-tests/issues/212). NVLink SHARP reaches
    # ~480 GB/s busbw on 8 GPUs (same source), but it is not a ring: not modelled.
    "8 GPUs, one NVLink machine": (8, 370e9),
    # 4 machines x 8 GPUs, 8 x 400 Gb/s NDR InfiniBand per machine (one NIC per GPU): 46-48 GB/s
    # per NIC through NCCL (NCCL maintainer, https://github.com/NVIDIA/nccl-tests/issues/290);
    # with one NIC per GPU the inter-machine links bound the rings at ~46 GB/s busbw.
    "4 x 8 GPUs, NDR InfiniBand": (32, 46e9),
}


def allreduce_s_per_param(n, busbw):
    """Seconds per parameter of one ring all-reduce of float32 gradients."""
    return 2 * (n - 1) / n * GRAD_BYTES / busbw


def compute_s_per_param_sample(peak):
    return 6 / (peak * ACHIEVED)


def efficiency(b, n, busbw, peak, overlap):
    """E = t_c / t for a per-GPU batch ``b`` (per parameter: P cancels)."""
    t_c = b * compute_s_per_param_sample(peak)
    t_ar = allreduce_s_per_param(n, busbw)
    t = t_c / 3 + max(2 * t_c / 3, t_ar) if overlap else t_c + t_ar
    return t_c / t


def min_batch(n, busbw, peak, overlap, target=TARGET):
    """The smallest per-GPU batch with efficiency >= ``target``."""
    ratio = allreduce_s_per_param(n, busbw) / compute_s_per_param_sample(peak)  # t_ar/t_c at b=1
    # no overlap: t_ar <= (1/E - 1) t_c; overlap: t_ar <= (1/E - 1/3) t_c
    allowed = (1 / target - (1 / 3 if overlap else 1))
    b = math.ceil(ratio / allowed)
    assert efficiency(b, n, busbw, peak, overlap) >= target > efficiency(b - 1, n, busbw, peak, overlap)
    return b


EXAMPLES = {  # MLPs: name -> layer sizes
    "784-4096-4096-4096-10": (784, 4096, 4096, 4096, 10),
    "8192 x 8 layers": (8192,) * 9,
}
BATCHES = (256, 1024, 4096, 16384, 65536)  # per GPU
EXAMPLE_BATCH, EXAMPLE_PRECISION = 1024, "BF16 Tensor Cores"


def parameters(sizes):
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def tables():
    """The page's three markdown tables."""
    out = ["| system | GPUs | bus bandwidth | compute (peak dense x 0.5) | min per-GPU batch, "
           "no overlap | min per-GPU batch, overlapped |", "|---|---|---|---|---|---|"]
    for system, (n, busbw) in SYSTEMS.items():
        for precision, peak in PEAK.items():
            out.append(f"| {system} | {n} | {busbw / 1e9:.0f} GB/s | {precision}: "
                       f"{peak * ACHIEVED / 1e12:.0f} TFLOPS | {min_batch(n, busbw, peak, False):,} "
                       f"| {min_batch(n, busbw, peak, True):,} |")
    peak = PEAK[EXAMPLE_PRECISION]
    out += ["", f"| efficiency, {EXAMPLE_PRECISION}, per-GPU batch: | "
            + " | ".join(f"{b:,}" for b in BATCHES) + " |", "|---" * (len(BATCHES) + 1) + "|"]
    for system, (n, busbw) in SYSTEMS.items():
        for overlap in (False, True):
            out.append(f"| {system}, {'overlapped' if overlap else 'no overlap'} | " + " | ".join(
                f"{efficiency(b, n, busbw, peak, overlap):.0%}" for b in BATCHES) + " |")
    out += ["", f"| MLP ({EXAMPLE_PRECISION}, per-GPU batch {EXAMPLE_BATCH:,}) | parameters "
            "| gradients | system | compute ms | all-reduce ms | efficiency, no overlap "
            "| overlapped |", "|---|---|---|---|---|---|---|---|"]
    for name, sizes in EXAMPLES.items():
        p = parameters(sizes)
        for system, (n, busbw) in SYSTEMS.items():
            t_c = EXAMPLE_BATCH * p * compute_s_per_param_sample(peak)
            t_ar = p * allreduce_s_per_param(n, busbw)
            out.append(f"| {name} | {p / 1e6:.1f} M | {GRAD_BYTES * p / 2**20:,.0f} MiB | {system} "
                       f"| {t_c * 1e3:.2f} | {t_ar * 1e3:.2f} "
                       f"| {efficiency(EXAMPLE_BATCH, n, busbw, peak, False):.0%} "
                       f"| {efficiency(EXAMPLE_BATCH, n, busbw, peak, True):.0%} |")
    return "\n".join(out)


if __name__ == "__main__":
    print(tables())
