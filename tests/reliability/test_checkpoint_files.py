"""Bad checkpoint files: ``gc.load`` refuses truncated, corrupt, wrong-format and pickle-bearing
files with a CheckpointError (a ValueError) that names the file and the problem, never runs
code from them, and a model is untouched when its checkpoint cannot be read."""
import json
import math
import os
import pickle
import struct
import time
import zipfile

import numpy as np
import pytest

import gradcore as gc
import gradcore.io
from gradcore.io import CheckpointError
from tests.reliability.helpers import raw_checkpoint as _raw
from tests.reliability.helpers import refuse as _refuse
from tests.reliability.helpers import tensor_entry as _t


@pytest.fixture
def good(tmp_path):
    """The bytes of a real checkpoint (model and optimizer state) and the model it came from."""
    gc.manual_seed(0)
    model = gc.nn.MLP([3, 4, 2])
    opt = gc.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    gc.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3},
            tmp_path / "good.ckpt")
    return (tmp_path / "good.ckpt").read_bytes(), model


def _header(raw):
    n = struct.unpack("<Q", raw[:8])[0]
    return n, raw[8:8 + n].decode()


def _with_header(raw, text):
    """``raw`` with its JSON header replaced by ``text`` (padded to the same length)."""
    n, _ = _header(raw)
    assert len(text) <= n
    return raw[:8] + text.encode().ljust(n) + raw[8 + n:]


class _Sentinel:
    """Unpickling this would create a file: proof that nothing was unpickled if it is absent."""

    path = ""

    def __reduce__(self):
        return (open, (self.path, "w"))


def _pickle_bomb(path):
    _Sentinel.path = str(path)
    return pickle.dumps({"model": _Sentinel()})


def _zip_with_pickle(path):
    buf = path.with_suffix(".zip")
    with zipfile.ZipFile(buf, "w") as z:  # the layout of torch.save: a pickle inside a zip
        z.writestr("archive/data.pkl", _pickle_bomb(path))
    return buf.read_bytes()


def _npy():
    import io

    f = io.BytesIO()
    np.save(f, np.zeros(3))
    return f.getvalue()


