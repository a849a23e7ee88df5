"""Checkpoints: :func:`save` and :func:`load` nested state dicts as safetensors files.

The file is a plain safetensors file (8-byte little-endian header length, a UTF-8 JSON header
naming each array's dtype, shape and byte range, then the raw little-endian bytes), so other
safetensors readers can open it. What the arrays alone cannot say (the nesting of dicts, lists
and tuples, the Python scalars and strings, which arrays were Tensors) is stored as a JSON
string under ``__metadata__["gradcore"]``.

Loading never runs code from the file: there is no pickle anywhere, arrays are rebuilt with
``numpy.frombuffer``, and every number in the header is bounded before any arithmetic uses it
(see :data:`LIMITS`; :func:`save` enforces the same limits, so it never writes a file that
:func:`load` refuses). A save goes to a temporary file that replaces the target only once it is
complete and on disk, so a crash mid-save leaves the previous checkpoint intact, and it removes
the temporaries that earlier, killed saves to the same path left behind (see
:mod:`gradcore.files` for which ones).

>>> import os, tempfile, gradcore as gc
>>> path = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
>>> gc.save({"step": 3, "w": gc.tensor([1.0, 2.0])}, path)
>>> state = gc.load(path, device="cpu")
>>> state["step"], state["w"].tolist()
(3, [1.0, 2.0])
"""
from __future__ import annotations

import json
import math
import os
import pickletools  # opcode table only: nothing here unpickles
import struct

import numpy

from gradcore import backend, checks
from gradcore.files import write_atomic
from gradcore.tensor import Tensor

__all__ = ["save", "load", "CheckpointError", "FORMAT", "FORMAT_VERSION", "LIMITS"]

FORMAT = "gradcore.checkpoint"
FORMAT_VERSION = 1

# safetensors dtype codes; explicit little-endian so files are the same on every host
_DTYPES = {
    "F16": numpy.dtype("<f2"), "F32": numpy.dtype("<f4"), "F64": numpy.dtype("<f8"),
    "I8": numpy.dtype("i1"), "I16": numpy.dtype("<i2"), "I32": numpy.dtype("<i4"),
    "I64": numpy.dtype("<i8"), "U8": numpy.dtype("u1"), "U16": numpy.dtype("<u2"),
    "U32": numpy.dtype("<u4"), "U64": numpy.dtype("<u8"), "BOOL": numpy.dtype("?"),
}
_CODES = {(dt.kind, dt.itemsize): code for code, dt in _DTYPES.items()}

# What a checkpoint may hold: :func:`load` refuses a file past any limit and :func:`save` refuses
# to write one. Each bounds a number from the file before any arithmetic uses it, so a small
# hostile header cannot keep ``load`` busy (multiplying 800 dimensions of 4,000 digits each
# took 45 s) or make it allocate or recurse without bound.
LIMITS = {
    "header_bytes": 100 * 1024 * 1024,  # the JSON header; the reference safetensors reader's limit
    "depth": 200,  # dicts/lists/tuples around the most deeply nested value
    "ndim": 64,  # dimensions of one array: NumPy 2's maximum
    "header_digits": 19,  # a dimension or byte offset: anything below 2**63 has at most 19 digits
    "int_digits": 4300,  # a Python int in the state: CPython's default int_max_str_digits
}
_PICKLE_OPCODES = frozenset(op.code.encode("latin-1") for op in pickletools.opcodes)


class CheckpointError(ValueError):
    """A file :func:`load` refuses: truncated, corrupt, pickled, or not a gradcore checkpoint."""


# ---- save ----------------------------------------------------------------------------------------

