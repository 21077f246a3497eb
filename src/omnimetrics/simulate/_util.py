"""Vectorised helpers: id strings, time-of-day draws, Paris offsets, weighted sampling.

Everything here works on whole numpy arrays; nothing loops over rows.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

DAY = 86_400
HOUR = 3_600
MINUTE = 60

NULL_STR = pa.scalar(None, pa.string())

# Relative weight of each local hour of the day, by kind of activity.
PROFILE_WEB = np.array(
    [1.0, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 1.5, 2.5, 3.0, 3.2, 3.3,
     3.8, 3.5, 3.2, 3.2, 3.4, 3.8, 4.5, 5.5, 6.0, 5.5, 4.0, 2.2]
)  # fmt: skip
PROFILE_STORE = np.array(
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 2.0, 4.0, 5.0,
     6.0, 5.0, 5.0, 6.0, 7.0, 8.0, 7.0, 4.0, 0, 0, 0, 0]
)  # fmt: skip
PROFILE_OFFICE = np.array(
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 5.0, 6.0, 6.0,
     4.0, 4.0, 6.0, 6.0, 5.0, 4.0, 2.0, 0, 0, 0, 0, 0]
)  # fmt: skip


def release_memory() -> None:
    """Hand freed memory back to the system (keeps the peak low on big worlds)."""
    pa.default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # not glibc
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def take_dict(words: Sequence[str], codes: np.ndarray) -> pa.DictionaryArray:
    """Like `take`, dictionary-encoded (compact for long categorical columns)."""
    codes = np.asarray(codes)
    unique, inverse = np.unique(np.array(words, dtype=object), return_inverse=True)
    mapped = inverse[np.maximum(codes, 0)] if len(words) else np.zeros(len(codes), np.int64)
    return pa.DictionaryArray.from_arrays(
        pa.array(mapped.astype(np.int32), mask=codes < 0),
        pa.array(unique.tolist(), pa.string()),
    )


def mix(values: np.ndarray, bits: int) -> np.ndarray:
    """A bijection of the integers below 2**bits: scrambles sequential ids, never collides."""
    mask = np.uint64((1 << bits) - 1)
    x = values.astype(np.uint64) & mask
    shift_a, shift_b = np.uint64(bits // 2 + 1), np.uint64(bits // 3 + 1)
    x = (x * np.uint64(0x9E3779B97F4A7C15 & int(mask) | 1)) & mask
    x ^= x >> shift_a
    x = (x * np.uint64(0xBF58476D1CE4E5B9 & int(mask) | 1)) & mask
    x ^= x >> shift_b
    x = (x * np.uint64(0x94D049BB133111EB & int(mask) | 1)) & mask
    return x


def fixed_strings(
    prefix: str,
    values: np.ndarray,
    width: int,
    base: int = 10,
    valid: np.ndarray | None = None,
) -> pa.StringArray:
    """`prefix` + `values` written with `width` digits (zero-padded) in `base` (10 or 16)."""
    n = len(values)
    head = prefix.encode()
    size = len(head) + width
    buf = np.empty((n, size), dtype=np.uint8)
    if head:
        buf[:, : len(head)] = np.frombuffer(head, dtype=np.uint8)
    lut = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    v = values.astype(np.uint64)
    b = np.uint64(base)
    for k in range(size - 1, len(head) - 1, -1):  # one pass per digit position
        buf[:, k] = lut[(v % b).astype(np.intp)]
        v //= b
    bitmap = None
    if valid is not None:
        bitmap = pa.py_buffer(np.packbits(valid.astype(bool), bitorder="little"))
    return _from_fixed(buf, bitmap)


def _from_fixed(buf: np.ndarray, bitmap: pa.Buffer | None = None) -> pa.StringArray:
    """A string array over the rows of a (n, width) uint8 matrix, without copying it."""
    n, size = buf.shape
    if (n + 1) * size < 2**31 - 1:
        offsets = np.arange(0, (n + 1) * size, size, dtype=np.int32)
        return pa.StringArray.from_buffers(
            n, pa.py_buffer(offsets), pa.py_buffer(buf.reshape(-1)), bitmap
        )
    offsets64 = np.arange(0, (n + 1) * size, size, dtype=np.int64)
    arr = pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets64), pa.py_buffer(buf.reshape(-1)), bitmap
    )
    return arr.cast(pa.string())


def templated(numbers: np.ndarray, template: str) -> pa.StringArray:
    """Fill the '#' of `template` with the decimal digits of `numbers` (last # = last digit)."""
    n = len(numbers)
    tb = np.frombuffer(template.encode(), dtype=np.uint8)
    buf = np.tile(tb, (n, 1))
    v = numbers.astype(np.uint64)
    ten = np.uint64(10)
    for pos in reversed([i for i, ch in enumerate(template) if ch == "#"]):
        buf[:, pos] = (48 + v % ten).astype(np.uint8)
        v //= ten
    return _from_fixed(buf)


def assemble(n: int, pieces: Sequence[tuple[np.ndarray, pa.Array]]) -> pa.Array:
    """A length-n string array from (row numbers, values) pieces; other rows are null."""
    pieces = [(rows, vals) for rows, vals in pieces if len(rows)]
    index = np.full(n, sum(len(r) for r, _ in pieces), dtype=np.int64)
    at = 0
    for rows, _ in pieces:
        index[rows] = np.arange(at, at + len(rows))
        at += len(rows)
    values = pa.concat_arrays(
        [v.cast(pa.string()) for _, v in pieces] + [pa.array([None], pa.string())]
    )
    return values.take(pa.array(index))


def digits_needed(largest: int, minimum: int) -> int:
    return max(minimum, len(str(max(largest, 0))))


def take(words: Sequence[str | None], codes: np.ndarray) -> pa.Array:
    """Strings by code; a negative code gives null."""
    table = pa.array([*words, None], pa.string())
    idx = np.where(codes < 0, len(words), codes).astype(np.int32)
    return table.take(pa.array(idx))


def take_or_null(values: pa.Array, index: np.ndarray) -> pa.Array:
    """values[index], null where index < 0 (works on empty `values`)."""
    padded = pa.concat_arrays([values, pa.nulls(1, values.type)])
    return padded.take(pa.array(np.where(index < 0, len(values), index)))


def join(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of string arrays and literals (a null part gives null)."""
    return pc.binary_join_element_wise(*parts, "")


def where(mask: np.ndarray, values: pa.Array) -> pa.Array:
    """`values` where mask, else null."""
    return pc.if_else(pa.array(mask, pa.bool_()), values, NULL_STR)


def cents(amounts: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """Amounts as text with two decimals ("59.90"), vectorised; nulls where not valid."""
    c = np.round(np.asarray(amounts, dtype=np.float64) * 100).astype(np.int64)
    neg = c < 0
    c = np.abs(c)
    whole = pa.array(c // 100).cast(pa.string())
    frac = fixed_strings("", c % 100, 2)
    sign = take(["", "-"], neg.astype(np.int8))
    out = join(sign, whole, ".", frac)
    return out if valid is None else where(valid, out)


def int_text(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    out = pa.array(np.asarray(values, dtype=np.int64)).cast(pa.string())
    return out if valid is None else where(valid, out)


def weighted_pick(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    """`size` indices drawn with replacement in proportion to `weights` (one cumsum, O(n log n))."""
    cum = np.cumsum(weights, dtype=np.float64)
    u = rng.random(size) * cum[-1]
    return np.minimum(np.searchsorted(cum, u, side="right"), len(weights) - 1)


def choose(rng: np.random.Generator, probs: Sequence[float], size: int) -> np.ndarray:
    """Categorical draws (codes 0..k-1) with the given probabilities."""
    p = np.asarray(probs, dtype=np.float64)
    return np.minimum(np.searchsorted(np.cumsum(p / p.sum()), rng.random(size)), len(p) - 1)


class Clock:
    """The simulated window: UTC seconds since `start`, Paris offsets, days of week."""

    def __init__(self, start: datetime, days: int) -> None:
        self.start = start
        self.days = days
        self.epoch = int(start.timestamp())
        self.end = days * DAY
        self.start_dow = start.weekday()  # Monday = 0
        bounds: list[int] = []
        for year in range(start.year - 8, start.year + days // 365 + 3):
            for month in (3, 10):  # last Sunday of March / October, 01:00 UTC
                last = datetime(year, month, 31, 1, tzinfo=UTC)
                last -= timedelta(days=(last.weekday() + 1) % 7)
                bounds.append(int(last.timestamp()) - self.epoch)
        self._bounds = np.array(bounds, dtype=np.int64)

    def offset(self, t: np.ndarray) -> np.ndarray:
        """Europe/Paris UTC offset in seconds (3600 or 7200) at UTC times `t`."""
        idx = np.searchsorted(self._bounds, t, side="right")
        return np.where(idx % 2 == 1, 2 * HOUR, HOUR).astype(np.int64)

    def dow(self, day: np.ndarray) -> np.ndarray:
        return (self.start_dow + day) % 7

    def local_times(
        self, rng: np.random.Generator, day: np.ndarray, profile: np.ndarray
    ) -> np.ndarray:
        """UTC seconds for events on local `day`s at hours drawn from an hourly `profile`."""
        hour = choose(rng, profile, len(day))
        local = day.astype(np.int64) * DAY + hour * HOUR + rng.integers(0, HOUR, len(day))
        return np.clip(local - self.offset(local - HOUR), 0, self.end - 1)

    def local(self, t: np.ndarray) -> np.ndarray:
        return t + self.offset(t)

    def day_of(self, t: np.ndarray) -> np.ndarray:
        return (self.local(t) // DAY).astype(np.int64)

    def iso(self, t: np.ndarray, local_share: float, rng: np.random.Generator) -> pa.Array:
        """ISO 8601 text: a share in Paris local time with +01:00/+02:00, the rest with Z."""
        off = self.offset(t)
        use_local = rng.random(len(t)) < local_share
        wall = (t + np.where(use_local, off, 0) + self.epoch).astype("datetime64[s]")
        text = pc.strftime(pa.array(wall), format="%Y-%m-%dT%H:%M:%S")
        code = np.where(use_local, np.where(off == HOUR, 1, 2), 0)
        return join(text, take(["Z", "+01:00", "+02:00"], code))

    def dates(self, day: np.ndarray) -> pa.Array:
        """YYYY-MM-DD text for day numbers (may be negative: before the window)."""
        base = np.datetime64(self.start.date(), "D")
        return pa.array(base + day.astype("timedelta64[D]")).cast(pa.string())

    def timestamps(self, t: np.ndarray) -> pa.Array:
        """A UTC timestamp array (microseconds) for Parquet."""
        us = (t.astype(np.int64) + self.epoch) * 1_000_000
        return pa.array(us, pa.timestamp("us", tz="UTC"))


def sort_by(*keys: np.ndarray) -> np.ndarray:
    """Stable order by the given keys, the first key most significant."""
    return np.lexsort(tuple(reversed(keys)))


def rank_within(groups: np.ndarray) -> np.ndarray:
    """0-based position of each row inside its run of equal (sorted) group values."""
    n = len(groups)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    start = np.ones(n, dtype=bool)
    start[1:] = groups[1:] != groups[:-1]
    first = np.maximum.accumulate(np.where(start, np.arange(n), 0))
    return np.arange(n) - first
