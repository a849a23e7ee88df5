"""Bad checkpoint files: ``gc.load`` refuses truncated, corrupt, wrong-format and pickle-bearing
files with a CheckpointError (a ValueError) that names the file and the problem, never runs
code from them, and a model is untouched when its checkpoint cannot be read."""
import json
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest

import gradcore as gc
from gradcore.io import CheckpointError


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


def _plain_safetensors():
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
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
    ("plain-safetensors", lambda raw, s: _plain_safetensors(), ["without gradcore metadata"]),
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
