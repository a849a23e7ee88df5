"""Benchmark workloads, each for several engines: gradcore, gradcore under ``gc.compile``
("compiled": the MLP step and the op chain, traced once and replayed), hand-written NumPy (CPU)
and PyTorch (when it happens to be installed; never a dependency).

A workload factory returns ``(step, info)``: ``step()`` runs one iteration (leaving GPU work
queued: the timer synchronizes) and ``info`` holds what reports need (bytes moved, FLOPs).
Factories raise ``Unavailable`` when an engine cannot run the case (no torch, NumPy on a GPU).
"""
from __future__ import annotations

import numpy

import gradcore as gc
from gradcore.kernels import activation as KA
from gradcore.kernels import reduction as KR

__all__ = ["Unavailable", "ENGINES", "match_torch_precision", "mlp_step", "mlp_gemms", "chain", "activation_backward",
           "bias_act", "softmax_xent", "bias_grad", "optimizer_step", "copy", "matmul", "mlp_compiled"]

ENGINES = ("gradcore", "compiled", "numpy", "torch")
COMPILED = ("mlp_step", "chain")  # the workloads with a compiled engine


class Unavailable(Exception):
    """This engine cannot run this case here (the reason is the message)."""


def _torch(device):
    try:
        import torch  # noqa: PLC0415 (optional baseline)
    except ImportError as e:
        raise Unavailable("PyTorch is not installed") from e
    if device != "cpu" and not torch.cuda.is_available():
        raise Unavailable("PyTorch has no CUDA here")
    match_torch_precision(torch)
    return torch, ("cpu" if device == "cpu" else "cuda")


def match_torch_precision(torch):
    """Give PyTorch gradcore's float32 matmul setting (TF32 off unless gradcore's is "high");
    returns PyTorch's resulting ``allow_tf32``."""
    torch.backends.cuda.matmul.allow_tf32 = gc.get_matmul_precision() == "high"
    torch.backends.cudnn.allow_tf32 = False
    return torch.backends.cuda.matmul.allow_tf32


def _numpy_only(device):
    if device != "cpu":
        raise Unavailable("hand-written NumPy runs on the CPU only")


def _data(shape, seed=0, dtype=numpy.float32):
    """Uniform in [-1, 1): cheap to draw at 256 MB, and never all zeros (zeros can run faster)."""
    a = numpy.random.default_rng(seed).random(shape, dtype=numpy.float32)
    a *= 2
    a -= 1
    return a.astype(dtype, copy=False)


# ---- MLP training step: forward + backward + momentum SGD ------------------------------------
def mlp_step(engine, device, sizes, batch, lr=0.01, momentum=0.9):
    """One mini-batch step of an MLP with ReLU, softmax cross-entropy and momentum SGD."""
    x = _data((batch, sizes[0]), 1)
    y = numpy.random.default_rng(2).integers(0, sizes[-1], batch)
    flops = 6 * batch * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    info = {"flops": flops}
    if engine in ("gradcore", "compiled"):
        gc.manual_seed(0)
        net = gc.nn.MLP(sizes, device=device)
        opt = gc.optim.SGD(net.parameters(), lr=lr, momentum=momentum)
        xt, yt = gc.tensor(x, device=device), gc.tensor(y, device=device)

        def step(xt=xt, yt=yt):
            opt.zero_grad()
            gc.nn.functional.cross_entropy(net(xt), yt).backward()
            opt.step()
        if engine == "compiled":
            compiled = gc.compile(step)
            return (lambda: compiled(xt, yt)), info
        return step, info
    if engine == "numpy":
        _numpy_only(device)
        return _NumpyMLP(sizes, batch, lr, momentum, x, y).step, info
    torch, dev = _torch(device)
    torch.manual_seed(0)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers).to(dev)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum, foreach=True)
    xt, yt = torch.from_numpy(x).to(dev), torch.from_numpy(y).to(dev)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=False)
        loss_fn(net(xt), yt).backward()
        opt.step()
    return step, info


