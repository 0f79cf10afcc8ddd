"""numpy and Python values to Arrow and back without loading pandas.

pyarrow imports pandas (when installed) the first time it converts a numpy array or a Python value (``pa.array``,
``pa.scalar``, a compute function given a Python scalar) or returns numpy values (``Array.to_numpy``): a third of a
second that the observed path on a small input does not need. These functions do the same conversions through the
arrays' buffers, for the types the tracks modules use (fixed-width numbers, booleans, timestamps, strings); anything
else (an object array, booleans with nulls) takes pyarrow's own conversion. ``tests/tracks/test_tracks_arrays.py``
compares them with pyarrow's conversions.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["from_numpy", "strings", "scalar", "to_numpy"]

_NUMPY = {
    pa.int8(): np.int8,
    pa.int16(): np.int16,
    pa.int32(): np.int32,
    pa.int64(): np.int64,
    pa.uint8(): np.uint8,
    pa.uint16(): np.uint16,
    pa.uint32(): np.uint32,
    pa.uint64(): np.uint64,
    pa.float32(): np.float32,
    pa.float64(): np.float64,
}


def _validity(mask, n: int) -> tuple[pa.Buffer | None, int]:
    if mask is None:
        return None, 0
    mask = np.asarray(mask, bool)
    if len(mask) != n:
        raise ValueError(f"mask of {len(mask)} values for {n} values")
    nulls = int(mask.sum())
    return (pa.py_buffer(np.packbits(~mask, bitorder="little")), nulls) if nulls else (None, 0)


def from_numpy(values, type: pa.DataType | None = None, mask=None) -> pa.Array:
    """A numpy array (or what ``np.asarray`` makes one) as an Arrow array of ``type`` (default: the numpy dtype's),
    null where ``mask`` is True: what ``pa.array(values, type, mask=mask)`` gives. Values are converted to ``type``
    only as Arrow's safe cast would (an integer that does not fit raises ``pyarrow.ArrowInvalid``); timestamps take int64 values in their unit."""
    v = np.asarray(values)
    if v.dtype.kind not in "biuf" or v.ndim != 1:
        return pa.array(values, type, mask=mask)
    if type is None:
        type = pa.bool_() if v.dtype == bool else pa.from_numpy_dtype(v.dtype)
    n = len(v)
    valid, nulls = _validity(mask, n)
    if pa.types.is_boolean(type):
        if v.dtype != bool:
            return pa.array(values, type, mask=mask)
        data = pa.py_buffer(np.packbits(v, bitorder="little"))
        return pa.Array.from_buffers(type, n, [valid, data], nulls)
    storage = pa.int64() if pa.types.is_timestamp(type) else type
    if storage not in _NUMPY:
        return pa.array(values, type, mask=mask)
    dt = np.dtype(_NUMPY[storage])
    if v.dtype != dt:
        w = v.astype(dt)
        if dt.kind != "f":  # Arrow's safe cast: an integer must keep its value (a float may round)
            kept = w == v
            if mask is not None:
                kept |= np.asarray(mask, bool)
            if not kept.all():
                raise pa.ArrowInvalid(f"values of {v.dtype} do not fit {type}")
        v = w
    return pa.Array.from_buffers(type, n, [valid, pa.py_buffer(np.ascontiguousarray(v))], nulls)


def strings(values) -> pa.Array:
    """A sequence of str or None as an Arrow string array (what ``pa.array(values, pa.string())`` gives)."""
    vals = list(values)
    enc = [b"" if v is None else v.encode() for v in vals]
    off = np.zeros(len(enc) + 1, np.int64)
    np.cumsum([len(b) for b in enc], out=off[1:])
    if off[-1] >= 2**31:
        raise ValueError("strings: more than 2 GB of text")
    valid, nulls = _validity([v is None for v in vals], len(vals))
    data = pa.py_buffer(b"".join(enc))
    return pa.Array.from_buffers(
        pa.string(), len(vals), [valid, pa.py_buffer(off.astype(np.int32)), data], nulls
    )


def scalar(value, type: pa.DataType) -> pa.Scalar:
    """A Python value (or None) as an Arrow scalar of ``type`` (what ``pa.scalar(value, type)`` gives)."""
    if value is None:
        return pa.nulls(1, type)[0]
    if pa.types.is_string(type):
        return strings([value])[0]
    if pa.types.is_boolean(type):
        return from_numpy(np.array([bool(value)]))[0]
    return from_numpy(np.array([value]), type)[0]


def to_numpy(a: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An Arrow array of numbers, booleans or timestamps as numpy, as ``a.to_numpy(zero_copy_only=False)`` gives it:
    a read-only view of the values where it can be one; nulls as NaN (integers with nulls become float64);
    timestamps as ``datetime64`` of their unit (other types, and nulls of timestamps and booleans, by pyarrow's
    conversion)."""
    if isinstance(a, pa.ChunkedArray):
        a = a.chunk(0) if a.num_chunks == 1 else a.combine_chunks() if a.num_chunks else pa.nulls(0, a.type)
    t = a.type
    n = len(a)
    if pa.types.is_boolean(t):
        if a.null_count:
            return a.to_numpy(zero_copy_only=False)
        buf = a.buffers()[1]
        if n == 0:
            return np.zeros(0, bool)
        bits = np.unpackbits(np.frombuffer(buf, np.uint8), bitorder="little", count=a.offset + n)
        return bits[a.offset :].astype(bool)
    storage = pa.int64() if pa.types.is_timestamp(t) else t
    if storage not in _NUMPY or (a.null_count and pa.types.is_timestamp(t)):
        return a.to_numpy(zero_copy_only=False)
    dt = np.dtype(_NUMPY[storage])
    buf = a.buffers()[1]
    v = np.frombuffer(buf, dt, count=n, offset=a.offset * dt.itemsize) if n else np.zeros(0, dt)
    if a.null_count:  # as NaN: integers become float64, as pyarrow makes them
        v = v.astype(np.float64) if dt.kind in "iu" else v.copy()
        v[~to_numpy(a.is_valid())] = np.nan
    if pa.types.is_timestamp(t):
        v = v.view(f"datetime64[{t.unit}]")
    return v
