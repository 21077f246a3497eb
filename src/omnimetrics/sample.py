"""The first bytes of a text source file, decoded: what readers sniff a delimiter and a header
from (ingest and ready-made path tables alike). Plain Python: no engine is loaded."""

from __future__ import annotations

from pathlib import Path

from omnimetrics.errors import SourceError

SAMPLE_BYTES = 64 * 1024
"""How much of a file is read to sniff its encoding, delimiter and header."""


def read_sample(path: Path, encoding: str | None, hint: str) -> tuple[str, str]:
    """(encoding, text) of a file's first bytes: the encoding given, else UTF-16 by its byte
    order mark, else UTF-8 (a BOM dropped); a character cut at the end of the sample is left
    out. `hint` says how to pass another encoding. An empty file is an error."""
    with path.open("rb") as handle:
        raw = handle.read(SAMPLE_BYTES)
    if encoding is None:
        encoding = "utf-16" if raw.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf8"
    codec = "utf-8-sig" if encoding.replace("-", "").lower() == "utf8" else encoding
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError as exc:
        if len(raw) == SAMPLE_BYTES and exc.start > len(raw) - 4:
            text = raw[: exc.start].decode(codec)
        else:
            raise SourceError(
                f"{path}: byte {exc.start} is not valid {encoding}. Pass the file's encoding, "
                f"e.g. {hint} latin-1 (or cp1252)."
            ) from None
    except LookupError:
        raise SourceError(f"Unknown encoding {encoding!r}; e.g. utf8, latin-1, cp1252.") from None
    if not text.strip():
        raise SourceError(f"{path}: the file is empty; there is nothing to read.")
    return encoding, text