def save(obj, path):
    """Write ``obj`` (a nested state dict) to ``path`` as a safetensors checkpoint, atomically.

    ``obj`` may nest dicts (str or int keys), lists and tuples of Tensors, NumPy or CuPy arrays,
    NumPy scalars, and ``int``/``float``/``bool``/``str``/``None``. The same array object
    appearing twice is stored once and comes back as one object. Supported dtypes: float16/32/64,
    int8/16/32/64, uint8/16/32/64 and bool.

    >>> import os, tempfile, numpy, gradcore as gc
    >>> path = os.path.join(tempfile.mkdtemp(), "m.safetensors")
    >>> gc.save({"layers": [{"b": numpy.zeros(2, numpy.int64)}], "lr": 0.1}, path)
    >>> gc.load(path)["layers"][0]["b"]
    array([0, 0])
    """
    arrays = []  # (name, little-endian contiguous NumPy array), in file order
    root = _encode(obj, [], arrays, {}, set(), set())
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "root": root}
    header = {"__metadata__": {"gradcore": json.dumps(meta, allow_nan=False,
                                                      separators=(",", ":"))}}
    offset = 0
    for name, a in arrays:
        header[name] = {"dtype": _CODES[(a.dtype.kind, a.dtype.itemsize)], "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    blob = json.dumps(header, separators=(",", ":")).encode("utf-8")
    blob += b" " * (-len(blob) % 8)  # pad with spaces, as safetensors does, to align the data
    if len(blob) > LIMITS["header_bytes"]:
        raise ValueError(f"save: the checkpoint's header would be {len(blob)} bytes, over the "
                         f"{LIMITS['header_bytes']}-byte limit that load enforces; store large "
                         "data as arrays, not as Python lists, ints or strings")
    write_atomic(os.fspath(path), [struct.pack("<Q", len(blob)), blob]
                 + [a.reshape(-1).view(numpy.uint8) for _, a in arrays])


def _encode(obj, where, arrays, seen, names, active):
    """The JSON node for ``obj``; arrays found are appended to ``arrays`` under unique names."""
    if len(where) > LIMITS["depth"]:
        raise ValueError(f"save: the object is nested deeper than {LIMITS['depth']} levels (at "
                         f"{_short(_where(where))}), which load refuses")
    # NumPy scalars first: numpy.float64 is also a float, and should come back as it went in
    is_scalar = isinstance(obj, numpy.generic) and not isinstance(obj, (str, bytes))
    if not is_scalar and isinstance(obj, int):
        _check_digits(obj, where)
    if not is_scalar and (obj is None or isinstance(obj, (bool, int, str))):
        return obj
    if not is_scalar and isinstance(obj, float):
        # JSON has no NaN/inf; spell them out rather than emit non-standard JSON
        return obj if math.isfinite(obj) else {"type": "float", "value": repr(obj)}
    if is_scalar or isinstance(obj, Tensor) or _is_array(obj):
        kind = ("tensor" if isinstance(obj, Tensor) else
                "scalar" if isinstance(obj, numpy.generic) else "ndarray")
        if id(obj) not in seen:
            seen[id(obj)] = (obj, _unique_name(where, names))  # keep obj alive: ids stay unique
            arrays.append((seen[id(obj)][1], _host_array(obj, where)))
        node = {"type": kind, "name": seen[id(obj)][1]}
        if kind == "tensor":
            node["requires_grad"] = bool(obj.requires_grad)
        return node
    if isinstance(obj, (dict, list, tuple)):
        if id(obj) in active:
            raise ValueError(f"save: the object at {_where(where)} contains itself")
        active.add(id(obj))
        if isinstance(obj, dict):
            items = []
            for key, value in obj.items():
                if not isinstance(key, (str, int)) or isinstance(key, bool):
                    raise TypeError(f"save: dict keys must be str or int, got {key!r} "
                                    f"({type(key).__name__}) at {_where(where)}")
                if isinstance(key, int):
                    _check_digits(key, where)
                items.append([key, _encode(value, where + [str(key)], arrays, seen, names, active)])
            node = {"type": "dict", "items": items}
        else:
            # namedtuples come back as plain tuples: a class name is not something to import
            node = {"type": "tuple" if isinstance(obj, tuple) else "list",
                    "items": [_encode(v, where + [str(i)], arrays, seen, names, active)
                              for i, v in enumerate(obj)]}
        active.discard(id(obj))
        return node
    raise TypeError(f"save: cannot store a {type(obj).__name__} (at {_where(where)}); expected "
                    "dict, list, tuple, Tensor, array, int, float, bool, str or None")


def _is_array(obj):
    return isinstance(obj, numpy.ndarray) or hasattr(obj, "__cuda_array_interface__")


def _host_array(obj, where):
    """``obj``'s data as a C-contiguous little-endian NumPy array (one copy from a GPU)."""
    data = obj.array if isinstance(obj, Tensor) else obj
    if isinstance(data, numpy.generic):
        a = numpy.asarray(data)
    else:
        a = backend.to_device(data, backend.CPU)
    code = _CODES.get((a.dtype.kind, a.dtype.itemsize))
    if code is None or a.dtype.kind not in "fiub":
        raise TypeError(f"save: dtype {a.dtype} (at {_where(where)}) is not supported; use one of "
                        + ", ".join(str(dt) for dt in _DTYPES.values()))
    return numpy.asarray(a, dtype=_DTYPES[code], order="C")  # not ascontiguousarray: 0-d stays 0-d


def _unique_name(where, names):
    """A readable safetensors name from the path (``model.fc.weight``), made unique."""
    base = ".".join(where) or "tensor"
    name, n = base, 0
    while name in names or name == "__metadata__":
        n += 1
        name = f"{base}#{n}"
    names.add(name)
    return name


def _where(where):
    return "/".join(where) if where else "the top level"


def _check_digits(n, where):
    # bit_length first: 10**d has more than 3*d bits, so the power is rarely computed
    if n.bit_length() > 3 * LIMITS["int_digits"] and abs(n) >= 10 ** LIMITS["int_digits"]:
        raise ValueError(f"save: an int at {_where(where)} has more than {LIMITS['int_digits']} "
                         "digits, which load refuses")


# ---- load ----------------------------------------------------------------------------------------

def load(path, device=None):
    """Read a checkpoint written by :func:`save`; Tensors come back on ``device``.

    ``device`` defaults to :func:`gradcore.get_default_device`. Arrays saved as Tensors come back
    as Tensors (with their ``requires_grad``), bare NumPy/CuPy arrays as NumPy arrays, NumPy
    scalars as NumPy scalars, tuples as tuples. Raises :class:`CheckpointError` (a
    ``ValueError``) naming the file and the problem for anything that is not an intact gradcore
    checkpoint, pickles included, which are never unpickled.

    >>> import os, tempfile, gradcore as gc
    >>> path = os.path.join(tempfile.mkdtemp(), "t.safetensors")
    >>> gc.save((gc.tensor([1, 2]), "note"), path)
    >>> gc.load(path, device="cpu")
    (tensor([1, 2]), 'note')
    """
    path = os.fspath(path)
    dev = backend.device(device) if device is not None else backend.get_default_device()
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(8)
        header_len = _check_preamble(path, head, size, f)
        header, meta = _parse_header(path, f.read(header_len))
        entries = _check_entries(path, header, size - 8 - header_len)
        arrays = {}
        for name, (dt, shape, begin, end) in sorted(entries.items(), key=lambda e: e[1][2]):
            f.seek(8 + header_len + begin)
            buf = bytearray(end - begin)  # bytearray: frombuffer gives a writable array, no copy
            if f.readinto(buf) != len(buf):
                raise CheckpointError(f"load: {path}: the file is truncated (tensor {name!r})")
            a = numpy.frombuffer(buf, dtype=dt).reshape(shape)
            if dt.kind == "b" and a.size and a.view(numpy.uint8).max() > 1:
                _fail(path, f"tensor {name!r} has bool bytes other than 0/1")
            arrays[name] = a.astype(dt.newbyteorder("="), copy=False)  # native order for NumPy
    return _Decoder(path, arrays, dev).node(meta["root"], 0)


def _fail(path, problem):
    raise CheckpointError(f"load: {path}: {problem}")


def _check_preamble(path, head, size, f):
    """The header length, after telling pickles, zips and .npy files from safetensors."""
    if len(head) < 8:
        _sniff(path, head)
        _fail(path, f"the file is truncated ({size} bytes; a checkpoint starts with an 8-byte "
                    "header length)")
    header_len = struct.unpack("<Q", head)[0]
    if 8 + header_len > size:
        _sniff(path, head)
        _fail(path, f"header length {header_len} goes beyond the file size ({size} bytes): the "
                    "file is truncated or not a gradcore checkpoint")
    if header_len > LIMITS["header_bytes"]:
        _fail(path, f"header length {header_len} exceeds the {LIMITS['header_bytes']}-byte limit")
    if header_len < 2 or f.read(1) != b"{":
        _sniff(path, head)
        _fail(path, "not a gradcore checkpoint (no safetensors JSON header)")
    f.seek(8)
    return header_len


def _sniff(path, head):
    """Name the common formats a wrong file is in; none of them is ever parsed further."""
    # NOTE: a checkpoint's own header length can start with 0x80 0x02..0x05 too (896 bytes is
    # 0x0380), so a pickle also needs an opcode next: never 0x00, the third byte of any header
    # shorter than 64 KiB. Otherwise a truncated checkpoint would be called a pickle.
    if (head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")
            and head[2:3] in _PICKLE_OPCODES):
        _fail(path, "this is a pickle file (protocol byte 0x80); gradcore checkpoints are "
                    "safetensors files and are never unpickled")
    if head[:4] == b"PK\x03\x04":
        _fail(path, "this is a zip archive (a NumPy .npz or a torch.save file), which can hold "
                    "pickled objects; gradcore checkpoints are safetensors files")
    if head[:6] == b"\x93NUMPY":
        _fail(path, "this is a NumPy .npy file, not a gradcore checkpoint")


def _parse_header(path, raw):
    try:
        header = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant,
                            parse_int=_bounded_int("header_digits"))
    except _OverLimit as e:
        _fail(path, f"the header {e}")
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        _fail(path, f"the header is not valid UTF-8 JSON ({type(e).__name__}: {e})")
    if not isinstance(header, dict):
        _fail(path, "the header is not a JSON object")
    info = header.pop("__metadata__", None)
    if not isinstance(info, dict) or not isinstance(info.get("gradcore"), str):
        _fail(path, "not a gradcore checkpoint (a safetensors file without gradcore metadata)")
    try:
        meta = json.loads(info["gradcore"], parse_constant=_reject_constant,
                          parse_int=_bounded_int("int_digits"))
    except _OverLimit as e:
        _fail(path, f"the gradcore metadata {e}")
    except (ValueError, RecursionError) as e:
        _fail(path, f"the gradcore metadata is not valid JSON ({type(e).__name__}: {e})")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "root" not in meta:
        _fail(path, "not a gradcore checkpoint (unrecognised gradcore metadata)")
    version = meta.get("version")
    if type(version) is not int or version < 1:
        _fail(path, f"invalid format version {version!r}")
    if version > FORMAT_VERSION:
        _fail(path, f"format version {version} is newer than this gradcore reads "
                    f"({FORMAT_VERSION}); upgrade gradcore")
    return header, meta


