"""Columnar accumulators for touchpoints and exposures, in integer codes until the very end."""

from __future__ import annotations

import numpy as np

# Identifier flags carried by a touchpoint row.
ANON, DEVICE, CUSTOMER, EMAIL, PHONE, LOYALTY = 1, 2, 4, 8, 16, 32

# Property kinds (what goes into the JSON `properties` column).
P_NONE, P_PAGE, P_PRODUCT, P_CART, P_CHECKOUT, P_VARIANT, P_CODE, P_STORE_SOURCE, P_OS = range(9)

APP_SLOT = 3  # device slot meaning "the app" (slots 0-2 are web browsers)
NO_DEVICE = -1

TOUCH_FIELDS: dict[str, tuple[type, int | float | bool]] = {
    "person": (np.int32, 0),
    "t": (np.int64, 0),
    "etype": (np.int8, 0),
    "chan": (np.int8, -1),
    "camp": (np.int16, -1),
    "role": (np.int8, 0),
    "style": (np.int16, -1),
    "dev": (np.int8, NO_DEVICE),
    "ids": (np.uint8, 0),
    "store": (np.int16, -1),
    "dur": (np.float32, np.nan),
    "prop": (np.int8, P_NONE),
    "pval": (np.int64, 0),
    "machine": (np.bool_, False),
    "order": (np.int64, -1),
}

EXPOSURE_FIELDS: dict[str, tuple[type, int | float | bool]] = {
    "person": (np.int32, 0),
    "origin": (np.int64, 0),  # when the trigger clock starts (send, impression, click)
    "chan": (np.int8, -1),
    "camp": (np.int16, -1),
    "row": (np.int64, -1),  # the touchpoint row that is the exposure
    "session": (np.int64, -1),  # a click-through visit an order can be placed in
    "session_dev": (np.int8, NO_DEVICE),
    "beta": (np.float64, 0.0),
    "delay": (np.float64, 1.0),  # mean delay, days
}


class Columns:
    """Chunks of equally long numpy columns, concatenated once."""

    def __init__(self, fields: dict[str, tuple[type, int | float | bool]]) -> None:
        self.fields = fields
        self.chunks: list[dict[str, np.ndarray]] = []
        self.size = 0

    def add(self, **cols: np.ndarray | int | float | bool) -> np.ndarray:
        """Append rows; scalars broadcast, missing fields take their default.

        Returns the global row numbers of the appended rows.
        """
        n = next(len(v) for v in cols.values() if isinstance(v, np.ndarray))
        chunk = {}
        for name, (dtype, default) in self.fields.items():
            value = cols.pop(name, default)
            if isinstance(value, np.ndarray):
                chunk[name] = value.astype(dtype, copy=False)
            else:
                chunk[name] = np.full(n, value, dtype=dtype)
        if cols:
            raise TypeError(f"unknown fields {sorted(cols)}")
        rows = np.arange(self.size, self.size + n, dtype=np.int64)
        self.chunks.append(chunk)
        self.size += n
        return rows

    def build(self) -> dict[str, np.ndarray]:
        out = {}
        for name, (dtype, _) in self.fields.items():
            parts = [c.pop(name) for c in self.chunks]
            out[name] = np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)
        self.chunks = []
        return out

    def peek(self, name: str) -> np.ndarray:
        """One field over all rows added so far (a copy)."""
        dtype = self.fields[name][0]
        parts = [c[name] for c in self.chunks]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def touches() -> Columns:
    return Columns(TOUCH_FIELDS)


def exposures() -> Columns:
    return Columns(EXPOSURE_FIELDS)
