"""PyTorch takes gradcore tensors: torch.tensor(t), torch functions, state dicts both ways."""
import numpy
import pytest

import gradcore as gc

torch = pytest.importorskip("torch")


def test_torch_tensor_copies_a_gradcore_tensor():
    t = gc.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=numpy.float32, device="cpu")
    tt = torch.tensor(t)  # was: TypeError "len() of a 0-d tensor"
    assert tt.dtype == torch.float32 and tt.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    tt[0, 0] = 5.0  # torch.tensor copies
    assert t.tolist()[0][0] == 1.0
    assert torch.tensor(gc.tensor(2.5)).item() == 2.5  # 0-d
    assert torch.as_tensor(gc.tensor([1, 2])).dtype == torch.int64


def test_torch_functions_take_gradcore_tensors():
    x = gc.tensor([1.0, 2.0], device="cpu")
    y = torch.add(x, torch.ones(2, dtype=torch.float64))
    assert isinstance(y, torch.Tensor) and y.tolist() == [2.0, 3.0]
    w = torch.zeros(2, dtype=torch.float64)
    with torch.no_grad():
        w.copy_(x)
    assert w.tolist() == [1.0, 2.0]
    with pytest.raises(TypeError, match=r"requires grad .*t\.detach\(\)"):
        torch.add(gc.tensor([1.0], requires_grad=True), 1)


def _mlps():
    gm = gc.nn.Sequential(gc.nn.Linear(4, 8), gc.nn.ReLU(), gc.nn.Linear(8, 3))
    tm = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    return gm, tm


def _outputs(gm, tm):
    x = numpy.random.default_rng(0).standard_normal((5, 4)).astype(numpy.float32)
    return gm(gc.tensor(x, device="cpu")).numpy(), tm(torch.from_numpy(x)).detach().numpy()


def test_torch_module_loads_a_gradcore_state_dict():
    gm, tm = _mlps()
    gm.to("cpu")
    ours, theirs = _outputs(gm, tm)
    assert not numpy.allclose(ours, theirs)
    tm.load_state_dict(gm.state_dict())  # was: "expected torch.Tensor or Tensor-like object"
    ours, theirs = _outputs(gm, tm)
    numpy.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)


def test_gradcore_module_loads_a_torch_state_dict():
    gm, tm = _mlps()
    gm.to("cpu")
    gm.load_state_dict(tm.state_dict())
    ours, theirs = _outputs(gm, tm)
    numpy.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)
    assert gm[0].weight.requires_grad  # still a parameter, data replaced in place
