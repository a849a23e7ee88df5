"""Plain safetensors files (written byte by byte from the format's spec, so CI needs neither
torch nor safetensors), and checkpoints through file objects with every limit still checked."""
import io
import json
import struct

import numpy
import pytest

import gradcore as gc
from gradcore import safetensors_format as st
from gradcore.io import CheckpointError


def _plain(entries, metadata=None):
    """A safetensors file as another tool writes it: entries are (name, code, shape, bytes)."""
    header, offset = {}, 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, code, shape, data in entries:
        header[name] = {"dtype": code, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    blob = json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)
    return struct.pack("<Q", len(blob)) + blob + b"".join(e[3] for e in entries)


def _le(values, dtype):
    return numpy.asarray(values, dtype=numpy.dtype(dtype).newbyteorder("<")).tobytes()


def test_plain_files_load_as_a_flat_dict_of_tensors(tmp_path):
    entries = [("0.weight", "F32", [2, 2], _le([[1, 2], [3, 4]], "f4")),
               ("0.bias", "F64", [2], _le([0.5, -0.5], "f8")),
               ("half", "F16", [1], _le([1.5], "f2")), ("steps", "I64", [], _le(7, "i8")),
               ("i32", "I32", [1], _le([-3], "i4")), ("i16", "I16", [1], _le([-2], "i2")),
               ("i8", "I8", [1], _le([-1], "i1")), ("u8", "U8", [2], bytes([0, 255])),
               ("mask", "BOOL", [2], bytes([1, 0]))]
    path = tmp_path / "model.safetensors"
    path.write_bytes(_plain(entries, {"format": "pt"}))
    state = gc.load(path, device="cpu")
    assert list(state) == [e[0] for e in entries]  # the file's order
    assert all(isinstance(t, gc.Tensor) and not t.requires_grad for t in state.values())
    assert state["0.weight"].dtype == numpy.float32 and state["0.weight"].tolist() == [[1, 2], [3, 4]]
    assert state["0.bias"].tolist() == [0.5, -0.5] and state["half"].dtype == numpy.float16
    assert state["steps"].shape == () and state["steps"].item() == 7
    assert [state[k].item() for k in ("i32", "i16", "i8")] == [-3, -2, -1]
    assert state["u8"].tolist() == [0, 255] and state["mask"].tolist() == [True, False]


def test_load_state_dict_takes_a_plain_file(tmp_path):
    lin = gc.nn.Linear(2, 2, device="cpu")
    w, b = numpy.array([[1, 2], [3, 4]], "f4"), numpy.array([5, 6], "f4")
    path = tmp_path / "linear.safetensors"
    path.write_bytes(_plain([("weight", "F32", [2, 2], _le(w, "f4")),
                             ("bias", "F32", [2], _le(b, "f4"))]))
    lin.load_state_dict(gc.load(path, device="cpu"))
    assert lin.weight.tolist() == w.tolist() and lin.bias.tolist() == b.tolist()


def test_bfloat16_is_widened_to_float32_exactly_with_a_warning(tmp_path):
    values = numpy.array([1.0, -2.5, 3.140625, 2.0 ** 100, numpy.inf], numpy.float32)
    bits = (values.view(numpy.uint32) >> 16).astype("<u2")  # these values are exact in bfloat16
    path = tmp_path / "bf16.safetensors"
    path.write_bytes(_plain([("w", "BF16", [5], bits.tobytes())]))
    with pytest.warns(UserWarning, match=r"bfloat16 tensor\(s\) 'w' widened to float32"):
        state = gc.load(path, device="cpu")
    assert state["w"].dtype == numpy.float32
    assert state["w"].numpy().tolist() == values.tolist()


def test_unknown_dtypes_are_refused_naming_what_is_read(tmp_path):
    path = tmp_path / "f8.safetensors"
    path.write_bytes(_plain([("w", "F8_E4M3", [2], b"\0\0")]))
    with pytest.raises(CheckpointError, match=r"unknown dtype 'F8_E4M3' \(gradcore reads F16, "):
        gc.load(path, device="cpu")


