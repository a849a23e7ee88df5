"""Checkpoints: :func:`save` and :func:`load` nested state dicts as safetensors files.

The file is a plain safetensors file (8-byte little-endian header length, a UTF-8 JSON header
naming each array's dtype, shape and byte range, then the raw little-endian bytes), so other
safetensors readers can open it; :mod:`gradcore.safetensors_format` reads and writes that
container. What the arrays alone cannot say (the nesting of dicts, lists and tuples, the Python
scalars and strings, which arrays were Tensors) is stored as a JSON string under
``__metadata__["gradcore"]``. :func:`load` also reads plain safetensors files that other tools
write (``safetensors.torch.save_file``): they come back as a flat dict of Tensors, ready for
``load_state_dict``.

Loading never runs code from the file: there is no pickle anywhere, arrays are rebuilt with
``numpy.frombuffer``, and every number in the header is bounded before any arithmetic uses it
(see :data:`LIMITS`; :func:`save` enforces the same limits, so it never writes a file that
:func:`load` refuses), for a path and a file object alike. A save to a path goes to a temporary
file that replaces the target only once it is complete and on disk, so a crash mid-save leaves
the previous checkpoint intact, and it removes the temporaries that earlier, killed saves to the
same path left behind (see :mod:`gradcore.files` for which ones).

>>> import os, tempfile, gradcore as gc
>>> path = os.path.join(tempfile.mkdtemp(), "ckpt.safetensors")
>>> gc.save({"step": 3, "w": gc.tensor([1.0, 2.0])}, path)
>>> state = gc.load(path, device="cpu")
>>> state["step"], state["w"].tolist()
(3, [1.0, 2.0])
"""
from __future__ import annotations

import io
import json
import math
import os

import numpy

from gradcore import backend
from gradcore import safetensors_format as st
from gradcore.files import write_atomic
from gradcore.safetensors_format import LIMITS, CheckpointError
from gradcore.tensor import Tensor

__all__ = ["save", "load", "CheckpointError", "FORMAT", "FORMAT_VERSION", "LIMITS"]

FORMAT = "gradcore.checkpoint"
FORMAT_VERSION = 1
_DTYPES, _CODES = st.DTYPES, st.CODES  # what save writes; load also reads BF16


# ---- save ----------------------------------------------------------------------------------------

def save(obj, f):
    """Write ``obj`` (a nested state dict) as a safetensors checkpoint to ``f``: a path, written
    atomically, or a binary file object (``open(path, "wb")``, ``io.BytesIO()``), written from
    its current position (atomicity is then the caller's).

    ``obj`` may nest dicts (str or int keys), lists and tuples of Tensors, NumPy or CuPy arrays,
    NumPy scalars, and ``int``/``float``/``bool``/``str``/``None``. The same array object
    appearing twice is stored once and comes back as one object. Supported dtypes: float16/32/64,
    int8/16/32/64, uint8/16/32/64 and bool.

    >>> import io, numpy, gradcore as gc
    >>> buf = io.BytesIO()
    >>> gc.save({"layers": [{"b": numpy.zeros(2, numpy.int64)}], "lr": 0.1}, buf)
    >>> _ = buf.seek(0); gc.load(buf)["layers"][0]["b"]
    array([0, 0])
    """
    arrays = {}  # name -> little-endian contiguous NumPy array, in file order
    root = _encode(obj, [], arrays, {}, set(), set())
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "root": root}
    chunks = st.pack(arrays, {"gradcore": json.dumps(meta, allow_nan=False,
                                                     separators=(",", ":"))})
    if hasattr(f, "write"):
        if isinstance(f, io.TextIOBase):
            raise TypeError(f"save: {f!r} is open in text mode; open it with 'wb'")
        for chunk in chunks:
            f.write(chunk)
    else:
        write_atomic(os.fspath(f), chunks)


def _encode(obj, where, arrays, seen, names, active):
    """The JSON node for ``obj``; arrays found are appended to ``arrays`` under unique names."""
    if len(where) > LIMITS["depth"]:
        raise ValueError(f"save: the object is nested deeper than {LIMITS['depth']} levels (at "
                         f"{st.short(_where(where))}), which load refuses")
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
            arrays[seen[id(obj)][1]] = _host_array(obj, where)
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

