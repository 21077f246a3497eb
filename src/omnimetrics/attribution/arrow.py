"""Arrow arrays to and from numpy through their buffers.

pyarrow imports pandas (0.3-0.5 s) the first time it converts Python or numpy values (`pa.array`,
`to_numpy`); arrays built from buffers need no pandas, so a path table file is attributed without
it. For the few, small columns of a path table and of a credit table.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def _valid(array: pa.Array) -> np.ndarray:
    """True where `array` is not null."""
    bits = np.frombuffer(array.buffers()[0], np.uint8)
    count = array.offset + len(array)
    return np.unpackbits(bits, count=count, bitorder="little")[array.offset :].astype(bool)


def _values(array: pa.Array, dtype: np.dtype) -> np.ndarray:
    """The values buffer of `array` as a read-only numpy view (no copy)."""
    if not len(array):
        return np.zeros(0, dtype)
    data = np.frombuffer(array.buffers()[1], dtype, count=array.offset + len(array))
    return data[array.offset :]


def to_floats(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The values of a numeric array as float64 (read-only), NaN where null; casting may raise
    ArrowInvalid."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.type != pa.float64():
        array = pc.cast(array, pa.float64())
    values = _values(array, np.dtype(np.float64))
    if array.null_count:
        values = np.where(_valid(array), values, np.nan)
    return values


def to_integers(array: pa.Array) -> np.ndarray:
    """The values of an integer array (indices, lengths; read-only), 0 where null."""
    kind = "int" if pa.types.is_signed_integer(array.type) else "uint"
    values = _values(array, np.dtype(f"{kind}{array.type.bit_width}"))
    if array.null_count:
        values = np.where(_valid(array), values, 0)
    return values


def floats(values: np.ndarray) -> pa.Array:
    """A float64 Arrow array of numpy values."""
    data = np.ascontiguousarray(values, dtype=np.float64)
    return pa.Array.from_buffers(pa.float64(), len(data), [None, pa.py_buffer(data)])


def booleans(values: np.ndarray | Sequence[bool]) -> pa.Array:
    """A boolean Arrow array."""
    flags = np.asarray(values, dtype=bool)
    bits = np.packbits(flags, bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(flags), [None, pa.py_buffer(bits)])


def strings(values: Sequence[str | None]) -> pa.Array:
    """A string Arrow array of a few Python strings (None: null)."""
    encoded = [b"" if value is None else value.encode() for value in values]
    offsets = np.zeros(len(encoded) + 1, np.int32)
    offsets[1:] = np.cumsum(np.array([len(item) for item in encoded], dtype=np.int64))
    missing = np.array([value is None for value in values], dtype=bool)
    validity = pa.py_buffer(np.packbits(~missing, bitorder="little")) if missing.any() else None
    buffers = [validity, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    return pa.Array.from_buffers(pa.string(), len(encoded), buffers)
