"""DLPack both ways: zero copy, proven by writing through one side and reading the other."""
import numpy
import pytest

import gradcore as gc


def test_numpy_reads_and_writes_a_tensors_memory():
    t = gc.tensor([1.0, 2.0, 3.0], device="cpu")
    a = numpy.from_dlpack(t)
    assert t.__dlpack_device__() == (1, 0)
    a[0] = 7.0  # NumPy's view is writable (versioned DLPack), and it is the tensor's memory
    assert t.tolist() == [7.0, 2.0, 3.0]
    t.array[1] = 8.0
    assert a.tolist() == [7.0, 8.0, 3.0]


def test_from_dlpack_shares_a_numpy_arrays_memory():
    a = numpy.arange(6, dtype=numpy.float32).reshape(2, 3)
    t = gc.from_dlpack(a)
    assert isinstance(t, gc.Tensor) and t.device == "cpu" and not t.requires_grad
    assert t.dtype == numpy.float32 and t.shape == (2, 3)
    a[1, 2] = -1.0
    assert t.tolist()[1][2] == -1.0
    t.array[0, 0] = 9.0
    assert a[0, 0] == 9.0


def test_from_dlpack_of_a_tensor_and_to_another_device_copies_only_then():
    t = gc.tensor([1.0, 2.0], device="cpu")
    u = gc.from_dlpack(t)
    u.array[0] = 5.0
    assert t.tolist() == [5.0, 2.0]
    v = gc.from_dlpack(t, device="cpu")  # already there: still the same memory
    assert numpy.shares_memory(v.array, t.array)


def test_a_tensor_that_requires_grad_is_not_exported():
    t = gc.tensor([1.0], requires_grad=True)
    with pytest.raises(BufferError, match=r"requires grad.*t\.detach\(\)"):
        numpy.from_dlpack(t)
    assert numpy.from_dlpack(t.detach()).tolist() == [1.0]


def test_read_only_arrays_export_read_only_or_as_a_copy():
    ro = numpy.arange(3.0)
    ro.flags.writeable = False
    t = gc.Tensor(ro)
    assert not t.array.flags.writeable  # the Tensor wraps it as given
    a = numpy.from_dlpack(t)  # versioned DLPack marks it read-only: same memory
    assert numpy.shares_memory(a, ro) and not a.flags.writeable
    capsule = t.__dlpack__()  # an unversioned consumer cannot be told "read-only": a copy
    assert type(capsule).__name__ == "PyCapsule"
    with pytest.raises(BufferError, match="read-only"):
        t.__dlpack__(copy=False)


def test_from_dlpack_refuses_what_has_no_dlpack():
    with pytest.raises(TypeError, match="from_dlpack: expected an array with __dlpack__"):
        gc.from_dlpack([1.0, 2.0])


def test_torch_shares_memory_both_ways():
    torch = pytest.importorskip("torch")
    t = gc.tensor([1.0, 2.0, 3.0], device="cpu")
    tt = torch.from_dlpack(t)
    tt[0] = 10.0
    assert t.tolist() == [10.0, 2.0, 3.0]
    src = torch.zeros(2, 2, dtype=torch.float64)
    g = gc.from_dlpack(src)
    assert g.dtype == numpy.float64 and g.shape == (2, 2)
    src[1, 1] = 4.0
    assert g.tolist() == [[0.0, 0.0], [0.0, 4.0]]
    g.array[0, 1] = 2.0
    assert src[0, 1].item() == 2.0
    with pytest.raises((BufferError, RuntimeError), match="grad"):
        gc.from_dlpack(torch.ones(2, requires_grad=True))


@pytest.mark.gpu
@pytest.mark.skipif(not gc.cuda.is_available(), reason="needs a GPU")
def test_gpu_dlpack_round_trip_with_cupy():
    t = gc.tensor([1.0, 2.0], device="cuda")
    if not hasattr(t.array, "__dlpack__"):
        pytest.skip("the host stand-in for CuPy has no DLPack: unverified without a GPU")
    cupy = t.device.xp
    a = cupy.from_dlpack(t)
    a[0] = 3.0
    assert t.tolist() == [3.0, 2.0] and t.__dlpack_device__()[0] == 2
    u = gc.from_dlpack(a)
    assert u.device == t.device and u.array.data.ptr == t.array.data.ptr