def _plain_safetensors(metadata):
    header = json.dumps({"__metadata__": metadata,
                         "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + b"\0" * 8


BAD_FILES = [  # id, make bytes from (good bytes, sentinel path), words the message must have
    ("empty", lambda raw, s: b"", ["truncated", "0 bytes"]),
    ("four-bytes", lambda raw, s: raw[:4], ["truncated", "4 bytes"]),
    ("header-cut", lambda raw, s: raw[:40], ["header length", "beyond the file size (40 bytes)"]),
    ("data-cut", lambda raw, s: raw[:-6], ["outside", "truncated or corrupt"]),
    ("trailing-bytes", lambda raw, s: raw + b"junk", ["4 bytes after the last tensor"]),
    ("header-not-json", lambda raw, s: _with_header(raw, "{" + "x" * 20),
     ["not valid UTF-8 JSON"]),
    ("header-not-utf8", lambda raw, s: _with_header(raw, "{\"").replace(b'{"', b'{\xff', 1),
     ["not valid UTF-8 JSON"]),
    ("header-a-list", lambda raw, s: _with_header(raw, "[1, 2]"), ["not a gradcore checkpoint"]),
    ("huge-header-length", lambda raw, s: struct.pack("<Q", 2**62) + b"{}",
     ["header length 4611686018427387904"]),
    ("unknown-dtype", lambda raw, s: _with_header(raw, _header(raw)[1].replace(
        '"F32"', '"Q32"', 1)), ["unknown dtype 'Q32'"]),
    ("bad-offsets", lambda raw, s: _with_header(raw, _header(raw)[1].replace(
        '"data_offsets":[0,', '"data_offsets":[4,', 1)), ["data_offsets [4,"]),
    ("newer-version", lambda raw, s: _with_header(raw, _header(raw)[1].replace(
        '\\"version\\":1', '\\"version\\":7', 1)), ["format version 7", "upgrade gradcore"]),
    ("random-bytes", lambda raw, s: os.urandom(64), ["not a gradcore checkpoint"]),
    ("text-file", lambda raw, s: b"epoch,loss\n1,0.5\n", ["not a gradcore checkpoint"]),
    ("pickle", lambda raw, s: _pickle_bomb(s), ["pickle file", "never unpickled"]),
    ("pickle-protocol-2", lambda raw, s: pickle.dumps([1.0, 2.0], protocol=2), ["pickle file"]),
    ("zip-with-pickle", lambda raw, s: _zip_with_pickle(s), ["zip archive", "pickled objects"]),
    ("numpy-npy", lambda raw, s: _npy(), ["NumPy .npy file"]),
    ("plain-safetensors-bad-metadata", lambda raw, s: _plain_safetensors([1]),
     ["__metadata__ is not a JSON object"]),
]


@pytest.mark.parametrize("make, needles", [pytest.param(*c[1:], id=c[0]) for c in BAD_FILES])
def test_bad_checkpoint_files_are_refused_clearly(make, needles, good, tmp_path):
    raw, model = good
    before = {k: p.numpy().copy() for k, p in model.named_parameters()}
    sentinel = tmp_path / "code-ran"
    path = tmp_path / "bad.ckpt"
    path.write_bytes(make(raw, sentinel))
    with pytest.raises(CheckpointError) as info:
        model.load_state_dict(gc.load(path, device="cpu")["model"])
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert message.startswith(f"load: {path}: "), message  # names the file
    assert all(n in message for n in needles), message
    assert not sentinel.exists()  # nothing in the file was executed
    for k, p in model.named_parameters():  # the model is untouched
        np.testing.assert_array_equal(p.numpy(), before[k])


def test_every_truncation_of_a_checkpoint_is_refused(good, tmp_path):
    raw, _ = good
    path = tmp_path / "cut.ckpt"
    for n in range(0, len(raw), max(1, len(raw) // 97)):  # ~100 cut points, header and data
        path.write_bytes(raw[:n])
        with pytest.raises(CheckpointError):
            gc.load(path, device="cpu")


def test_missing_file_and_directory_raise_os_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        gc.load(tmp_path / "absent.ckpt")
    with pytest.raises(IsADirectoryError if os.name != "nt" else PermissionError):
        gc.load(tmp_path)


@pytest.mark.parametrize("length", [0x0280, 0x0380, 0x0480, 0x0580])
def test_a_truncated_checkpoint_is_not_called_a_pickle(length, tmp_path):
    """Header lengths like 896 = 0x0380 start with the bytes of a pickle's protocol marker."""
    path = tmp_path / "cut.ckpt"
    path.write_bytes(struct.pack("<Q", length) + b'{"__metadata__":{"gradcore":')
    with pytest.raises(CheckpointError, match=f"header length {length} goes beyond") as info:
        gc.load(path)
    assert "pickle" not in str(info.value)


# ---- limits: bounded before arithmetic, and the same on both sides ---------------------------

def _meta(root):
    return {"format": "gradcore.checkpoint", "version": 1, "root": root}


def _raw_text(tmp_path, text, name="raw"):
    """A file whose JSON header is ``text`` as given: numbers too long for ``json.dumps``."""
    path = tmp_path / name
    path.write_bytes(struct.pack("<Q", len(text)) + text.encode())
    return path


@pytest.mark.parametrize("shape, match", [
    ([int("9" * 4000)] * 800, "number of 4000 digits"),  # 3 MB; multiplying first took 45 s
    ([2**62, 2**62, 0], "larger than NumPy can address"),  # was a bare NumPy ValueError
    ([2**63, 0], "larger than NumPy can address"),
    ([1] * 100, "100 dimensions, more than the 64"),  # was a bare NumPy ValueError
    ([10**19], "number of 20 digits"),
])
def test_crafted_shapes_are_refused_quickly_and_clearly(tmp_path, shape, match):
    meta = json.dumps(_meta({"type": "ndarray", "name": "a"}))
    text = '{"__metadata__": {"gradcore": %s}, "a": {"dtype": "F32", "shape": [%s], ' \
           '"data_offsets": [0, 0]}}' % (json.dumps(meta), ", ".join(map(str, shape)))
    path = _raw_text(tmp_path, text)
    started = time.perf_counter()
    _refuse(path, match)
    assert time.perf_counter() - started < 2.0


def test_the_largest_allowed_shapes_load(tmp_path):
    """The limits sit exactly at NumPy's: 64 dimensions and zero-size shapes with huge dims."""
    for name, shape in [("d64", [1] * 64), ("wide", [2**60 - 1, 0]), ("big0", [0, 2**63 // 8 - 1])]:
        a = _raw(tmp_path, {"a": _t("F64", shape, 0, 8 * math.prod(shape))},
                 b"\0" * 8 * math.prod(shape), name=name)
        assert gc.load(a)["a"].shape == tuple(shape)


def test_huge_offsets_and_ints_in_the_metadata_are_refused(tmp_path):
    meta = json.dumps(_meta({"type": "ndarray", "name": "a"}))
    text = ('{"__metadata__": {"gradcore": %s}, "a": {"dtype": "U8", "shape": [0], '
            '"data_offsets": [0, 1%s]}}' % (json.dumps(meta), "0" * 30))
    _refuse(_raw_text(tmp_path, text), "header has a number of 31 digits")
    meta = '{"format": "gradcore.checkpoint", "version": 1, "root": [1%s]}' % ("0" * 5000)
    _refuse(_raw_text(tmp_path, json.dumps({"__metadata__": {"gradcore": meta}}), name="m"),
            "metadata has a number of 5001 digits")


def _nested(depth):
    obj = "leaf"
    for i in range(depth):
        obj = [obj] if i % 3 == 0 else {"k": obj} if i % 3 == 1 else (obj,)
    return obj


def _nested_node(depth):
    node = "leaf"
    for _ in range(depth):
        node = {"type": "list", "items": [node]}
    return node


def test_save_refuses_nesting_that_load_refuses(tmp_path):
    gc.save(_nested(200), tmp_path / "ok")  # at the limit: both sides accept
    assert gc.load(tmp_path / "ok") == _nested(200)
    with pytest.raises(ValueError, match="nested deeper than 200 levels"):
        gc.save(_nested(201), tmp_path / "deep")
    assert not (tmp_path / "deep").exists()
    assert gc.load(_raw(tmp_path, {}, meta=_meta(_nested_node(200)), name="n200")) is not None
    _refuse(_raw(tmp_path, {}, meta=_meta(_nested_node(201)), name="n201"),
            "nested deeper than 200 levels")


def test_save_refuses_ints_that_load_refuses(tmp_path):
    gc.save({"n": 10**4300 - 1, "m": -(10**4300 - 1)}, tmp_path / "ok")  # 4,300 digits
    assert gc.load(tmp_path / "ok") == {"n": 10**4300 - 1, "m": -(10**4300 - 1)}
    for big in ({"n": 10**4300}, {"n": -(10**4300)}, {10**4300: 1}):  # values and keys
        with pytest.raises(ValueError, match="more than 4300 digits"):
            gc.save(big, tmp_path / "big")
    meta = '{"format": "gradcore.checkpoint", "version": 1, "root": 1%s}' % ("0" * 4300)
    _refuse(_raw_text(tmp_path, json.dumps({"__metadata__": {"gradcore": meta}})),
            "number of 4301 digits")


def test_save_refuses_a_header_that_load_refuses(tmp_path, monkeypatch):
    gc.save({"s": "x" * 5000}, tmp_path / "big")
    monkeypatch.setitem(gradcore.io.LIMITS, "header_bytes", 4096)  # one table for both sides
    _refuse(tmp_path / "big", "exceeds the 4096-byte limit")
    with pytest.raises(ValueError, match="over the 4096-byte limit that load enforces"):
        gc.save({"s": "x" * 5000}, tmp_path / "new")
    assert not (tmp_path / "new").exists()
    gc.save({"s": "x" * 100}, tmp_path / "small")
    assert gc.load(tmp_path / "small") == {"s": "x" * 100}


# ---- checks of the structure nodes: each one must be load-bearing -----------------------------

@pytest.mark.parametrize("node, dtype, shape, match", [
    ({"type": "tensor", "name": "a", "requires_grad": "yes"}, "F32", [2], "invalid requires_grad"),
    ({"type": "tensor", "name": "a", "requires_grad": 1}, "F32", [2], "invalid requires_grad"),
    ({"type": "tensor", "name": "a", "requires_grad": True}, "I32", [2], "invalid requires_grad"),
    ({"type": "scalar", "name": "a"}, "F32", [2], r"scalar 'a' has shape \(2,\)"),
])
def test_inconsistent_array_nodes_are_refused(tmp_path, node, dtype, shape, match):
    path = _raw(tmp_path, {"a": _t(dtype, shape, 0, 8)}, b"\0" * 8, meta=_meta(node))
    _refuse(path, match)
    node = {**node, "requires_grad": True} if node["type"] == "tensor" else node
    ok = _raw(tmp_path, {"a": _t("F32", [] if node["type"] == "scalar" else [2], 0,
                                 4 if node["type"] == "scalar" else 8)},
              b"\0" * (4 if node["type"] == "scalar" else 8), meta=_meta(node), name="ok")
    loaded = gc.load(ok, device="cpu")  # the control: the same node, consistent, loads
    assert loaded.requires_grad if node["type"] == "tensor" else loaded.shape == ()
