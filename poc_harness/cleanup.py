"""Cleanup: delete what one run created, and only that: records listed in the ledger for that run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from poc_harness.adapter import CRMAdapter, RecordKind
from poc_harness.errors import ConfigError
from poc_harness.ledger import Ledger, SeededRecord

ORDER = list(reversed(list(RecordKind)))


@dataclass
class CleanupReport:
    deleted: list[SeededRecord] = field(default_factory=list)
    already_gone: list[SeededRecord] = field(default_factory=list)
    unbound: list[SeededRecord] = field(default_factory=list)


def plan(ledger: Ledger, run_id: str) -> list[SeededRecord]:
    """The run's live records, children first (deals and activities before leads before accounts)."""
    records = ledger.records(run_id, live_only=True)
    return sorted(records, key=lambda record: ORDER.index(RecordKind(record.kind)))


def cleanup(adapter: CRMAdapter, ledger: Ledger, run_id: str, vendor: str, dry_run: bool) -> CleanupReport:
    run = ledger.run(run_id)
    if run is None:
        raise ConfigError(f"run {run_id} is not in the ledger {ledger.path}: check the run id")
    if run["vendor"] != vendor:
        raise ConfigError(
            f"run {run_id} was against vendor '{run['vendor']}', not '{vendor}': pass "
            f"--vendor={run['vendor']}"
        )
    if not adapter.persistent:
        raise ConfigError(
            f"vendor '{vendor}' keeps no data between runs (an in-process reference CRM): nothing to clean up"
        )
    report = CleanupReport()
    for record in plan(ledger, run_id):
        if record.vendor_id is None:
            report.unbound.append(record)
            continue
        if dry_run:
            report.deleted.append(record)
            continue
        existed = adapter.delete(RecordKind(record.kind), record.vendor_id)
        ledger.mark_deleted(run_id, record.kind, record.key, datetime.now(UTC))
        (report.deleted if existed else report.already_gone).append(record)
    return report
