"""Cleanup: delete what one run created, and only that.

A record is deleted only if its vendor id is in the ledger for that run *and* the vendor
lists it under the tag the harness gave it (the run's, or a suite's probe tag kept in the record's
ledger payload); a ledger written against another vendor or another instance
is refused.  Rows a killed run left without a vendor id are first looked up by the tag
(``Seeder.reconcile``), so a record whose create answer was lost is cleaned up too.  A delete the
vendor fails is reported and left in the ledger; running cleanup again deletes what is left.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from poc_harness.adapter import CRMAdapter, RecordKind
from poc_harness.earlier_run import earlier_run
from poc_harness.errors import ConfigError, VendorError, VendorUnreachable
from poc_harness.ledger import Ledger, SeededRecord
from poc_harness.seeding import Seeder

ORDER = list(reversed(list(RecordKind)))


@dataclass
class CleanupReport:
    deleted: list[SeededRecord] = field(default_factory=list)
    already_gone: list[SeededRecord] = field(default_factory=list)
    unbound: list[SeededRecord] = field(default_factory=list)
    """Ledger rows whose create never reached the vendor: nothing to delete."""
    untagged: list[SeededRecord] = field(default_factory=list)
    """Ledger ids the vendor does not list under the run's tag: gone, or not ours any more; left alone."""
    failed: list[tuple[SeededRecord, str]] = field(default_factory=list)
    """Deletes the vendor refused or failed (with why): still in the ledger, for the next cleanup."""


def plan(ledger: Ledger, run_id: str) -> list[SeededRecord]:
    """The run's live records, children first (deals and activities before leads before accounts)."""
    records = ledger.records(run_id, live_only=True)
    return sorted(records, key=lambda record: ORDER.index(RecordKind(record.kind)))


def cleanup(adapter: CRMAdapter, ledger: Ledger, run_id: str, vendor: str, dry_run: bool) -> CleanupReport:
    run = earlier_run(adapter, ledger, run_id, vendor, f"cleanup --run {run_id}", "nothing to clean up")
    seeder = Seeder(adapter, ledger, run_id, run["tag"], lambda: datetime.now(UTC))
    if not dry_run:
        seeder.reconcile()  # rows a killed run left without an id get the ids the vendor gave them
    records = plan(ledger, run_id)
    bound = [record for record in records if record.vendor_id is not None]
    report = CleanupReport(unbound=[record for record in records if record.vendor_id is None])

    def tag_of(record: SeededRecord) -> tuple[str, str]:  # a probe's records carry a tag of their own
        return record.kind, str(record.payload.get("tag") or run["tag"])

    tagged = {
        (kind, tag): set(adapter.find_tagged(RecordKind(kind), tag))
        for kind, tag in dict.fromkeys(tag_of(record) for record in bound)
    }

    def carries(record: SeededRecord) -> bool:
        assert record.vendor_id is not None
        kind, tag = tag_of(record)
        return record.vendor_id in tagged[kind, tag] or adapter.carries_tag(
            RecordKind(kind), record.vendor_id, tag
        )

    carrying: list[SeededRecord] = []
    untagged: list[SeededRecord] = []
    for record in bound:
        (carrying if carries(record) else untagged).append(record)
    if bound and not carrying:
        raise ConfigError(
            f"none of the {len(bound)} records of run {run_id} carries its tag {run['tag']} at vendor "
            f"'{vendor}': is this the instance the run used? nothing deleted"
        )
    report.untagged = untagged
    for record in carrying:
        assert record.vendor_id is not None
        if dry_run:
            report.deleted.append(record)
            continue
        try:
            existed = adapter.delete(RecordKind(record.kind), record.vendor_id)
        except VendorUnreachable:
            raise
        except VendorError as exc:  # one failed delete does not stop the others; a rerun retries it
            report.failed.append((record, str(exc)))
            continue
        ledger.mark_deleted(run_id, record.kind, record.key, datetime.now(UTC))
        (report.deleted if existed else report.already_gone).append(record)
    return report
