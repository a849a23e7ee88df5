"""Checkpoints (gradcore/io.py): round trips, atomic saves, and refusing every kind of bad file."""
import json
import os
import pickle
import struct

import numpy
import pytest

import gradcore as gc
from tests.reliability.helpers import raw_checkpoint as _raw
from tests.reliability.helpers import refuse as _refuse
from tests.reliability.helpers import tensor_entry as _t

DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"]


def _sample(dtype, shape, rng):
    a = rng.standard_normal(shape) * 50
    return (a > 0) if dtype == "bool" else a.astype(dtype)


def _state(rng, device):
    """A nested state dict touching every supported value kind."""
    shared = gc.tensor(rng.standard_normal(3), device=device)
    return {
        "tensors": {dt: gc.tensor(_sample(dt, (2, 3), rng), device=device) for dt in DTYPES},
        "arrays": [_sample(dt, (4,), rng) for dt in DTYPES],
        "edge": {"scalar0d": numpy.array(2.5), "empty": numpy.zeros((0, 3), numpy.int32),
                 "fortran": numpy.asfortranarray(rng.standard_normal((3, 2))),
                 "bigendian": numpy.arange(4, dtype=">i4")},
        "param": gc.tensor(rng.standard_normal((2, 2)), device=device, requires_grad=True),
        "optim": {"state": {0: {"step": 7, "m": shared}, 1: {"step": 7, "m": shared}},
                  "hyper": (0.1, 0.9, 1e-8)},
        "py": {"int": 2**100, "neg": -3, "float": 0.1, "nan": float("nan"), "inf": float("inf"),
               "ninf": float("-inf"), "true": True, "none": None, "text": "héllo ✓", "empty": [],
               "nested": [[1, [2, (3,)]], {}]},
        "npscalars": [numpy.float32(1.5), numpy.int64(-4), numpy.bool_(True), numpy.float64(2.0)],
    }


