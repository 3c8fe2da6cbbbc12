"""What a batch create takes and answers, one entry per record (``CRMAdapter.create_batch``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from poc_harness.contract.model import Account, Contact, Lead
from poc_harness.errors import HarnessError

if TYPE_CHECKING:
    from poc_harness.contract.adapter import CRMAdapter, RecordKind


@dataclass(frozen=True)
class BatchItem:
    """One record of a batch: an account, a contact (under ``parent_id``, its account's vendor id) or a
    lead (backdated to ``at`` where given)."""

    record: Account | Contact | Lead
    parent_id: str | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class BatchResult:
    """One item's outcome: its vendor id, or why it failed; ``maybe_applied`` when the vendor may have
    created it although no answer said so (look it up before submitting it again)."""

    vendor_id: str | None
    error: str | None = None
    maybe_applied: bool = False

    @property
    def ok(self) -> bool:
        return self.vendor_id is not None


def create_alone(adapter: CRMAdapter, kind: RecordKind, item: BatchItem) -> str:
    """Create one batch item through the adapter's single create (``create_account`` and so on)."""
    record = item.record
    if kind == "account" and isinstance(record, Account):
        return adapter.create_account(record)
    if kind == "contact" and isinstance(record, Contact) and item.parent_id:
        return adapter.create_contact(record, item.parent_id)
    if kind == "lead" and isinstance(record, Lead):
        return adapter.create_lead(record, item.at)
    raise HarnessError(f"cannot create a {kind} from a {type(record).__name__} alone")
