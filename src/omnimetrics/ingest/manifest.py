"""Load a folder described by its manifest.json, file by file, in the manifest's order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from omnimetrics.errors import SourceError
from omnimetrics.ingest.report import IngestReport, Progress, silent

if TYPE_CHECKING:
    from omnimetrics.warehouse import Warehouse


def load_manifest(
    wh: Warehouse, folder: str | Path, progress: Progress | None = None
) -> list[IngestReport]:
    """Ingest every file listed in a folder's manifest.json, in its order.

    manifest.json: {"files": [{"table": "orders", "path": "orders_web.csv", "source": "web_shop"},
    ...]} (what `omnimetrics simulate` writes); an entry may give its file's "timezone".
    """
    folder = Path(folder)
    entries = _entries(folder)
    notify = progress or silent
    reports = []
    for number, entry in enumerate(entries):
        notify(f"loading {entry['path']}", number / len(entries))
        reports.append(
            wh.ingest(
                entry["table"],
                folder / entry["path"],
                source_name=entry.get("source"),
                timezone=entry.get("timezone"),
            )
        )
    return reports


def _entries(folder: Path) -> list[dict]:
    """The `files` list of the folder's manifest.json."""
    manifest_path = folder / "manifest.json"
    if not manifest_path.exists():
        raise SourceError(
            f"{folder} has no manifest.json. Load files one by one with `omnimetrics ingest`."
        )
    try:
        return json.loads(manifest_path.read_text(encoding="utf-8"))["files"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise SourceError(
            f"{manifest_path}: not a manifest ({exc}); it needs a `files` list."
        ) from None
