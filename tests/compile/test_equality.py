"""The safety net of gc.compile on the CPU: compiled equals eager, bit for bit, for every layer,
loss and optimizer, over many steps with a new batch each step. A computation the tracer did not
see would be frozen at its trace-time value and show here."""
import numpy as np
import pytest

import gradcore as gc
from gradcore.nn import functional as F
from tests.compile.helpers import assert_same, batches

DTYPES = ["float32", "float64"]


def _classifier(layers, loss="ce", opt=lambda ps: gc.optim.SGD(ps, lr=0.05, momentum=0.9),
                steps=100, n=16, d=6, extras=lambda m: [], sched=None, clip=None,
                zero="start"):
    def setup(dtype):
        model = layers(dtype)
        optimizer = opt(list(model.parameters()))
        scheduler = sched(optimizer) if sched else None
        xs = batches(n, (d,), steps, dtype=dtype)
        ys = batches(n, (), steps, seed=2, kind="labels") if loss == "ce" else \
            batches(n, (3,), steps, seed=2, dtype=dtype)

        def step(x, y):
            if zero == "start":
                optimizer.zero_grad()
            out = model(x)
            value = {"ce": lambda: F.cross_entropy(out, y), "mse": lambda: F.mse_loss(out, y),
                     "l1": lambda: F.l1_loss(out, y),
                     "huber": lambda: F.huber_loss(out, y),
                     "smooth_l1": lambda: F.smooth_l1_loss(out, y),
                     "bce_logits": lambda: F.binary_cross_entropy_with_logits(out, y.sigmoid()),
                     "bce": lambda: F.binary_cross_entropy(out.sigmoid(), y.sigmoid()),
                     "kl": lambda: F.kl_div(out.log_softmax(-1) if hasattr(out, "log_softmax")
                                            else F.log_softmax(out, -1), y.softmax(-1)
                                            if hasattr(y, "softmax") else F.softmax(y, -1),
                                            reduction="batchmean"),
                     "nll": lambda: F.nll_loss(F.log_softmax(out, -1), y)}[loss]()
            value.backward()
            if clip:
                clip(model.parameters())
            optimizer.step()
            if scheduler:
                scheduler.step()
            if zero == "end":
                optimizer.zero_grad()
            return value
        return model, optimizer, step, xs, ys, lambda: extras(model)
    return setup