def test_save_and_load_through_file_objects(tmp_path):
    state = {"w": gc.tensor([1.0, 2.0], device="cpu", requires_grad=True), "step": 3}
    buf = io.BytesIO(b"prefix")
    buf.seek(6)
    gc.save(state, buf)
    end = buf.tell()
    buf.seek(6)  # read from the current position
    back = gc.load(buf, device="cpu")
    assert back["step"] == 3 and back["w"].tolist() == [1.0, 2.0] and back["w"].requires_grad
    assert buf.tell() == end  # left just after the checkpoint
    path = tmp_path / "ckpt.safetensors"
    with open(path, "wb") as f:
        gc.save(state, f)
    with open(path, "rb") as f:
        assert gc.load(f, device="cpu")["step"] == 3
    assert path.read_bytes() == buf.getvalue()[6:]  # the same bytes as a path save


def test_file_objects_keep_every_limit_and_refusal(monkeypatch):
    buf = io.BytesIO()
    gc.save({"w": numpy.zeros(1000)}, buf)
    monkeypatch.setitem(st.LIMITS, "header_bytes", 16)
    buf.seek(0)
    with pytest.raises(CheckpointError, match=r"<BytesIO>: header length \d+ exceeds the 16-byte"):
        gc.load(buf)
    with pytest.raises(CheckpointError, match="<BytesIO>: this is a pickle file"):
        gc.load(io.BytesIO(b"\x80\x04\x95" + b"\0" * 20))
    with pytest.raises(CheckpointError, match="<BytesIO>: the file is truncated"):
        gc.load(io.BytesIO(b"\x10\0"))


def test_text_mode_and_unseekable_files_are_refused(tmp_path):
    with open(tmp_path / "t.txt", "w") as f:
        with pytest.raises(TypeError, match="text mode; open it with 'wb'"):
            gc.save({"a": 1}, f)
    (tmp_path / "t.txt").write_text("hello world, not a checkpoint")
    with open(tmp_path / "t.txt") as f:
        with pytest.raises(TypeError, match="text mode; open it with 'rb'"):
            gc.load(f)

    class Pipe(io.RawIOBase):
        def readable(self):
            return True

    with pytest.raises(TypeError, match="not seekable"):
        gc.load(Pipe())


def test_files_written_by_the_safetensors_package(tmp_path):
    numpy_st = pytest.importorskip("safetensors.numpy")
    a = numpy.arange(6, dtype=numpy.float32).reshape(2, 3)
    path = tmp_path / "np.safetensors"
    numpy_st.save_file({"a": a, "b": numpy.array([1, 2], numpy.int64)}, str(path),
                       metadata={"k": "v"})
    state = gc.load(path, device="cpu")
    assert state["a"].tolist() == a.tolist() and state["b"].tolist() == [1, 2]
    ours = tmp_path / "ours.safetensors"
    gc.save({"w": gc.tensor(a, device="cpu")}, ours)
    assert numpy_st.load_file(str(ours))["w"].tolist() == a.tolist()  # and the other way


def test_files_written_by_safetensors_torch_with_bfloat16(tmp_path):
    torch = pytest.importorskip("torch")
    torch_st = pytest.importorskip("safetensors.torch")
    model = torch.nn.Linear(3, 2)
    path = tmp_path / "torch.safetensors"
    torch_st.save_file({k: v.to(torch.bfloat16) for k, v in model.state_dict().items()}, str(path))
    with pytest.warns(UserWarning, match="bfloat16"):
        state = gc.load(path, device="cpu")
    expected = model.weight.detach().to(torch.bfloat16).float().numpy()
    assert state["weight"].dtype == numpy.float32
    numpy.testing.assert_array_equal(state["weight"].numpy(), expected)
    lin = gc.nn.Linear(3, 2, device="cpu")
    lin.load_state_dict(state)
    assert lin.bias.tolist() == model.bias.detach().to(torch.bfloat16).float().tolist()
