"""Cleanup: delete what one run created, and only that.

What one run created is what carries its tag (the run's, or a suite's probe tag kept in a record's ledger
payload).  A ledger record is deleted when the vendor lists it under that tag; a ledger id the vendor no
longer lists under it (the tag was removed: not ours any more) is left alone.  Rows a killed run left
without a vendor id are first looked up by the tag (``Seeder.reconcile``); every other record the vendor
lists under the tag although the ledger never got its id (a write answered 5xx that was applied upstream, a
duplicate) is deleted too, and listed.  Nothing untagged is touched.  A ledger written against another
vendor or another instance is refused.  A delete the vendor fails is reported and left in the ledger;
afterwards the tags are listed again, and whatever still carries them is reported (``remaining``): the
command exits non-zero until nothing tagged is left.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from poc_harness.adapter import CRMAdapter, RecordKind
from poc_harness.earlier_run import earlier_run
from poc_harness.errors import (
    CapabilityMissing,
    ConfigError,
    NotImplementedByAdapter,
    VendorError,
    VendorUnreachable,
)
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
    unlisted: list[tuple[str, str, str]] = field(default_factory=list)
    """(kind, vendor id, tag) of records under the run's tags the ledger never had an id for: deleted."""
    remaining: list[tuple[str, str, str]] = field(default_factory=list)
    """(kind, vendor id, tag) of records still under the run's tags after cleanup: run it again."""

    @property
    def complete(self) -> bool:
        """Nothing tagged is left and no delete failed."""
        return not self.remaining and not self.failed


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
        except (VendorError, NotImplementedByAdapter) as exc:  # one failed delete does not stop the others
            report.failed.append((record, str(exc)))
            continue
        ledger.mark_deleted(run_id, record.kind, record.key, datetime.now(UTC))
        (report.deleted if existed else report.already_gone).append(record)
    tags = sorted({run["tag"], *(tag for _, tag in map(tag_of, ledger.records(run_id)))})
    known = {record.vendor_id for record in ledger.records(run_id) if record.vendor_id}
    strangers = [found for found in _tagged(adapter, tags) if found[1] not in known]
    report.unlisted = _delete_unlisted(adapter, strangers, dry_run, report)
    if not dry_run:
        report.remaining = _tagged(adapter, tags)
    return report


def _tagged(adapter: CRMAdapter, tags: list[str]) -> list[tuple[str, str, str]]:
    """(kind, vendor id, tag) of every record the vendor lists under ``tags``, children first."""
    found: list[tuple[str, str, str]] = []
    for kind in ORDER:
        for tag in tags:
            try:
                found += [(kind.value, vendor_id, tag) for vendor_id in adapter.find_tagged(kind, tag)]
            except (CapabilityMissing, NotImplementedByAdapter):  # none: lacked, or not implemented
                break
    return found


def _delete_unlisted(
    adapter: CRMAdapter, strangers: list[tuple[str, str, str]], dry_run: bool, report: CleanupReport
) -> list[tuple[str, str, str]]:
    """Delete the tagged records the ledger never had an id for; those deleted (or, dry, to delete)."""
    deleted: list[tuple[str, str, str]] = []
    for kind, vendor_id, tag in strangers:
        if not dry_run:
            try:
                adapter.delete(RecordKind(kind), vendor_id)
            except VendorUnreachable:
                raise
            except (VendorError, NotImplementedByAdapter) as exc:
                stand_in = SeededRecord("", kind, f"(not in the ledger, tag {tag})", vendor_id, {})
                report.failed.append((stand_in, str(exc)))
                continue
        deleted.append((kind, vendor_id, tag))
    return deleted