def mlp(act="relu"):
    return lambda dtype: gc.nn.MLP([6, 8, 8, 3], activation=act, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", ["relu", "tanh", "sigmoid", "leaky_relu"])
def test_mlp_activations_sgd_momentum(dtype, act):
    assert_same(_classifier(mlp(act)), 100, dtype)


OPTIMIZERS = {
    "sgd": lambda ps: gc.optim.SGD(ps, lr=0.05),
    "momentum": lambda ps: gc.optim.SGD(ps, lr=0.05, momentum=0.9, dampening=0.1),
    "nesterov": lambda ps: gc.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True,
                                        weight_decay=1e-3),
    "adam": lambda ps: gc.optim.Adam(ps, lr=1e-2, weight_decay=1e-3),
    "adamw": lambda ps: gc.optim.AdamW(ps, lr=1e-2),
    "rmsprop": lambda ps: gc.optim.RMSprop(ps, lr=1e-3, momentum=0.5, centered=True),
    "adagrad": lambda ps: gc.optim.Adagrad(ps, lr=1e-2, lr_decay=1e-3),
    "adadelta": lambda ps: gc.optim.Adadelta(ps, weight_decay=1e-3),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizers_with_schedule_and_clipping(dtype, name):
    assert_same(_classifier(mlp(), opt=OPTIMIZERS[name], steps=60,
                            sched=lambda o: gc.optim.lr_scheduler.StepLR(o, 7, gamma=0.7),
                            clip=lambda ps: gc.nn.utils.clip_grad_norm_(ps, 0.5)), 60, dtype)


@pytest.mark.parametrize("zero", ["start", "end", "never"])
def test_zero_grad_placement(zero):
    """zero_grad at the start, at the end, or never (gradients accumulate over calls)."""
    fn = assert_same(_classifier(mlp(), zero=zero, steps=20), 20)
    assert fn.traces <= 2


@pytest.mark.parametrize("loss", ["mse", "l1", "huber", "smooth_l1", "bce_logits", "bce", "kl",
                                  "nll"])
def test_losses(loss):
    kind = "ce" if loss == "nll" else loss
    setup = _classifier(mlp("tanh"), loss=kind, steps=40)
    if loss == "nll":
        setup = _classifier(mlp("tanh"), loss="nll", steps=40)
        setup = _with_labels(setup)
    assert_same(setup, 40)


def _with_labels(setup):
    def wrapped(dtype):
        model, opt, step, xs, _, extras = setup(dtype)
        ys = batches(16, (), len(xs), seed=2, kind="labels")
        return model, opt, step, xs, ys, extras
    return wrapped


@pytest.mark.parametrize("dtype", DTYPES)
def test_batchnorm_train_then_eval(dtype):
    def layers(dt):
        return gc.nn.Sequential(gc.nn.Linear(6, 8, dtype=dt), gc.nn.BatchNorm1d(8, dtype=dt),
                                gc.nn.ReLU(), gc.nn.Linear(8, 3, dtype=dt))
    bn_buffers = lambda m: [m[1].running_mean, m[1].running_var, m[1].num_batches_tracked]  # noqa: E731
    assert_same(_classifier(layers, extras=bn_buffers, steps=50), 50, dtype)


def test_batchnorm_eval_mode_forward():
    gc.manual_seed(0)
    bn = gc.nn.BatchNorm1d(4)
    bn.running_mean.copy_(gc.randn(4))
    bn.eval()
    f = gc.compile(lambda x: bn(x) * 2)
    for seed in range(3):
        x = batches(5, (4,), 1, seed=seed)[0]
        assert (f(x).numpy() == (bn(x) * 2).numpy()).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_layernorm_dropout(dtype):
    def layers(dt):
        return gc.nn.Sequential(gc.nn.Linear(6, 8, dtype=dt), gc.nn.LayerNorm(8, dtype=dt),
                                gc.nn.Tanh(), gc.nn.Dropout(0.3), gc.nn.Linear(8, 3, dtype=dt))
    assert_same(_classifier(layers, steps=50), 50, dtype)


def test_embedding():
    class Net(gc.nn.Module):
        def __init__(self, dtype):
            super().__init__()
            self.emb = gc.nn.Embedding(10, 6, dtype=dtype)
            self.out = gc.nn.Linear(6, 3, dtype=dtype)

        def forward(self, idx):
            return self.out(self.emb(idx).mean(axis=1))

    def setup(dtype):
        model, opt_ = Net(dtype), None
        opt_ = gc.optim.Adam(list(model.parameters()), lr=1e-2)
        import numpy
        rng = numpy.random.default_rng(3)
        xs = [gc.tensor(rng.integers(0, 10, (8, 4))) for _ in range(30)]
        ys = batches(8, (), 30, seed=2, kind="labels")

        def step(x, y):
            opt_.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt_.step()
            return loss
        return model, opt_, step, xs, ys, lambda: []
    assert_same(setup, 30)


def test_random_draws_replayed_not_frozen():
    def setup(dtype):
        w = gc.nn.Parameter(gc.ones(5, dtype=dtype))
        model = gc.nn.Module()
        model.w = w
        opt = gc.optim.SGD([w], lr=0.1)
        xs = batches(1, (5,), 10, dtype=dtype)

        def step(x, y):
            opt.zero_grad()
            noise = gc.randn(5, dtype=dtype) + gc.rand(5, dtype=dtype)
            z = gc.empty(5, dtype=dtype)
            z.normal_()
            z.uniform_(-1, 1)
            loss = ((w * x[0] + noise + z) ** 2).sum()
            loss.backward()
            opt.step()
            return loss
        return model, opt, step, xs, xs, lambda: []
    assert_same(setup, 10)


class _Blocks(gc.nn.Module):
    """Containers, shape layers and the other activations in one model."""

    def __init__(self, dtype):
        super().__init__()
        self.blocks = gc.nn.ModuleList([gc.nn.Linear(6, 8, dtype=dtype),
                                        gc.nn.Linear(8, 8, bias=False, dtype=dtype)])
        self.acts = gc.nn.ModuleDict({"gelu": gc.nn.GELU(), "silu": gc.nn.SiLU(),
                                      "softplus": gc.nn.Softplus(), "lrelu": gc.nn.LeakyReLU(0.1),
                                      "sig": gc.nn.Sigmoid(), "id": gc.nn.Identity()})
        self.unflat, self.flat = gc.nn.Unflatten(1, (2, 4)), gc.nn.Flatten()
        self.head = gc.nn.Linear(8, 3, dtype=dtype)

    def forward(self, x):
        h = self.acts["gelu"](self.blocks[0](x)) + self.acts["silu"](x.sum(axis=1, keepdims=True))
        h = self.acts["softplus"](self.blocks[1](h)) * self.acts["sig"](h)
        h = self.flat(self.unflat(self.acts["lrelu"](h)))
        return self.acts["id"](self.head(h))


@pytest.mark.parametrize("dtype", DTYPES)
def test_containers_shape_layers_and_activations(dtype):
    assert_same(_classifier(_Blocks, steps=40), 40, dtype)


MODULE_LOSSES = {"mse": (gc.nn.MSELoss, "mse"), "ce": (gc.nn.CrossEntropyLoss, "ce"),
                 "bce_logits": (gc.nn.BCEWithLogitsLoss, "mse"), "l1": (gc.nn.L1Loss, "mse"),
                 "smooth_l1": (gc.nn.SmoothL1Loss, "mse"), "huber": (gc.nn.HuberLoss, "mse")}


@pytest.mark.parametrize("name", sorted(MODULE_LOSSES))
def test_module_losses(name):
    make, kind = MODULE_LOSSES[name]

    def setup(dtype):
        model, opt, _, xs, ys, extras = _classifier(mlp("tanh"), loss=kind, steps=30)(dtype)
        criterion = make()

        def step(x, y):
            opt.zero_grad()
            out = model(x)
            loss = criterion(out, y.sigmoid() if name == "bce_logits" else y)
            loss.backward()
            opt.step()
            return loss
        return model, opt, step, xs, ys, extras
    assert_same(setup, 30)


SCHEDULES = {
    "cosine": lambda o: gc.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10),
    "warmup": lambda o: gc.optim.lr_scheduler.LinearWarmup(o, warmup_steps=5),
    "onecycle": lambda o: gc.optim.lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=40),
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedules_and_value_clipping(name):
    assert_same(_classifier(mlp(), opt=OPTIMIZERS["momentum"], steps=40, sched=SCHEDULES[name],
                            clip=lambda ps: gc.nn.utils.clip_grad_value_(ps, 0.01)), 40)


