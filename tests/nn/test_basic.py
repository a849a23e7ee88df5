"""Flatten, Unflatten, Dropout, Embedding: shapes, seeded masks, gradients, PyTorch parity."""
import numpy as np
import pytest

import gradcore as gc
from gradcore.nn import functional as F
from tests.helpers import gradcheck2, randn


def test_flatten_and_unflatten_shapes(device):
    x = gc.zeros((2, 3, 4, 5), device=device)
    assert gc.nn.Flatten()(x).shape == (2, 60)
    assert gc.nn.Flatten(0, -1)(x).shape == (120,)
    assert gc.nn.Flatten(1, 2)(x).shape == (2, 12, 5)
    assert gc.nn.Flatten(-2)(x).shape == (2, 3, 20)
    assert gc.nn.Flatten(0)(gc.zeros((), device=device)).shape == (1,)  # as PyTorch
    assert gc.nn.Unflatten(1, (3, 4))(gc.zeros((2, 12), device=device)).shape == (2, 3, 4)
    assert gc.nn.Unflatten(-1, (2, -1))(gc.zeros((2, 12), device=device)).shape == (2, 2, 6)
    with pytest.raises(ValueError, match="Unflatten: cannot split dim 1 of size 12"):
        gc.nn.Unflatten(1, (5, 2))(gc.zeros((2, 12), device=device))
    with pytest.raises(ValueError, match="flatten: start_dim 4 is out of range"):
        gc.nn.Flatten(4)(x)
    with pytest.raises(ValueError, match="flatten: start_dim 2 comes after end_dim 1"):
        gc.nn.Flatten(2, 1)(x)


def test_flatten_function_and_method_take_torch_dims(device):
    x = gc.arange(24, dtype="float64", device=device).reshape(2, 3, 4)
    assert gc.flatten(x).shape == (24,) and x.flatten().shape == (24,)  # NumPy's default
    assert gc.flatten(x, 1).shape == (2, 12) and x.flatten(1).shape == (2, 12)
    assert x.flatten(0, 1).shape == (6, 4) and x.flatten(-2, -1).shape == (2, 12)
    assert gc.flatten(gc.tensor(3.0, device=device)).shape == (1,)
    np.testing.assert_array_equal(x.flatten(1).numpy(), x.numpy().reshape(2, 12))
    with pytest.raises(TypeError, match="flatten: start_dim must be an integer.*order="):
        x.flatten("F")


def test_flatten_roundtrip_gradient(device):
    x = randn((2, 3, 4), device)
    f = lambda x: gc.nn.Unflatten(1, (3, 4))(gc.nn.Flatten()(x)) ** 2  # noqa: E731
    assert gc.gradcheck(f, (x,))


def test_flatten_unflatten_match_torch():
    torch = pytest.importorskip("torch")
    a = np.arange(120.0).reshape(2, 3, 4, 5)
    for s, e in [(1, -1), (0, 2), (-3, -2)]:
        np.testing.assert_array_equal(gc.nn.Flatten(s, e)(gc.tensor(a)).numpy(),
                                      torch.nn.Flatten(s, e)(torch.tensor(a)).numpy())
    np.testing.assert_array_equal(gc.nn.Unflatten(2, (2, 2))(gc.tensor(a)).numpy(),
                                  torch.nn.Unflatten(2, (2, 2))(torch.tensor(a)).numpy())


def test_dropout_is_inverted_seeded_and_device_independent(device):
    gc.manual_seed(3)
    x = gc.ones((200, 50), dtype="float64", device=device, requires_grad=True)
    y = F.dropout(x, p=0.3)
    a = y.numpy()
    assert set(np.unique(a)) == {0.0, 1 / 0.7}  # kept elements are scaled by 1 / (1 - p)
    assert abs((a == 0).mean() - 0.3) < 0.02
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), a)  # gradient: the same mask and scale
    gc.manual_seed(3)  # a seed gives the same mask, on any device (drawn on the host)
    np.testing.assert_array_equal(F.dropout(gc.ones((200, 50), dtype="float64"), p=0.3).numpy(), a)
    assert F.dropout(gc.ones(3, dtype="float16", device=device), p=0.5).dtype == np.float16


def test_dropout_module_modes_and_p(device):
    x = gc.ones(100, device=device)
    drop = gc.nn.Dropout(0.5)
    assert drop.training and (drop(x).numpy() == 0).any()
    assert drop.eval()(x) is x
    assert drop.train()(x) is not x
    assert gc.nn.Dropout(0.0)(x) is x
    np.testing.assert_array_equal(gc.nn.Dropout(1.0)(x).numpy(), np.zeros(100))  # not nan
    for bad in (-0.1, 1.5, "0.5", True, None):
        with pytest.raises(ValueError, match="dropout probability"):
            gc.nn.Dropout(bad)
    with pytest.raises(ValueError, match="dropout: dropout probability"):
        F.dropout(x, p=2)
    with pytest.raises(TypeError, match="dropout: input must be floating"):
        F.dropout(gc.tensor([1, 2], device=device), p=0.5)


def test_embedding_gradient_accumulates_repeated_indices(device):
    w = randn((5, 3), device)
    idx = gc.tensor([[0, 2, 2], [4, 2, 0]], device=device)
    emb = gc.nn.Embedding(5, 3, dtype="float64", device=device)
    with gc.no_grad():
        emb.weight.copy_(w)
    y = emb(idx)
    assert y.shape == (2, 3, 3)
    np.testing.assert_array_equal(y.numpy(), w.numpy()[idx.numpy()])
    g = np.random.default_rng(1).standard_normal((2, 3, 3))
    y.backward(gc.tensor(g, device=device))
    ref = np.zeros((5, 3))
    np.add.at(ref, idx.numpy(), g)  # row 2 is used three times: three gradients add up
    np.testing.assert_allclose(emb.weight.grad.numpy(), ref, rtol=1e-12)
    assert gc.gradcheck(lambda w: F.embedding(idx, w) ** 2, (w,))
    assert gradcheck2(lambda w: F.embedding(idx, w) ** 3, (w,))


def test_embedding_errors(device):
    w = gc.zeros((4, 2), device=device)
    with pytest.raises(IndexError, match=r"embedding: indices must be in \[0, 4\)"):
        F.embedding(gc.tensor([0, 4], device=device), w)
    with pytest.raises(IndexError, match="embedding"):
        F.embedding(gc.tensor([-1], device=device), w)
    with pytest.raises(TypeError, match="embedding: indices must be integers"):
        F.embedding(gc.tensor([0.0], device=device), w)
    with pytest.raises(ValueError, match="Embedding: sizes must be positive"):
        gc.nn.Embedding(0, 3)


def test_embedding_init_and_torch_parity():
    gc.manual_seed(0)
    w = gc.nn.Embedding(1000, 20).weight.numpy()
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1) < 0.02  # N(0, 1), as PyTorch
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(0).standard_normal((6, 4))
    idx = np.array([[1, 5, 1], [0, 1, 3]])
    tw = torch.tensor(a, requires_grad=True)
    torch.nn.functional.embedding(torch.tensor(idx), tw).pow(2).sum().backward()
    gw = gc.tensor(a, requires_grad=True)
    (F.embedding(gc.tensor(idx), gw) ** 2).sum().backward()
    np.testing.assert_allclose(gw.grad.numpy(), tw.grad.numpy(), rtol=1e-12)


def test_dropout_accepts_numpy_probabilities():
    assert gc.nn.Dropout(np.float32(0.25)).p == 0.25
