"""Workspace methods that load data and follow customers: ingest, identity, journeys."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from omnimetrics.config import JourneySettings, Settings
from omnimetrics.errors import OmnimetricsError
from omnimetrics.results import Result

if TYPE_CHECKING:
    from omnimetrics.ingest import CsvOptions, IngestReport
    from omnimetrics.warehouse import Warehouse

Progress = Callable[[str, float], None]
DEFAULT_FUNNEL = ("visit", "product_view", "add_to_cart", "checkout")
FRESHNESS_COLUMNS = ("timestamp", "date", "finished_at")
"""The column that says how recent a table is: the first of these it has."""


def quiet(step: str, fraction: float) -> None:
    """Progress that shows nothing."""


class DataMethods:
    """Loading data, resolving identities, building and reading journeys."""

    warehouse: Warehouse
    settings: Settings
    journey_settings: JourneySettings

    # -- loading -------------------------------------------------------------------------------
    def ingest(
        self,
        table: str,
        source: str | Path | Sequence[str | Path],
        *,
        columns: Mapping[str, str] | None = None,
        source_name: str | None = None,
        csv: CsvOptions | None = None,
        format: str | None = None,
        timezone: str | None = None,
        progress: Progress = quiet,
    ) -> Result:
        """Validate, pseudonymise and load files into `table`; rejects go to quarantine."""
        report = self.warehouse.ingest(
            table, source, columns=columns or {}, source_name=source_name, csv=csv,
            format=format, timezone=timezone, progress=progress,
        )  # fmt: skip
        return _ingested(f"Ingested into {table} ({report.seconds:.1f} s)", [report])

    def load(self, folder: str | Path, *, progress: Progress = quiet) -> Result:
        """Ingest every file of a folder described by its manifest.json (a simulated world)."""
        reports = self.warehouse.load(folder, progress=progress)
        return _ingested(f"Loaded {folder}", reports)

    def tables(self) -> Result:
        """The warehouse tables and their row counts."""
        return Result("tables", "Warehouse tables", self.warehouse.summary())

    def quarantine(
        self, *, table: str | None = None, reason: str | None = None, limit: int | None = 50
    ) -> Result:
        """Rejected rows: file, row, column, reason, message and the raw record."""
        rows = self.warehouse.quarantine()
        if table:
            rows = rows.filter(rows.table_name == table)
        if reason:
            rows = rows.filter(rows.reason == reason)
        total = int(rows.count().execute())
        rows = rows.order_by(["table_name", "source_file", "source_row"])
        if limit is not None:
            rows = rows.limit(limit)
        return Result.of("quarantine", "Quarantine", rows, figures={"rows": total})

    def quality(self, *, match_rates: bool = True) -> Result:
        """Data quality: rows and latest time per table (freshness); parts: the ingest ledger by
        table (files and collector batches) and quarantined rows by reason; figures: the shares
        of orders linked to an identified person (after a run; `match_rates=False` skips them:
        they join orders to the identity graph)."""
        wh = self.warehouse
        # The stored pages (agg_*) are the last run's outputs, not data: the runs table dates them.
        # Views (identity_links) are computed when read: counting them would recompute them.
        views = wh.views()
        names = [t for t in wh.tables() if not t.startswith("agg_") and t not in views]
        counts = [{"table": t, "rows": int(wh.table(t).count().execute())} for t in names]
        latest = []
        for row in counts:
            table = wh.table(row["table"])
            column = next((c for c in FRESHNESS_COLUMNS if c in table.columns), None)
            latest.append(table[column].max().execute() if column else None)
        freshness = pa.table({
            "table": [r["table"] for r in counts], "rows": [r["rows"] for r in counts],
            "latest": pa.array([v if v is None else v.isoformat() for v in latest], pa.string()),
        })  # fmt: skip
        parts = []
        if "ingest_batches" in wh.tables():
            ledger = wh.table("ingest_batches")
            by_table = ledger.group_by("table_name").agg(
                batches=ledger.count(), rows_read=ledger.rows_read.sum(),
                accepted=ledger.accepted.sum(), duplicates=ledger.duplicates.sum(),
                quarantined=ledger.quarantined.sum(), suppressed=ledger.suppressed.sum(),
                last_ingest=ledger.finished_at.max(),
            )  # fmt: skip
            title = "Ingest ledger by table (collector: events received by `omnimetrics serve`)"
            parts.append(Result.of("ingest", title, by_table.order_by("table_name")))
        rejected = wh.quarantine()
        reasons = rejected.group_by(["table_name", "reason"]).agg(rows=rejected.count())
        parts.append(Result.of("quarantine_reasons", "Quarantined rows by reason",
                               reasons.order_by(["table_name", "reason"])))  # fmt: skip
        figures: dict[str, float] = {}
        if match_rates and "identity_graph" in wh.tables():
            from omnimetrics.identity.persons import match_rates

            try:
                figures = {f"{k} of identified persons": v for k, v in match_rates(wh).items()}
            except OmnimetricsError:  # no orders yet
                figures = {}
        return Result("quality", "Data quality: rows and latest time per table", freshness,
                      parts=tuple(parts), figures=figures)  # fmt: skip

    # -- one customer across channels ---------------------------------------------------------
    def identity(
        self,
        *,
        max_links: Mapping[str, int] | None = None,
        max_per_person: Mapping[str, int] | None = None,
    ) -> Result:
        """Resolve identities into persons; how much of the data they link."""
        report = self.warehouse.resolve_identities(
            max_links=dict(max_links or {}), max_per_person=dict(max_per_person or {})
        )
        counts = {
            "identifiers": report.identifiers, "links": report.links, "persons": report.persons,
            "shared identifiers kept out": report.excluded,
            "identifiers set apart (per-person limits)": report.split,
            "persons still over a per-person limit": report.conflicts,
            "iterations": report.iterations,
        }  # fmt: skip
        shares = {f"{k} of identified persons": v for k, v in report.match.items()}
        values = [f"{v:,}" for v in counts.values()] + [f"{v:.1%}" for v in shares.values()]
        table = pa.table({"figure": [*counts, *shares], "value": values})
        note = (
            "Persons are everyone the data can tell apart, not only customers: a cookie or a "
            "device never linked to an email, a login or a loyalty card is a person of its own "
            "(so there are more persons than customers). The shares above are of identified "
            "persons: those with a customer id, loyalty card, email or phone."
        )
        return Result("identity", "Identity resolution", table, figures={**counts, **shares},
                      notes=(note,))  # fmt: skip

    def channels(self) -> Result:
        """Touchpoints by channel, and the sources no rule matched."""
        import ibis

        from omnimetrics.channels import UNASSIGNED, unassigned_sources

        classified = self.warehouse.classify_channels()
        counts = classified.group_by("channel").agg(touchpoints=classified.count())
        counts = counts.order_by(ibis.desc("touchpoints"))
        unknown = Result.of(
            "unassigned", f"No rule matched ({UNASSIGNED}): add a [[channels.rules]] entry",
            unassigned_sources(classified),
        )  # fmt: skip
        title = "Touchpoints by channel (null: inherits its session's channel)"
        return Result.of("channels", title, counts, parts=(unknown,))

    def build_journeys(self, *, progress: Progress = quiet) -> None:
        """Resolve identities, classify channels and build `events` (sessions, touches)."""
        from omnimetrics import journeys as jr

        progress("resolving identities", 0.1)
        self.warehouse.resolve_identities()
        progress("building sessions", 0.5)
        jr.build_events(self.warehouse)

    def journeys(
        self,
        *,
        top: int = 15,
        funnel: Sequence[str] = DEFAULT_FUNNEL,
        by: str | None = None,
        build: bool = True,
        progress: Progress = quiet,
    ) -> Result:
        """Paths, ROPO, channel switches, funnel, exits, lengths and time to convert."""
        from omnimetrics import journeys as jr
        from omnimetrics.workspace import checks

        checks.funnel_steps(funnel)
        checks.at_least("--top", top, 1)
        checks.at_most("--top", top, 10_000_000)
        if build:
            self.build_journeys(progress=progress)
        progress("summarising", 0.8)
        wh, lookback = self.warehouse, self.journey_settings.lookback_days
        persons = None
        if by and by not in wh.table("events").columns:
            from omnimetrics.metrics.segments import person_segments

            persons = person_segments(wh)
        parts = (
            Result.of("ropo", "Research online, purchase offline (and the reverse)",
                      jr.ropo(wh, by_channel=True, evidence=True)),
            Result.of("transitions", "Channel transitions within journeys",
                      jr.channel_transitions(wh).limit(10)),
            Result.of("funnel", "Funnel", jr.funnel(wh, list(funnel), by=by, persons=persons)),
            Result.of("exits", "Where journeys that did not convert stop",
                      jr.journey_exits(wh).limit(10)),
            Result.of("lengths", "Touches per conversion journey", jr.journey_lengths(wh)),
            Result.of("time_to_convert", "Time from first touch to order", jr.time_to_convert(wh)),
        )  # fmt: skip
        title = f"Top conversion paths ({lookback}-day lookback)"
        return Result.of("paths", title, jr.path_summary(wh, top=top), parts=parts)

    def timeline(self, identifier: str, identifier_type: str | None = None) -> Result:
        """Every interaction of one person on every channel, in order."""
        from omnimetrics import journeys as jr
        from omnimetrics.identity import find_person

        person = find_person(self.warehouse, identifier, identifier_type)
        events = Result.of("timeline", f"Timeline of {person}", jr.timeline(self.warehouse, person),
                           figures={"person_id": person})  # fmt: skip
        if not events.num_rows:
            return events.with_notes(
                f"{identifier} is known (person {person}) but has no touchpoint, order or survey "
                "answer: only profile or identity records."
            )
        return events

    def erase(self, identifier: str, identifier_type: str | None = None) -> Result:
        """Erase a person (every linked identifier) from every table; suppress later data."""
        report = self.warehouse.erase(identifier, identifier_type)
        rows = pa.table({"table": list(report.rows_deleted),
                         "rows_deleted": list(report.rows_deleted.values())})  # fmt: skip
        title = f"Erased {report.person_id} ({report.identifiers} identifiers)"
        figures = {"person_id": report.person_id, "identifiers": report.identifiers,
                   "file_rewritten": report.file_rewritten}  # fmt: skip
        return Result("erase", title, rows, figures=figures)


def _ingested(title: str, reports: list[IngestReport]) -> Result:
    """Ingest reports as one result: a row per file, the totals, and what to look at."""
    table = pa.concat_tables([r.to_arrow() for r in reports]) if reports else pa.table({})
    notes: list[str] = []
    for report in reports:
        for path, names in report.ignored_columns.items():
            notes.append(
                f"{Path(path).name}: columns not in the contract, ignored: {', '.join(names)}"
            )
        if report.reasons:
            reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(report.reasons.items()))
            notes.append(
                f"{report.table}: quarantined by reason: {reasons}. See `omnimetrics quarantine`."
            )
        if report.updated:
            notes.append(
                f"{report.table}: {report.updated:,} stored rows replaced by a preferred report."
            )
    totals = {
        name: sum(getattr(r, name) for r in reports)
        for name in ("rows_read", "accepted", "duplicates", "quarantined", "suppressed", "updated")
    }
    return Result("ingest", title, table, figures=totals, notes=tuple(notes))


def as_day(value: date | datetime | str | None) -> date | None:
    """A day from a date, a datetime or an ISO string (None stays None)."""
    if value is None or type(value) is date:
        return value  # type: ignore[return-value]
    if isinstance(value, datetime):
        return value.date()
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise OmnimetricsError(f"{value!r} is not a day; write it as YYYY-MM-DD.") from None
