"""Determinism: one seed, bit-identical training (what is and is not deterministic on a GPU is
written in the docstring of gradcore.rng.manual_seed)."""
import numpy as np
import pytest

import gradcore as gc
from gradcore.train import TrainConfig, run

F = gc.nn.functional


def _quiet(*args):
    pass


def _job(tmp_path, name, **overrides):
    cfg = dict(hidden=(32,), epochs=2, batch_size=32, limit=600, progress=False, device="cpu",
               checkpoint=str(tmp_path / f"{name}.ckpt"))
    result = run(TrainConfig(**{**cfg, **overrides}), log=_quiet)
    return result, gc.load(tmp_path / f"{name}.ckpt", device="cpu")


def _arrays(tree):
    """Every array in a nested checkpoint, by path."""
    out = {}

    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{path}/{k}")
        elif isinstance(node, (list, tuple)):
            for i, v in enumerate(node):
                walk(v, f"{path}/{i}")
        elif isinstance(node, gc.Tensor):
            out[path] = node.numpy()
        elif isinstance(node, np.ndarray):
            out[path] = node
    walk(tree, "")
    return out


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_same_seed_gives_bit_identical_train_runs(tmp_path, optimizer):
    lr = 0.05 if optimizer == "sgd" else 0.003
    a, ckpt_a = _job(tmp_path, "a", optimizer=optimizer, lr=lr, seed=3)
    b, ckpt_b = _job(tmp_path, "b", optimizer=optimizer, lr=lr, seed=3)
    for row_a, row_b in zip(a["history"], b["history"]):
        row_a.pop("samples_per_s"), row_b.pop("samples_per_s")  # wall-clock, not results
        assert row_a == row_b
    arrays_a, arrays_b = _arrays(ckpt_a), _arrays(ckpt_b)
    assert arrays_a.keys() == arrays_b.keys() and any("/model/" in k for k in arrays_a)
    for k in arrays_a:  # parameters, optimizer state, data-loader state: all bit for bit
        assert np.array_equal(arrays_a[k], arrays_b[k]), k


def test_a_different_seed_gives_a_different_run(tmp_path):
    _, ckpt_a = _job(tmp_path, "a", seed=0, epochs=1)
    _, ckpt_b = _job(tmp_path, "b", seed=1, epochs=1)
    w_a, w_b = ckpt_a["model"]["0.weight"].numpy(), ckpt_b["model"]["0.weight"].numpy()
    assert not np.array_equal(w_a, w_b)


def _manual_run(device, seed):
    """A hand-written loop over everything random: init, shuffling, a random projection."""
    gc.manual_seed(seed)
    rng = np.random.default_rng(100)
    x, y = rng.standard_normal((96, 12)).astype(np.float32), rng.integers(0, 3, 96)
    model = gc.nn.MLP([12, 16, 16, 3], activation="tanh", device=device)
    opt = gc.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    loader = gc.data.DataLoader(x, y, batch_size=16, shuffle=True, device=device)
    noise = gc.randn(12, 12, device=device) * 0.1
    for _ in range(3):
        for xb, yb in loader:
            opt.zero_grad()
            F.cross_entropy(model(xb + xb @ noise), yb).backward()
            opt.step()
    return [p.numpy().copy() for p in model.parameters()]


def test_same_seed_gives_bit_identical_manual_loops(device):
    """On a GPU this holds as well: matmuls (cuBLAS, fixed configuration), the fused kernels and
    the reductions used here are deterministic; nothing here scatters with atomics."""
    first, second = _manual_run(device, 7), _manual_run(device, 7)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert not all(np.array_equal(a, b) for a, b in zip(first, _manual_run(device, 8)))
