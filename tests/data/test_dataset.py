"""Dataset, TensorDataset, collate, and DataLoader(dataset, ...) in PyTorch's form."""
import numpy
import pytest

import gradcore as gc
from gradcore.data import DataLoader, Dataset, TensorDataset, collate


class Pairs(Dataset):
    """Sample i: (a (2,) float32 array, the int i, a 0-d Tensor 0.5 * i)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return numpy.array([i, -i], dtype=numpy.float32), i, gc.tensor(0.5 * i, dtype="float64")


def test_tensor_dataset_indexing_and_checks(device):
    x, y = gc.arange(12, device=device).reshape(6, 2), gc.tensor([0, 1, 2, 3, 4, 5], device=device)
    ds = TensorDataset(x, y)
    assert len(ds) == 6 and ds[2][0].tolist() == [4, 5] and ds[2][1].item() == 2
    assert [t.shape for t in ds[1:3]] == [(2, 2), (2,)]
    with pytest.raises(ValueError, match=r"TensorDataset: tensors must have the same first .* \[\(6, 2\), \(5,\)\]"):
        TensorDataset(x, y[:5])
    with pytest.raises(ValueError, match="at least one tensor"):
        TensorDataset()


@pytest.mark.parametrize("shuffle", [False, True])
def test_loader_over_tensor_dataset_is_the_array_form(shuffle, device):
    x = numpy.arange(30.0).reshape(10, 3)
    y = numpy.arange(10)
    ds = TensorDataset(x, y)
    a = DataLoader(ds, batch_size=3, shuffle=shuffle, seed=4, device=device)
    b = DataLoader(x, y, batch_size=3, shuffle=shuffle, seed=4, device=device)
    assert a.dataset is ds and isinstance(b.dataset, TensorDataset) and len(b.dataset) == 10
    for (xa, ya), (xb, yb) in zip(a, b):
        numpy.testing.assert_array_equal(xa.numpy(), xb.numpy())
        numpy.testing.assert_array_equal(ya.numpy(), yb.numpy())
        assert xa.device == gc.device(device)
    assert len(DataLoader(ds)) == 10  # batch_size defaults to 1 for a Dataset, as PyTorch
    assert len(DataLoader(x, y)) == 1  # and stays 32 for arrays


@pytest.mark.parametrize("shuffle", [False, True])
def test_loader_over_a_general_dataset(shuffle, device):
    loader = DataLoader(Pairs(7), batch_size=3, shuffle=shuffle, seed=1, device=device)
    assert len(loader) == 3 and loader.dataset.n == 7
    seen = []
    for xb, ib, hb in loader:
        assert xb.dtype == numpy.float32 and ib.dtype == numpy.int64 and hb.dtype == numpy.float64
        assert xb.device == gc.device(device) and xb.shape == (len(ib), 2)
        numpy.testing.assert_array_equal(xb.numpy()[:, 0], ib.numpy())  # fields stay paired
        numpy.testing.assert_array_equal(hb.numpy(), 0.5 * ib.numpy())
        seen += ib.tolist()
    assert sorted(seen) == list(range(7)) and (seen == list(range(7))) != shuffle
    assert len(DataLoader(Pairs(7), batch_size=3, drop_last=True)) == 2


def test_general_dataset_resumes_like_arrays():
    a = DataLoader(Pairs(9), batch_size=2, shuffle=True, seed=3, device="cpu")
    it = iter(a)
    next(it)
    b = DataLoader(Pairs(9), batch_size=2, shuffle=True, seed=0, device="cpu")
    b.load_state_dict(a.state_dict())
    assert [i.tolist() for _, i, _ in b] == [i.tolist() for _, i, _ in it]


def test_same_order_as_array_form_for_one_seed():
    # A Dataset is shuffled with the same permutation as arrays, for one seed.
    arr = DataLoader(numpy.arange(9), batch_size=2, shuffle=True, seed=5, device="cpu")
    ds = DataLoader(Pairs(9), batch_size=2, shuffle=True, seed=5, device="cpu")
    assert [b.tolist() for (b,) in arr] == [i.tolist() for _, i, _ in ds]


def test_collate_and_errors():
    assert [f.tolist() for f in collate([1, 2, 3])] == [[1, 2, 3]]
    with pytest.raises(ValueError, match=r"collate: field 0 has samples of different shapes \[\(1,\), \(2,\)\]"):
        collate([numpy.zeros(1), numpy.zeros(2)])
    with pytest.raises(TypeError, match="collate: field 1 is a str"):
        collate([(1, "a"), (2, "b")])
    with pytest.raises(TypeError, match="samples must all be tuples of 2 fields"):
        collate([(1, 2), (3,)])
    with pytest.raises(TypeError, match="DataLoader: a Dataset comes alone"):
        DataLoader(Pairs(3), numpy.zeros(3))
    with pytest.raises(ValueError, match="DataLoader: batch_size must be a positive int"):
        DataLoader(Pairs(3), batch_size=0)
    with pytest.raises(ValueError, match="the dataset Pairs is empty"):
        DataLoader(Pairs(0))
    with pytest.raises(NotImplementedError, match="Dataset must define __len__"):
        len(Dataset())


def test_matches_torch_tensor_dataset_order_free():
    torch = pytest.importorskip("torch")
    x = numpy.arange(20.0).reshape(10, 2)
    y = numpy.arange(10)
    tl = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y)),
                                     batch_size=4)
    gl = DataLoader(TensorDataset(x, y), batch_size=4, device="cpu")
    for (tx, ty), (gx, gy) in zip(tl, gl):
        numpy.testing.assert_array_equal(gx.numpy(), tx.numpy())
        assert gy.dtype == numpy.int64 and gy.tolist() == ty.tolist()
    assert len(gl) == len(tl)
