"""Initializers: statistics, gains, determinism."""
import math

import numpy as np
import pytest

import gradcore as gc
from gradcore.nn import init


def test_gains():
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    with pytest.raises(ValueError, match="nonlinearity"):
        init.calculate_gain("swish")


@pytest.mark.parametrize("fn, expected_std", [
    (lambda t: init.xavier_uniform_(t), math.sqrt(2 / 1000)),
    (lambda t: init.xavier_normal_(t), math.sqrt(2 / 1000)),
    (lambda t: init.kaiming_uniform_(t), math.sqrt(2 / 400)),
    (lambda t: init.kaiming_normal_(t), math.sqrt(2 / 400)),
    (lambda t: init.normal_(t, 0, 0.3), 0.3),
    (lambda t: init.uniform_(t, -1, 1), 1 / math.sqrt(3)),
])
def test_statistics(fn, expected_std):
    t = gc.empty(600, 400)
    fn(t)
    assert abs(t.numpy().std() - expected_std) / expected_std < 0.02
    assert abs(t.numpy().mean()) < 0.01


def test_seeded_and_fills():
    gc.manual_seed(5)
    a = init.normal_(gc.empty(3, 3)).numpy().copy()
    gc.manual_seed(5)
    b = init.normal_(gc.empty(3, 3)).numpy()
    np.testing.assert_array_equal(a, b)
    assert not init.zeros_(gc.ones(2)).numpy().any()
    assert (init.constant_(gc.zeros(2), 7).numpy() == 7).all()
    with pytest.raises(ValueError, match="2 dimensions"):
        init.xavier_uniform_(gc.empty(3))


@pytest.mark.parametrize("shape", [(4, 4), (3, 7), (7, 3), (4, 2, 3)])
def test_orthogonal(shape, device):
    t = init.orthogonal_(gc.empty(shape, dtype="float64", device=device), gain=2.0)
    w = t.numpy().reshape(shape[0], -1)
    small = min(w.shape)
    gram = w @ w.T if w.shape[0] == small else w.T @ w  # the fewer vectors are orthonormal
    np.testing.assert_allclose(gram, 4.0 * np.eye(small), atol=1e-12)
    gc.manual_seed(1)
    a = init.orthogonal_(gc.empty(shape, dtype="float64")).numpy().copy()
    gc.manual_seed(1)
    np.testing.assert_array_equal(init.orthogonal_(gc.empty(shape, dtype="float64")).numpy(), a)
    with pytest.raises(ValueError, match="orthogonal_: needs a tensor of at least 2 dimensions"):
        init.orthogonal_(gc.empty(3, device=device))


def test_orthogonal_is_haar_distributed():
    # Signs fixed by R's diagonal: the mean of many draws is 0 (without it, QR's convention
    # biases the diagonal; torch fixes the signs in the same way).
    draws = np.stack([init.orthogonal_(gc.empty(3, 3, dtype="float64")).numpy() for _ in range(400)])
    assert np.abs(draws.mean(0)).max() < 0.12
    torch = pytest.importorskip("torch")
    tw = torch.nn.init.orthogonal_(torch.empty(3, 5, dtype=torch.float64), gain=0.5)
    gw = init.orthogonal_(gc.empty(3, 5, dtype="float64"), gain=0.5).numpy()
    np.testing.assert_allclose(gw @ gw.T, (tw @ tw.T).numpy(), atol=1e-12)  # same properties