class _NumpyMLP:
    """The strongest plain-NumPy version: preallocated ``out=`` buffers, flat parameters, one
    momentum update over the flat buffer. Written out by hand: forward, backward, update."""

    def __init__(self, sizes, batch, lr, momentum, x, y):
        rng = numpy.random.default_rng(0)
        shapes = [(b, a) for a, b in zip(sizes[:-1], sizes[1:])]
        n = sum(o * i + o for o, i in shapes)
        self.flat, self.gflat, self.buf = (numpy.zeros(n, numpy.float32) for _ in range(3))
        self.w, self.b, self.gw, self.gb, off = [], [], [], [], 0
        for o, i in shapes:
            for store, gstore, shape in ((self.w, self.gw, (o, i)), (self.b, self.gb, (o,))):
                k = int(numpy.prod(shape))
                store.append(self.flat[off:off + k].reshape(shape))
                gstore.append(self.gflat[off:off + k].reshape(shape))
                off += k
            self.w[-1][...] = rng.uniform(-1, 1, (o, i)) / numpy.sqrt(i)
        self.tmp = numpy.empty(n, numpy.float32)  # lr * buf, without a temporary per step
        self.m, self.s = numpy.empty((batch, 1), numpy.float32), numpy.empty((batch, 1), numpy.float32)
        self.loss = None
        self.h = [x] + [numpy.empty((batch, o), numpy.float32) for o, _ in shapes]
        self.gh = [numpy.empty((batch, o), numpy.float32) for o, _ in shapes]
        self.gx = [numpy.empty((batch, i), numpy.float32) for _, i in shapes]
        self.y, self.lr, self.momentum, self.rows = y, lr, momentum, numpy.arange(batch)

    def step(self):
        last = len(self.w) - 1
        for k, (w, b) in enumerate(zip(self.w, self.b)):  # forward: GEMM, bias, ReLU in place
            z = self.h[k + 1]
            numpy.matmul(self.h[k], w.T, out=z)
            z += b
            if k < last:
                numpy.maximum(z, 0, out=z)
        logits, g, m, s = self.h[-1], self.gh[-1], self.m, self.s
        # the loss, as gradcore computes it: mean(logsumexp(logits) - logits[label])
        logits.max(axis=1, keepdims=True, out=m)
        numpy.subtract(logits, m, out=g)
        numpy.exp(g, out=g)
        g.sum(axis=1, keepdims=True, out=s)
        self.loss = (numpy.log(s[:, 0]) + m[:, 0] - logits[self.rows, self.y]).mean()
        g /= s  # softmax cross-entropy gradient: (softmax - onehot) / N, in place
        g[self.rows, self.y] -= 1
        g /= len(self.y)
        for k in range(last, -1, -1):  # backward
            numpy.matmul(g.T, self.h[k], out=self.gw[k])
            g.sum(axis=0, out=self.gb[k])
            if k > 0:
                gx = self.gx[k]
                numpy.matmul(g, self.w[k], out=gx)
                gx *= self.h[k] > 0
                g = self.gh[k - 1]
                g[...] = gx
        self.buf *= self.momentum  # momentum SGD over the flat buffer
        self.buf += self.gflat
        numpy.multiply(self.buf, self.lr, out=self.tmp)
        self.flat -= self.tmp


def mlp_gemms(engine, device, sizes, batch):
    """The GEMMs of one MLP step alone (forward, grad-input, grad-weight), gradcore's arrays."""
    if engine != "gradcore":
        raise Unavailable("GEMM-only timing is measured for gradcore's array module")
    dev = gc.device(device)
    xp = dev.xp
    hs = [xp.asarray(_data((batch, n), k)) for k, n in enumerate(sizes)]
    ws = [xp.asarray(_data((b, a), 10 + k)) for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))]

    def step():
        for k, w in enumerate(ws):
            xp.matmul(hs[k], w.T)
            xp.matmul(hs[k + 1].T, hs[k])
            if k:
                xp.matmul(hs[k + 1], w)
    return step, {}


# ---- per-op overhead ---------------------------------------------------------------------------
def chain(engine, device, n_ops=100, shape=(4, 4)):
    """Forward + backward of a chain of ``n_ops`` elementwise ops on tiny tensors."""
    x0 = numpy.ones(shape, numpy.float32)
    if engine == "gradcore":
        return _chain_step(lambda: gc.tensor(x0, device=device, requires_grad=True), n_ops), {}
    if engine == "compiled":  # the same step with its leaf as the input: x.grad is returned
        body = _chain_step(None, n_ops, leaf_arg=True)
        compiled, x = gc.compile(body), gc.tensor(x0, device=device, requires_grad=True)
        return (lambda: compiled(x)), {}
    if engine == "numpy":
        raise Unavailable("NumPy has no autodiff")
    torch, dev = _torch(device)
    return _chain_step(lambda: torch.tensor(x0, device=dev, requires_grad=True), n_ops), {}