def _reject_constant(name):
    raise ValueError(f"non-standard JSON constant {name}")


class _OverLimit(ValueError):
    """A number in the file is past a limit in LIMITS (reported as such, not as bad JSON)."""


def _bounded_int(limit):
    """A ``json.loads`` ``parse_int`` that refuses numbers longer than ``LIMITS[limit]`` digits
    before converting them (converting is quadratic in the digits, and so is multiplying)."""
    digits = LIMITS[limit]

    def parse(text):
        if len(text) - text.startswith("-") > digits:
            raise _OverLimit(f"has a number of {len(text)} digits (the limit is {digits})")
        return int(text)
    return parse


def _check_entries(path, header, data_len):
    """Validate every tensor entry; returns name -> (dtype, shape, begin, end)."""
    entries = {}
    for name, e in header.items():
        if not isinstance(e, dict) or set(e) != {"dtype", "shape", "data_offsets"}:
            _fail(path, f"tensor {name!r}: expected keys dtype, shape, data_offsets, got {e!r}")
        dt = _DTYPES.get(e["dtype"]) if isinstance(e["dtype"], str) else None
        if dt is None:
            _fail(path, f"tensor {name!r}: unknown dtype {e['dtype']!r}")
        shape, offsets = e["shape"], e["data_offsets"]
        if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
            _fail(path, f"tensor {name!r}: invalid shape {_short(shape)}")
        if len(shape) > LIMITS["ndim"]:
            _fail(path, f"tensor {name!r}: {len(shape)} dimensions, more than the "
                        f"{LIMITS['ndim']} NumPy allows")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(type(o) is int for o in offsets)):
            _fail(path, f"tensor {name!r}: invalid data_offsets {offsets!r}")
        begin, end = offsets
        if not 0 <= begin <= end <= data_len:
            _fail(path, f"tensor {name!r}: data_offsets [{begin}, {end}] are outside the "
                        f"{data_len}-byte data section (the file is truncated or corrupt)")
        if not checks.addressable(shape, dt.itemsize):  # <= 64 factors of <= 19 digits: cheap
            _fail(path, f"tensor {name!r}: shape {_short(tuple(shape))} of {dt.name} is larger "
                        "than NumPy can address")
        nbytes = math.prod(shape) * dt.itemsize
        if end - begin != nbytes:
            _fail(path, f"tensor {name!r}: shape {tuple(shape)} of {dt.name} needs {nbytes} bytes "
                        f"but data_offsets [{begin}, {end}] hold {end - begin}")
        entries[name] = (dt, tuple(shape), begin, end)
    position = 0  # the tensors must tile the data section: no overlap, no gap, nothing after
    for name, (_, _, begin, end) in sorted(entries.items(), key=lambda e: (e[1][2], e[1][3])):
        if begin < position:
            _fail(path, f"tensor {name!r}: data_offsets [{begin}, {end}] overlap another tensor")
        if begin > position:
            _fail(path, f"tensor {name!r}: a gap of {begin - position} bytes before its data")
        position = end
    if position != data_len:
        _fail(path, f"{data_len - position} bytes after the last tensor (corrupt file)")
    return entries