def _same(a, b):
    """Deep equality that also checks types, dtypes, shapes and where tensors live."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, gc.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad
        numpy.testing.assert_array_equal(a.numpy(), b.numpy())
    elif isinstance(a, (numpy.ndarray, numpy.generic)):
        assert a.dtype == b.dtype and numpy.shape(a) == numpy.shape(b)
        numpy.testing.assert_array_equal(a, b)
    elif isinstance(a, float) and a != a:
        assert b != b
    else:
        assert a == b


def test_round_trip_every_dtype_and_kind(tmp_path, rng, device):
    state = _state(rng, device)
    path = tmp_path / "ckpt.safetensors"
    gc.save(state, path)
    back = gc.load(path, device=device)
    expected = dict(state)
    expected["edge"] = {k: numpy.asarray(v, v.dtype.newbyteorder("="), order="C")
                        for k, v in state["edge"].items()}
    _same(expected, back)
    for t in back["tensors"].values():
        assert t.device == gc.device(device)
    m0, m1 = back["optim"]["state"][0]["m"], back["optim"]["state"][1]["m"]
    assert m0 is m1  # stored once, one object again: tied weights stay tied
    assert back["arrays"][0].flags.writeable  # loaded arrays are ordinary, writable arrays


def test_load_defaults_to_default_device(tmp_path):
    gc.save({"w": gc.tensor([1.0, 2.0], device="cpu")}, tmp_path / "a")
    assert gc.load(tmp_path / "a")["w"].device is gc.get_default_device()


def test_top_level_tensor_and_tuple(tmp_path):
    gc.save(gc.tensor([3, 4]), tmp_path / "t")
    assert gc.load(tmp_path / "t", device="cpu").tolist() == [3, 4]
    gc.save((1, "a", None), tmp_path / "u")
    assert gc.load(tmp_path / "u") == (1, "a", None)


def test_file_is_plain_safetensors(tmp_path):
    """Other safetensors readers can open it: aligned header, named tensors, tiled data."""
    gc.save({"model": {"fc": {"weight": gc.tensor(numpy.ones((2, 3), numpy.float32))}},
             "step": 1}, tmp_path / "m")
    raw = (tmp_path / "m").read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    assert n % 8 == 0
    header = json.loads(raw[8:8 + n])
    entry = header["model.fc.weight"]
    assert entry == {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}
    assert len(raw) == 8 + n + 24
    meta = json.loads(header["__metadata__"]["gradcore"])
    assert meta["format"] == "gradcore.checkpoint" and meta["version"] == 1


def test_save_rejects_what_it_cannot_store(tmp_path):
    with pytest.raises(TypeError, match="set"):
        gc.save({"a": {1, 2}}, tmp_path / "x")
    with pytest.raises(TypeError, match="keys"):
        gc.save({(1, 2): 3}, tmp_path / "x")
    with pytest.raises(TypeError, match="complex128"):
        gc.save({"z": numpy.zeros(2, complex)}, tmp_path / "x")
    with pytest.raises(TypeError, match="object"):
        gc.save({"o": numpy.array([None], dtype=object)}, tmp_path / "x")
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        gc.save(loop, tmp_path / "x")
    assert os.listdir(tmp_path) == []


# ---- atomic saves -----------------------------------------------------------------------------

def _old_checkpoint(path):
    gc.save({"version": "old", "w": numpy.arange(5)}, path)
    return path.read_bytes()


@pytest.mark.parametrize("crash", ["replace", "fsync", "write", "interrupt"])
def test_crash_during_save_keeps_the_old_checkpoint(tmp_path, monkeypatch, crash):
    path = tmp_path / "ckpt.safetensors"
    before = _old_checkpoint(path)

    def boom(*args, **kwargs):
        raise OSError("simulated crash")

    if crash in ("replace", "fsync"):
        monkeypatch.setattr(os, crash, boom)
    else:
        real_fdopen = os.fdopen
        error = KeyboardInterrupt if crash == "interrupt" else OSError

        class Dies:  # writes the first chunk, then the "disk" fails mid-file
            def __init__(self, f):
                self.f, self.writes = f, 0

            def write(self, data):
                self.writes += 1
                if self.writes > 1:
                    raise error("simulated crash")
                return self.f.write(data)

            def __getattr__(self, name):
                return getattr(self.f, name)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.f.close()

        monkeypatch.setattr(os, "fdopen", lambda *a, **k: Dies(real_fdopen(*a, **k)))
    with pytest.raises((OSError, KeyboardInterrupt), match="simulated"):
        gc.save({"version": "new", "w": numpy.arange(1000.0)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert gc.load(path)["version"] == "old"
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]  # no temporary file left behind


def test_save_replaces_and_leaves_no_temp(tmp_path):
    path = tmp_path / "c"
    _old_checkpoint(path)
    gc.save({"version": "new"}, path)
    assert gc.load(path) == {"version": "new"}
    assert os.listdir(tmp_path) == ["c"]


# ---- refusing bad files -----------------------------------------------------------------------

def _good(tmp_path):
    path = tmp_path / "good"
    gc.save({"a": numpy.arange(6, dtype=numpy.int32).reshape(2, 3), "b": gc.tensor([1.0, 2.0]),
             "n": 3}, path)
    return path.read_bytes()


def test_truncated_files_are_refused(tmp_path):
    raw = _good(tmp_path)
    n = struct.unpack("<Q", raw[:8])[0]
    for cut in sorted({0, 1, 7, 8, 9, 8 + n // 2, 8 + n - 1, 8 + n, 8 + n + 5, len(raw) - 1}):
        path = tmp_path / f"cut{cut}"
        path.write_bytes(raw[:cut])
        _refuse(path, "truncated")


@pytest.mark.parametrize("header, data, match", [
    ({"a": _t("F32", [2], 0, 8)}, b"\0" * 8, None),  # control: valid
    ({"a": _t("C64", [2], 0, 16)}, b"\0" * 16, "unknown dtype"),
    ({"a": _t("F32", [2], 0, 16)}, b"\0" * 8, "outside"),
    ({"a": _t("F32", [2], -8, 0)}, b"\0" * 8, "outside"),
    ({"a": _t("F32", [3], 0, 8)}, b"\0" * 8, "needs 12 bytes"),
    ({"a": _t("F32", [2], 0, 8), "b": _t("F32", [2], 4, 12)}, b"\0" * 12, "overlap"),
    ({"a": _t("F32", [1], 4, 8)}, b"\0" * 8, "gap"),
    ({"a": _t("F32", [1], 0, 4)}, b"\0" * 8, "after the last tensor"),
    ({"a": _t("F32", [-1], 0, 0)}, b"", "invalid shape"),
    ({"a": _t("F32", ["2"], 0, 8)}, b"\0" * 8, "invalid shape"),
    ({"a": {"dtype": "F32", "shape": [2]}}, b"\0" * 8, "expected keys"),
    ({"a": _t("BOOL", [2], 0, 2)}, b"\x01\x07", "bool bytes"),
])
def test_corrupt_headers_are_refused(tmp_path, header, data, match):
    path = _raw(tmp_path, header, data)
    if match is None:
        assert gc.load(path)["a"].shape == (2,)
    else:
        _refuse(path, match)


@pytest.mark.parametrize("meta, match", [
    ({"format": "gradcore.checkpoint", "version": 1}, "unrecognised gradcore metadata"),
    ({"format": "something-else", "version": 1, "root": None}, "not a gradcore checkpoint"),
    ({"format": "gradcore.checkpoint", "version": 99, "root": None}, "newer"),
    ({"format": "gradcore.checkpoint", "version": "1", "root": None}, "version"),
    ({"format": "gradcore.checkpoint", "version": 1, "root": {"type": "ndarray", "name": "zz"}},
     "missing tensor"),
    ({"format": "gradcore.checkpoint", "version": 1, "root": {"type": "eval", "code": "1"}},
     "unknown node type"),
    ({"format": "gradcore.checkpoint", "version": 1, "root": {"type": "float", "value": "1e999"}},
     "invalid float"),
    ({"format": "gradcore.checkpoint", "version": 1, "root": {"type": "dict", "items": [[[1], 2]]}},
     "invalid dict items"),
])
def test_bad_metadata_is_refused(tmp_path, meta, match):
    _refuse(_raw(tmp_path, {"a": _t("U8", [1], 0, 1)}, b"\0", meta=meta), match)


def test_invalid_json_and_utf8_are_refused(tmp_path):
    raw = bytearray(_good(tmp_path))
    raw[9] = ord("}")  # breaks the JSON, keeps the length
    (tmp_path / "json").write_bytes(bytes(raw))
    _refuse(tmp_path / "json", "not valid UTF-8 JSON")
    raw[9] = 0xFF
    (tmp_path / "utf8").write_bytes(bytes(raw))
    _refuse(tmp_path / "utf8", "not valid UTF-8 JSON")
    blob = b'{"a": NaN}'
    (tmp_path / "nan").write_bytes(struct.pack("<Q", len(blob)) + blob)
    _refuse(tmp_path / "nan", "NaN")
    deep = b'{"a":' + b"[" * 100000 + b"]" * 100000 + b"}"  # recursion bomb
    (tmp_path / "deep").write_bytes(struct.pack("<Q", len(deep)) + deep)
    _refuse(tmp_path / "deep", "JSON")


def test_wrong_formats_are_refused(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    _refuse(tmp_path / "empty", "truncated")
    (tmp_path / "text").write_text("hello, this is not a checkpoint at all\n")
    _refuse(tmp_path / "text", "not a gradcore checkpoint")
    numpy.save(tmp_path / "plain.npy", numpy.arange(3))
    _refuse(tmp_path / "plain.npy", r"\.npy")
    huge = struct.pack("<Q", 2**40) + b"{}"
    (tmp_path / "huge").write_bytes(huge)
    _refuse(tmp_path / "huge", "beyond the file size")


class _Payload:
    """Unpickling this creates a marker file: proof that code from the file ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_files_are_refused_without_running_them(tmp_path):
    control = tmp_path / "control-marker"
    pickle.loads(pickle.dumps(_Payload(control)))  # the payload is live when unpickled...
    assert control.exists()
    marker = tmp_path / "marker"
    files = {f"p{proto}": pickle.dumps({"w": _Payload(marker)}, protocol=proto)
             for proto in range(pickle.HIGHEST_PROTOCOL + 1)}
    for name, blob in files.items():
        (tmp_path / name).write_bytes(blob)
    numpy.save(tmp_path / "obj.npy", numpy.array([_Payload(marker)], dtype=object),
               allow_pickle=True)
    numpy.savez(tmp_path / "obj.npz", w=numpy.array([_Payload(marker)], dtype=object))
    for name in list(files) + ["obj.npy", "obj.npz"]:
        # protocols 0 and 1 have no signature to recognise; they fail as "not a checkpoint"
        signature = "pickle" if name >= "p2" else None
        match = {"obj.npy": r"\.npy", "obj.npz": "zip"}.get(name, signature)
        _refuse(tmp_path / name, match)
    assert not marker.exists()  # ...and gc.load never ran it


def test_loader_state_dict_survives_a_checkpoint(tmp_path):
    """Generator states hold 128-bit integers; they must round-trip exactly."""
    loader = gc.data.DataLoader(numpy.arange(10), batch_size=3, shuffle=True, seed=5, device="cpu")
    it = iter(loader)
    next(it)
    gc.save({"loader": loader.state_dict()}, tmp_path / "s")
    assert gc.load(tmp_path / "s")["loader"] == loader.state_dict()