def _chain_step(leaf, n_ops, leaf_arg=False):
    """The same Python for all engines: only the leaf tensor's constructor differs (or the leaf
    is the argument, for gc.compile)."""
    def step(x=None):
        y = x = x if leaf_arg else leaf()
        for _ in range(n_ops // 4):
            y = (y * 1.01 + 0.5).tanh() - 0.1
        y.sum().backward()
        return x.grad
    return step


# ---- memory-bound kernels --------------------------------------------------------------------------
def _arrays(engine, device, mbytes, count):
    n = int(mbytes * 2**20) // 4
    host = [_data(n, k) for k in range(count)]
    if engine == "torch":
        torch, dev = _torch(device)
        return [torch.from_numpy(h).to(dev) for h in host], n
    if engine == "numpy":
        _numpy_only(device)
        return host, n
    dev = gc.device(device)
    return [gc.backend.to_device(h, dev) for h in host], n


def copy(engine, device, mbytes):
    """A plain device copy: the bandwidth ceiling the fused kernels are measured against."""
    (a, b), n = _arrays(engine, device, mbytes, 2)
    info = {"bytes": 8 * n}
    if engine == "torch":
        return (lambda: b.copy_(a)), info
    xp = gc.backend.array_module(a)
    return (lambda: xp.copyto(b, a)), info


def activation_backward(engine, device, mbytes, act="sigmoid"):
    """gx = gy * act'(y) for the saved output y: gradcore's fused kernel vs the NumPy/torch form."""
    (y, gy, gx), n = _arrays(engine, device, mbytes, 3)
    info = {"bytes": 12 * n}
    if engine == "gradcore":
        fn = {"sigmoid": KA.sigmoid_backward, "tanh": KA.tanh_backward, "relu": KA.relu_backward}[act]
        return (lambda: fn(y, gy, out=gx)), info
    if engine == "numpy":  # the strongest plain NumPy: into gx, no temporaries
        mask = numpy.empty(y.shape, bool)

        def step():
            if act == "relu":
                numpy.greater(y, 0, out=mask)
                numpy.multiply(gy, mask, out=gx)
            elif act == "tanh":  # gy * (1 - y * y)
                numpy.multiply(y, y, out=gx)
                numpy.subtract(1, gx, out=gx)
                numpy.multiply(gx, gy, out=gx)
            else:  # sigmoid: gy * y * (1 - y)
                numpy.subtract(1, y, out=gx)
                numpy.multiply(gx, y, out=gx)
                numpy.multiply(gx, gy, out=gx)
            return gx
        return step, info
    torch, _ = _torch(device)
    fn = {"sigmoid": torch.ops.aten.sigmoid_backward, "tanh": torch.ops.aten.tanh_backward,
          "relu": lambda gy_, y_: torch.ops.aten.threshold_backward(gy_, y_, 0)}[act]
    return (lambda: fn(gy, y)), info


def bias_act(engine, device, mbytes, act="relu", width=1024):
    """act(z + b) after a GEMM, in place: one pass over z."""
    (z,), n = _arrays(engine, device, mbytes, 1)
    rows = n // width
    z = z[: rows * width].reshape(rows, width)
    b = z[0].clone() if engine == "torch" else z[0].copy()
    info = {"bytes": 8 * rows * width}
    if engine == "gradcore":
        return (lambda: KA.bias_act(z, b, act, out=z)), info
    if engine == "numpy":
        def step():
            z.__iadd__(b)
            numpy.maximum(z, 0, out=z)
        return step, info
    torch, _ = _torch(device)
    return (lambda: torch.relu_(z.add_(b))), info


def softmax_xent(engine, device, mbytes, classes=1024):
    """Softmax cross-entropy forward + backward on (N, C) logits with integer labels."""
    (z,), n = _arrays(engine, device, mbytes, 1)
    rows = n // classes
    z = z[: rows * classes].reshape(rows, classes)
    labels_host = numpy.random.default_rng(3).integers(0, classes, rows)
    info = {"bytes": 12 * rows * classes}  # forward reads z; backward reads z, writes gz
    if engine == "gradcore":
        from gradcore.kernels import loss as KL  # noqa: PLC0415

        xp = gc.backend.array_module(z)
        labels = xp.asarray(labels_host)
        one = xp.ones((), z.dtype)

        def step():
            _, lse = KL.softmax_cross_entropy(z, labels, "mean")
            return KL.softmax_cross_entropy_backward(z, labels, lse, one, "mean")
        return step, info
    if engine == "numpy":  # the loss and its gradient, as gradcore computes both; into buffers
        p, m, s, idx = numpy.empty_like(z), numpy.empty((rows, 1), z.dtype), numpy.empty((rows, 1), z.dtype), numpy.arange(rows)

        def step():
            z.max(axis=1, keepdims=True, out=m)
            numpy.subtract(z, m, out=p)
            numpy.exp(p, out=p)
            p.sum(axis=1, keepdims=True, out=s)
            loss = (numpy.log(s[:, 0]) + m[:, 0] - z[idx, labels_host]).mean()
            numpy.divide(p, s, out=p)
            p[idx, labels_host] -= 1
            numpy.divide(p, rows, out=p)
            return loss, p
        return step, info
    torch, dev = _torch(device)
    zt = z.detach().clone().requires_grad_(True)
    labels = torch.from_numpy(labels_host).to(dev)

    def step():
        zt.grad = None
        torch.nn.functional.cross_entropy(zt, labels).backward()
    return step, info


def bias_grad(engine, device, mbytes, width=1024):
    """Bias gradient: the sum of gy over the batch axis."""
    (g,), n = _arrays(engine, device, mbytes, 1)
    rows = n // width
    g = g[: rows * width].reshape(rows, width)
    info = {"bytes": 4 * rows * width}
    if engine == "gradcore":
        return (lambda: KR.sum_rows(g)), info
    if engine == "numpy":
        return (lambda: g.sum(axis=0)), info
    return (lambda: g.sum(dim=0)), info


def optimizer_step(engine, device, sizes=(784, 1024, 1024, 10)):
    """The whole momentum-SGD update of an MLP's parameters (gradients already there)."""
    shapes = [s for a, b in zip(sizes[:-1], sizes[1:]) for s in ((b, a), (b,))]
    n = sum(int(numpy.prod(s)) for s in shapes)
    info = {"bytes": 4 * n * 5}  # read p, g, buf; write p, buf
    if engine == "gradcore":
        net = gc.nn.MLP(list(sizes), device=device)
        opt = gc.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        opt.zero_grad(set_to_none=False)  # zeros, not None: a None .grad is skipped by step()
        for p in net.parameters():
            p.grad.array[...] = 0.001
        return opt.step, info
    if engine == "numpy":
        _numpy_only(device)
        p, g, buf = numpy.ones(n, numpy.float32), numpy.full(n, 1e-3, numpy.float32), numpy.zeros(n, numpy.float32)
        tmp = numpy.empty(n, numpy.float32)

        def step():
            buf.__imul__(0.9)
            buf.__iadd__(g)
            numpy.multiply(buf, 0.01, out=tmp)
            p.__isub__(tmp)
        return step, info
    torch, dev = _torch(device)
    params = [torch.nn.Parameter(torch.ones(s, device=dev)) for s in shapes]
    for q in params:
        q.grad = torch.full_like(q, 1e-3)
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, foreach=True)
    return opt.step, info


def matmul(engine, device, n=1024):
    """A square float32 GEMM."""
    a, b = _data((n, n), 0), _data((n, n), 1)
    info = {"flops": 2 * n ** 3}
    if engine == "gradcore":
        ta, tb = gc.tensor(a, device=device), gc.tensor(b, device=device)
        return (lambda: gc.matmul(ta, tb)), info
    if engine == "numpy":
        _numpy_only(device)
        return (lambda: a @ b), info
    torch, dev = _torch(device)
    ta, tb = torch.from_numpy(a).to(dev), torch.from_numpy(b).to(dev)
    return (lambda: ta @ tb), info


# The compiled cases build on the helpers above; the worker finds every factory in this module.
from gradcore.bench.compiled import mlp_compiled  # noqa: E402, F401
