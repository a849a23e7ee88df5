"""The safetensors container that :mod:`gradcore.io` writes and reads, with every number bounded.

The format: an 8-byte little-endian header length, a UTF-8 JSON header mapping each tensor's
name to its dtype code, shape and byte range (``data_offsets``, relative to the data section)
plus an optional ``__metadata__`` object of strings, then the raw little-endian bytes of the
tensors, which tile the data section exactly. :func:`read` checks all of it against
:data:`LIMITS` before any arithmetic uses a number from the file, on a path or a file object
alike; :func:`pack` refuses to build what :func:`read` would refuse.

``BF16`` (bfloat16, which NumPy lacks) is widened to float32 on reading, exactly (a bfloat16 is
the top half of a float32), with a warning naming the tensors.

>>> import io, numpy
>>> from gradcore import safetensors_format as st
>>> f = io.BytesIO(b"".join(st.pack({"w": numpy.arange(2.0)}, {"note": "hi"})))
>>> info, arrays = st.read(f, "<bytes>")
>>> info, arrays["w"].tolist()
({'note': 'hi'}, [0.0, 1.0])
"""
from __future__ import annotations

import json
import math
import pickletools  # opcode table only: nothing here unpickles
import struct
import warnings

import numpy

from gradcore import checks

__all__ = ["pack", "read", "CheckpointError", "LIMITS", "DTYPES"]

# safetensors dtype codes; explicit little-endian so files are the same on every host
DTYPES = {
    "F16": numpy.dtype("<f2"), "F32": numpy.dtype("<f4"), "F64": numpy.dtype("<f8"),
    "I8": numpy.dtype("i1"), "I16": numpy.dtype("<i2"), "I32": numpy.dtype("<i4"),
    "I64": numpy.dtype("<i8"), "U8": numpy.dtype("u1"), "U16": numpy.dtype("<u2"),
    "U32": numpy.dtype("<u4"), "U64": numpy.dtype("<u8"), "BOOL": numpy.dtype("?"),
}
CODES = {(dt.kind, dt.itemsize): code for code, dt in DTYPES.items()}
_BF16 = numpy.dtype("<u2")  # read as its bits, then widened to float32

# What a checkpoint may hold: :func:`read` refuses a file past any limit and :func:`pack`
# refuses to build one. Each bounds a number from the file before any arithmetic uses it, so a
# small hostile header cannot keep a load busy (multiplying 800 dimensions of 4,000 digits each
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
    """A file :func:`gradcore.load` refuses: truncated, corrupt, pickled, or not a checkpoint.

    >>> import io, gradcore as gc
    >>> try:
    ...     gc.load(io.BytesIO(b"epoch,loss"))
    ... except gc.io.CheckpointError as e:
    ...     print(type(e).__name__)
    CheckpointError
    """


def fail(where, problem):
    raise CheckpointError(f"load: {where}: {problem}")


# ---- writing -------------------------------------------------------------------------------------

