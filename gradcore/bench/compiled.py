"""Compiled workloads: the MLP training step replayed as CUDA graphs (gradcore) beside PyTorch's
own whole-network CUDA-graph capture (``torch.cuda.CUDAGraph``), each engine's step being one
replay. The eager numbers at the same sizes are the ``mlp_step`` case.

gradcore's step is ``gc.compile(step)`` as a user writes it: each timed call copies the batch
into the graph's input buffers, replays the segments (the optimizer update runs between them as
a host call, one fused kernel per flat buffer) and returns a copy of the loss.
"""
from __future__ import annotations

import numpy

import gradcore as gc
from gradcore.bench.workloads import Unavailable, _data, _torch

__all__ = ["mlp_compiled"]


def mlp_compiled(engine, device, sizes, batch, lr=0.01, momentum=0.9):
    """One replay of the MLP step (ReLU, softmax cross-entropy, momentum SGD) captured once."""
    if device == "cpu":
        raise Unavailable("this case measures CUDA graphs; the CPU compiled step is gc.compile's")
    x = _data((batch, sizes[0]), 1)
    y = numpy.random.default_rng(2).integers(0, sizes[-1], batch)
    info = {"flops": 6 * batch * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))}
    if engine == "gradcore":
        gc.manual_seed(0)
        net = gc.nn.MLP(sizes, device=device)
        opt = gc.optim.SGD(net.parameters(), lr=lr, momentum=momentum)
        xt, yt = gc.tensor(x, device=device), gc.tensor(y, device=device)

        def step(x, y):
            opt.zero_grad()
            loss = gc.nn.functional.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
            return loss
        compiled = gc.compile(step)
        compiled(xt, yt)  # the trace (a real first step); the timed calls replay
        return (lambda: compiled(xt, yt)), info
    if engine == "numpy":
        raise Unavailable("hand-written NumPy runs on the CPU only")
    torch, dev = _torch(device)
    torch.manual_seed(0)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [torch.nn.Linear(a, b)] + ([torch.nn.ReLU()] if i < len(sizes) - 2 else [])
    net = torch.nn.Sequential(*layers).to(dev)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum)
    xt, yt = torch.from_numpy(x).to(dev), torch.from_numpy(y).to(dev)
    loss_fn = torch.nn.CrossEntropyLoss()
    side = torch.cuda.Stream()  # PyTorch's recipe: warm up on a side stream, then capture
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            opt.zero_grad(set_to_none=True)
            loss_fn(net(xt), yt).backward()
            opt.step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    opt.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        loss_fn(net(xt), yt).backward()
        opt.step()
    return graph.replay, info