def test_loss_terms_l2_penalty_and_a_scaled_loss():
    """The gradient reaching a loss is not always 1 (a squared or weighted loss, an L2 term):
    cross_entropy's backward once froze it in the recording."""
    def setup(dtype):
        model, opt, _, xs, ys, extras = _classifier(mlp(), steps=30)(dtype)

        def step(x, y):
            opt.zero_grad()
            ce = F.cross_entropy(model(x), y)
            loss = ce * ce + 0.5 * ce + F.l2_penalty(model.parameters(), 1e-3)
            loss.backward()
            opt.step()
            return loss
        return model, opt, step, xs, ys, extras
    assert_same(setup, 30)


@pytest.mark.parametrize("name", ["gelu", "erf"])
def test_erf_family_replays_values_the_trace_did_not_see(name):
    # the erf twin gathered |x| > 4 by a value-dependent mask and read its input through
    # np.asarray: a replay then reused the trace's values (and would change shape)
    f = gc.nn.functional.gelu if name == "gelu" else gc.erf
    w = gc.tensor(np.linspace(-1.0, 1.0, 6), requires_grad=True)

    def step(x):
        y = f(x * w).sum()
        y.backward()
        g, w.grad = w.grad, None
        return y, g

    compiled = gc.compile(step)
    for scale in (0.5, 3.0, 10.0):  # traced at 0.5: no element beyond |x| = 4
        x = gc.tensor(np.random.default_rng(int(scale)).standard_normal(6) * scale)
        (y0, g0), (y1, g1) = step(x), compiled(x)
        np.testing.assert_array_equal(y1.numpy(), y0.numpy())
        np.testing.assert_array_equal(g1.numpy(), g0.numpy())
