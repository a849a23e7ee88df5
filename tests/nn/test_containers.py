"""ModuleList and ModuleDict: registration, state_dict keys as PyTorch's, list/dict behaviour."""
import numpy as np
import pytest

import gradcore as gc


class Stack(gc.nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = gc.nn.ModuleList([gc.nn.Linear(2, 2), gc.nn.Linear(2, 2, bias=False)])
        self.heads = gc.nn.ModuleDict({"cls": gc.nn.Linear(2, 3), "reg": gc.nn.Linear(2, 1)})

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return {k: h(x) for k, h in self.heads.items()}


KEYS = ["blocks.0.weight", "blocks.0.bias", "blocks.1.weight", "heads.cls.weight",
        "heads.cls.bias", "heads.reg.weight", "heads.reg.bias"]


def test_parameters_registered_and_keys(device):
    net = Stack().to(device)
    assert list(net.state_dict()) == KEYS
    assert len(list(net.parameters())) == 7
    out = net(gc.ones((4, 2), device=device))
    out["cls"].sum().backward()
    assert net.blocks[0].weight.grad is not None and net.heads["reg"].weight.grad is None


def test_state_dict_keys_match_torch():
    torch = pytest.importorskip("torch")

    class TStack(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = torch.nn.ModuleList([torch.nn.Linear(2, 2), torch.nn.Linear(2, 2, bias=False)])
            self.heads = torch.nn.ModuleDict({"cls": torch.nn.Linear(2, 3), "reg": torch.nn.Linear(2, 1)})

    assert list(TStack().state_dict()) == KEYS


def test_module_list_operations():
    a, b, c = gc.nn.ReLU(), gc.nn.Tanh(), gc.nn.Sigmoid()
    ml = gc.nn.ModuleList([a])
    ml.append(b).extend([c])
    assert list(ml) == [a, b, c] and len(ml) == 3 and ml[-1] is c
    assert list(ml[1:]) == [b, c] and isinstance(ml[1:], gc.nn.ModuleList)
    ml.insert(0, c)
    assert list(ml) == [c, a, b, c] and list(ml._modules) == ["0", "1", "2", "3"]
    del ml[0]
    assert list(ml) == [a, b, c] and list(ml._modules) == ["0", "1", "2"]
    ml[1] = c
    assert list(ml) == [a, c, c]
    with pytest.raises(IndexError, match="ModuleList: index 3 is out of range for 3"):
        ml[3]
    with pytest.raises(TypeError, match="ModuleList.append: the argument is a int"):
        ml.append(3)


def test_module_dict_operations():
    d = gc.nn.ModuleDict()
    d["a"] = gc.nn.ReLU()
    d.update([("b", gc.nn.Tanh())])
    assert list(d) == ["a", "b"] and "a" in d and len(d) == 2
    assert isinstance(d.pop("a"), gc.nn.ReLU) and list(d.keys()) == ["b"]
    del d["b"]
    assert len(d) == 0
    with pytest.raises(KeyError, match="no module under key 'x'"):
        del d["x"]
    with pytest.raises(KeyError, match="would hide an attribute"):
        d["keys"] = gc.nn.ReLU()
    with pytest.raises(KeyError, match="without '.'"):
        d["a.b"] = gc.nn.ReLU()
    with pytest.raises(TypeError, match="ModuleDict: value for 'c' is a str"):
        d["c"] = "relu"


def test_optimizer_trains_through_containers(device):
    gc.manual_seed(0)
    net = Stack().to(device)
    opt = gc.optim.SGD(net.parameters(), lr=0.1)
    x = gc.randn(8, 2, device=device)
    before = net.heads["cls"].weight.numpy().copy()
    (net(x)["cls"] ** 2).mean().backward()
    opt.step()
    assert not np.array_equal(net.heads["cls"].weight.numpy(), before)