class _Decoder:
    """Rebuilds the nested structure from the metadata tree, checking every node."""

    def __init__(self, path, arrays, dev):
        self.path, self.arrays, self.dev = path, arrays, dev
        self.made = {}  # name -> object, so an array stored once comes back as one object

    def node(self, n, depth):
        if depth > LIMITS["depth"]:
            _fail(self.path, f"the structure is nested deeper than {LIMITS['depth']} levels")
        if n is None or isinstance(n, (bool, int, float, str)):
            return n
        if not isinstance(n, dict) or not isinstance(n.get("type"), str):
            _fail(self.path, f"invalid structure node {_short(n)}")
        kind = n["type"]
        if kind in ("list", "tuple", "dict"):
            items = n.get("items")
            if not isinstance(items, list):
                _fail(self.path, f"{kind} node without an items list: {_short(n)}")
            if kind == "dict":
                if not all(isinstance(i, list) and len(i) == 2 and isinstance(i[0], (str, int))
                           and not isinstance(i[0], bool) for i in items):
                    _fail(self.path, f"invalid dict items {_short(items)}")
                return {k: self.node(v, depth + 1) for k, v in items}
            values = [self.node(v, depth + 1) for v in items]
            return values if kind == "list" else tuple(values)
        if kind == "float":
            if n.get("value") not in ("nan", "inf", "-inf"):
                _fail(self.path, f"invalid float node {_short(n)}")
            return float(n["value"])
        if kind in ("tensor", "ndarray", "scalar"):
            return self.array(n, kind)
        _fail(self.path, f"unknown node type {kind!r}")

    def array(self, n, kind):
        name = n.get("name")
        if not isinstance(name, str) or name not in self.arrays:
            _fail(self.path, f"the structure refers to a missing tensor {name!r}")
        if name in self.made:
            return self.made[name]
        a = self.arrays[name]
        if kind == "tensor":
            requires_grad = n.get("requires_grad", False)
            if not isinstance(requires_grad, bool) or (requires_grad and a.dtype.kind != "f"):
                _fail(self.path, f"tensor {name!r}: invalid requires_grad {requires_grad!r}")
            out = Tensor._make(backend.to_device(a, self.dev), self.dev, requires_grad, None, 0)
        elif kind == "scalar":
            if a.ndim != 0:
                _fail(self.path, f"scalar {name!r} has shape {a.shape}")
            out = a[()]
        else:
            out = a
        self.made[name] = out
        return out


def _short(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
