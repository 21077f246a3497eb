"""Ingest: files -> pseudonymised stream -> staged -> validated -> deduplicated -> stored.

Every row read ends in exactly one place: the table (accepted), a counted duplicate, or the
`quarantine` table with a reason. A whole call is one batch: committed together or not at all.
The flow, one module each:

- `readers`: files (CSV, Parquet, JSON Lines) -> Arrow batches numbered by source row;
- `door`: identifiers pseudonymised as the rows come in; `validate`: typed rows with a verdict;
- `stage`: one call's files read, checked and validated; `batch`: the call itself (`ingest`);
- `store`: one report per key, preferred reports replacing stored ones; `activation`: hashes
  for activation; `ledger`: quarantine rows, per-file counts, `ingest_batches`;
- `report`: what a call reports; `manifest`: a folder loaded from its manifest.json.
"""

from omnimetrics.ingest.batch import ingest
from omnimetrics.ingest.manifest import load_manifest
from omnimetrics.ingest.readers import CsvOptions
from omnimetrics.ingest.report import FileReport, IngestReport
from omnimetrics.ingest.validate import REASONS

__all__ = ["REASONS", "CsvOptions", "FileReport", "IngestReport", "ingest", "load_manifest"]
