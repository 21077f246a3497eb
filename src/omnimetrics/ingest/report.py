"""What an ingest call reports: per file, and in total for the call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa

Progress = Callable[[str, float], None]


def silent(step: str, fraction: float) -> None:
    """The progress callback used when none is given: reports nothing."""


@dataclass
class FileReport:
    """What happened to the rows of one file."""

    path: str
    rows_read: int = 0
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    suppressed: int = 0
    """Rows of erased persons: counted, never stored."""
    already_ingested: str | None = None
    """Batch id that already loaded a file with the same content; nothing was read again."""


@dataclass
class IngestReport:
    """Summary of one ingest call; accepted + duplicates + quarantined + suppressed == rows_read."""

    table: str
    batch: str
    files: list[FileReport]
    reasons: dict[str, int] = field(default_factory=dict)
    updated: int = 0
    """Accepted rows that replaced a stored row (a more trusted report, a newer CRM record)."""
    ignored_columns: dict[str, list[str]] = field(default_factory=dict)
    activation_identifiers: int = 0
    """New rows of `activation_identifiers` (only with `[privacy] activation_hashes = true`)."""
    seconds: float = 0.0

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def accepted(self) -> int:
        return sum(f.accepted for f in self.files)

    @property
    def duplicates(self) -> int:
        return sum(f.duplicates for f in self.files)

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.files)

    @property
    def suppressed(self) -> int:
        return sum(f.suppressed for f in self.files)

    def to_arrow(self) -> pa.Table:
        """One row per file, the columns a summary table shows."""
        return pa.table(
            {
                "table": [self.table] * len(self.files),
                "file": [f.path for f in self.files],
                "rows_read": [f.rows_read for f in self.files],
                "accepted": [f.accepted for f in self.files],
                "duplicates": [f.duplicates for f in self.files],
                "quarantined": [f.quarantined for f in self.files],
                "suppressed": [f.suppressed for f in self.files],
                "note": [
                    f"already ingested (batch {f.already_ingested})" if f.already_ingested else ""
                    for f in self.files
                ],
            }
        )