def load(f, device=None):
    """Read a checkpoint from ``f`` (a path, or a binary file object read from its current
    position); Tensors come back on ``device``.

    ``device`` defaults to :func:`gradcore.get_default_device`. From a file :func:`save` wrote,
    arrays saved as Tensors come back as Tensors (with their ``requires_grad``), bare NumPy/CuPy
    arrays as NumPy arrays, NumPy scalars as NumPy scalars, tuples as tuples. A plain
    safetensors file (no gradcore metadata, as ``safetensors.torch.save_file`` writes) comes
    back as a dict of name -> Tensor in the file's order, ready for ``load_state_dict``; its
    bfloat16 tensors are widened to float32, with a warning. Raises :class:`CheckpointError`
    (a ``ValueError``) naming the file and the problem for anything else, pickles included,
    which are never unpickled.

    >>> import os, tempfile, gradcore as gc
    >>> path = os.path.join(tempfile.mkdtemp(), "t.safetensors")
    >>> gc.save((gc.tensor([1, 2]), "note"), path)
    >>> gc.load(path, device="cpu")
    (tensor([1, 2]), 'note')
    """
    dev = backend.device(device) if device is not None else backend.get_default_device()
    if hasattr(f, "read"):
        where = getattr(f, "name", None) or f"<{type(f).__name__}>"
        if not (getattr(f, "seekable", lambda: False)()):
            raise TypeError(f"load: {where} is not seekable (the header's byte ranges are "
                            "checked against the file's size); read it into io.BytesIO first")
        info, arrays = st.read(f, where)
    else:
        where = os.fspath(f)
        with open(where, "rb") as fh:
            info, arrays = st.read(fh, where)
    if info is None or "gradcore" not in info:  # a plain safetensors file: a flat state dict
        return {name: Tensor._make(backend.to_device(a, dev), dev, False, None, 0)
                for name, a in arrays.items()}
    return _Decoder(where, arrays, dev).node(_parse_meta(where, info["gradcore"])["root"], 0)


def _parse_meta(path, text):
    if not isinstance(text, str):
        st.fail(path, "not a gradcore checkpoint (its gradcore metadata is not a string)")
    meta = st.parse_json(path, text, "int_digits", "the gradcore metadata")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "root" not in meta:
        st.fail(path, "not a gradcore checkpoint (unrecognised gradcore metadata)")
    version = meta.get("version")
    if type(version) is not int or version < 1:
        st.fail(path, f"invalid format version {version!r}")
    if version > FORMAT_VERSION:
        st.fail(path, f"format version {version} is newer than this gradcore reads "
                    f"({FORMAT_VERSION}); upgrade gradcore")
    return meta



class _Decoder:
    """Rebuilds the nested structure from the metadata tree, checking every node."""

    def __init__(self, path, arrays, dev):
        self.path, self.arrays, self.dev = path, arrays, dev
        self.made = {}  # name -> object, so an array stored once comes back as one object

    def node(self, n, depth):
        if depth > LIMITS["depth"]:
            st.fail(self.path, f"the structure is nested deeper than {LIMITS['depth']} levels")
        if n is None or isinstance(n, (bool, int, float, str)):
            return n
        if not isinstance(n, dict) or not isinstance(n.get("type"), str):
            st.fail(self.path, f"invalid structure node {st.short(n)}")
        kind = n["type"]
        if kind in ("list", "tuple", "dict"):
            items = n.get("items")
            if not isinstance(items, list):
                st.fail(self.path, f"{kind} node without an items list: {st.short(n)}")
            if kind == "dict":
                if not all(isinstance(i, list) and len(i) == 2 and isinstance(i[0], (str, int))
                           and not isinstance(i[0], bool) for i in items):
                    st.fail(self.path, f"invalid dict items {st.short(items)}")
                return {k: self.node(v, depth + 1) for k, v in items}
            values = [self.node(v, depth + 1) for v in items]
            return values if kind == "list" else tuple(values)
        if kind == "float":
            if n.get("value") not in ("nan", "inf", "-inf"):
                st.fail(self.path, f"invalid float node {st.short(n)}")
            return float(n["value"])
        if kind in ("tensor", "ndarray", "scalar"):
            return self.array(n, kind)
        st.fail(self.path, f"unknown node type {kind!r}")

    def array(self, n, kind):
        name = n.get("name")
        if not isinstance(name, str) or name not in self.arrays:
            st.fail(self.path, f"the structure refers to a missing tensor {name!r}")
        if name in self.made:
            return self.made[name]
        a = self.arrays[name]
        if kind == "tensor":
            requires_grad = n.get("requires_grad", False)
            if not isinstance(requires_grad, bool) or (requires_grad and a.dtype.kind != "f"):
                st.fail(self.path, f"tensor {name!r}: invalid requires_grad {requires_grad!r}")
            out = Tensor._make(backend.to_device(a, self.dev), self.dev, requires_grad, None, 0)
        elif kind == "scalar":
            if a.ndim != 0:
                st.fail(self.path, f"scalar {name!r} has shape {a.shape}")
            out = a[()]
        else:
            out = a
        self.made[name] = out
        return out