def pack(arrays, metadata=None):
    """The chunks of a safetensors file holding ``arrays`` (name -> C-contiguous NumPy array of
    a dtype in :data:`DTYPES`, in file order) and ``metadata`` (str -> str)."""
    header = {} if metadata is None else {"__metadata__": metadata}
    offset = 0
    for name, a in arrays.items():
        header[name] = {"dtype": CODES[(a.dtype.kind, a.dtype.itemsize)], "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    blob = json.dumps(header, separators=(",", ":")).encode("utf-8")
    blob += b" " * (-len(blob) % 8)  # pad with spaces, as safetensors does, to align the data
    if len(blob) > LIMITS["header_bytes"]:
        raise ValueError(f"save: the checkpoint's header would be {len(blob)} bytes, over the "
                         f"{LIMITS['header_bytes']}-byte limit that load enforces; store large "
                         "data as arrays, not as Python lists, ints or strings")
    return [struct.pack("<Q", len(blob)), blob] + [a.reshape(-1).view(numpy.uint8)
                                                   for a in arrays.values()]


# ---- reading -------------------------------------------------------------------------------------

def read(f, where):
    """``(metadata or None, {name: native-order NumPy array})`` from the binary file ``f``,
    read from its current position; ``where`` names it in errors."""
    start = f.tell()
    size = f.seek(0, 2) - start
    f.seek(start)
    head = f.read(8)
    if not isinstance(head, bytes):
        raise TypeError(f"load: {where} is open in text mode; open it with 'rb'")
    header_len = _check_preamble(where, head, size, f, start)
    header = parse_json(where, f.read(header_len), "header_digits", "the header")
    if not isinstance(header, dict):
        fail(where, "the header is not a JSON object")
    info = header.pop("__metadata__", None)
    if info is not None and not isinstance(info, dict):
        fail(where, f"the __metadata__ is not a JSON object: {short(info)}")
    entries = _check_entries(where, header, size - 8 - header_len)
    arrays, widened = {}, []
    for name, (code, dt, shape, begin, end) in entries.items():
        f.seek(start + 8 + header_len + begin)
        buf = bytearray(end - begin)  # bytearray: frombuffer gives a writable array, no copy
        if f.readinto(buf) != len(buf):
            fail(where, f"the file is truncated (tensor {name!r})")
        a = numpy.frombuffer(buf, dtype=dt).reshape(shape)
        if dt.kind == "b" and a.size and a.view(numpy.uint8).max() > 1:
            fail(where, f"tensor {name!r} has bool bytes other than 0/1")
        if code == "BF16":
            a = (a.astype(numpy.uint32) << 16).view(numpy.float32)  # exact: the top 16 bits
            widened.append(name)
        arrays[name] = a.astype(a.dtype.newbyteorder("="), copy=False)  # native order for NumPy
    f.seek(start + size)
    if widened:
        warnings.warn(f"load: {where}: bfloat16 tensor(s) {', '.join(map(repr, widened))} "
                      "widened to float32 (exactly; NumPy has no bfloat16)", stacklevel=3)
    return info, arrays


def _check_preamble(where, head, size, f, start):
    """The header length, after telling pickles, zips and .npy files from safetensors."""
    if len(head) < 8:
        _sniff(where, head)
        fail(where, f"the file is truncated ({size} bytes; a checkpoint starts with an 8-byte "
                    "header length)")
    header_len = struct.unpack("<Q", head)[0]
    if 8 + header_len > size:
        _sniff(where, head)
        fail(where, f"header length {header_len} goes beyond the file size ({size} bytes): the "
                    "file is truncated or not a gradcore checkpoint")
    if header_len > LIMITS["header_bytes"]:
        fail(where, f"header length {header_len} exceeds the {LIMITS['header_bytes']}-byte limit")
    if header_len < 2 or f.read(1) != b"{":
        _sniff(where, head)
        fail(where, "not a gradcore checkpoint nor a safetensors file (no JSON header)")
    f.seek(start + 8)
    return header_len


def _sniff(where, head):
    """Name the common formats a wrong file is in; none of them is ever parsed further."""
    # NOTE: a checkpoint's own header length can start with 0x80 0x02..0x05 too (896 bytes is
    # 0x0380), so a pickle also needs an opcode next: never 0x00, the third byte of any header
    # shorter than 64 KiB. Otherwise a truncated checkpoint would be called a pickle.
    if (head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")
            and head[2:3] in _PICKLE_OPCODES):
        fail(where, "this is a pickle file (protocol byte 0x80); gradcore checkpoints are "
                    "safetensors files and are never unpickled")
    if head[:4] == b"PK\x03\x04":
        fail(where, "this is a zip archive (a NumPy .npz or a torch.save file), which can hold "
                    "pickled objects; gradcore checkpoints are safetensors files")
    if head[:6] == b"\x93NUMPY":
        fail(where, "this is a NumPy .npy file, not a gradcore checkpoint")


def parse_json(where, raw, limit, what):
    """JSON from the file, its integers bounded by ``LIMITS[limit]`` digits before conversion."""
    encoding = "UTF-8 " if isinstance(raw, bytes) else ""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return json.loads(text, parse_constant=_reject_constant, parse_int=_bounded_int(limit))
    except _OverLimit as e:
        fail(where, f"{what} {e}")
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        fail(where, f"{what} is not valid {encoding}JSON ({type(e).__name__}: {e})")


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


def _check_entries(where, header, data_len):
    """Validate every tensor entry; name -> (code, dtype, shape, begin, end) in header order."""
    entries = {}
    for name, e in header.items():
        if not isinstance(e, dict) or set(e) != {"dtype", "shape", "data_offsets"}:
            fail(where, f"tensor {name!r}: expected keys dtype, shape, data_offsets, got {e!r}")
        code = e["dtype"]
        dt = (_BF16 if code == "BF16" else DTYPES.get(code)) if isinstance(code, str) else None
        if dt is None:
            fail(where, f"tensor {name!r}: unknown dtype {code!r} (gradcore reads "
                        f"{', '.join(DTYPES)} and BF16)")
        shape, offsets = e["shape"], e["data_offsets"]
        if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
            fail(where, f"tensor {name!r}: invalid shape {short(shape)}")
        if len(shape) > LIMITS["ndim"]:
            fail(where, f"tensor {name!r}: {len(shape)} dimensions, more than the "
                        f"{LIMITS['ndim']} NumPy allows")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(type(o) is int for o in offsets)):
            fail(where, f"tensor {name!r}: invalid data_offsets {offsets!r}")
        begin, end = offsets
        if not 0 <= begin <= end <= data_len:
            fail(where, f"tensor {name!r}: data_offsets [{begin}, {end}] are outside the "
                        f"{data_len}-byte data section (the file is truncated or corrupt)")
        if not checks.addressable(shape, dt.itemsize):  # <= 64 factors of <= 19 digits: cheap
            fail(where, f"tensor {name!r}: shape {short(tuple(shape))} of {code} is larger "
                        "than NumPy can address")
        nbytes = math.prod(shape) * dt.itemsize
        if end - begin != nbytes:
            fail(where, f"tensor {name!r}: shape {tuple(shape)} of {dt.name} needs {nbytes} bytes "
                        f"but data_offsets [{begin}, {end}] hold {end - begin}")
        entries[name] = (code, dt, tuple(shape), begin, end)
    position = 0  # the tensors must tile the data section: no overlap, no gap, nothing after
    for name, (_, _, _, begin, end) in sorted(entries.items(), key=lambda e: (e[1][3], e[1][4])):
        if begin < position:
            fail(where, f"tensor {name!r}: data_offsets [{begin}, {end}] overlap another tensor")
        if begin > position:
            fail(where, f"tensor {name!r}: a gap of {begin - position} bytes before its data")
        position = end
    if position != data_len:
        fail(where, f"{data_len - position} bytes after the last tensor (corrupt file)")
    return entries


def short(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
