"""What a batch create takes and answers, one entry per record (``CRMAdapter.create_batch``).

Plain data with no dependency on the adapter contract (which imports it): the dispatch of one item to
the adapter's single create is the adapter's own (``CRMAdapter._create_alone``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from poc_harness.contract.model import Account, Contact, Lead
from poc_harness.errors import HarnessError, VendorError

R = TypeVar("R", Account, Contact, Lead)


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


def record_of(item: BatchItem, kind: type[R]) -> R:
    """The item's record, which must be a ``kind`` (an account in a batch of accounts, and so on)."""
    if not isinstance(item.record, kind):
        raise HarnessError(f"a {type(item.record).__name__} in a batch of {kind.__name__.lower()}s")
    return item.record


def parent_of(item: BatchItem) -> str:
    """The vendor id of the account a contact item goes under."""
    if not item.parent_id:
        raise HarnessError(f"contact {item.record.key} in a batch without its account's id")
    return item.parent_id


def failed_all(count: int, exc: VendorError) -> list[BatchResult]:
    """The results of a batch call that failed as a whole: each item failed, maybe applied or not as the
    call's answer says."""
    return [BatchResult(None, str(exc), exc.maybe_applied)] * count


def partly_batched(
    items: list[BatchItem],
    carries: Callable[[BatchItem], bool],
    batch: Callable[[list[BatchItem]], list[BatchResult]],
    alone: Callable[[list[BatchItem]], list[BatchResult]],
) -> list[BatchResult]:
    """Results in the items' order: those the vendor's batch call ``carries`` go in one ``batch`` call,
    first (a batch call failing as a whole raises before anything else is sent), the others through
    ``alone`` (the contract's single creates)."""
    carried = [carries(item) for item in items]
    sent = [item for item, ok in zip(items, carried, strict=True) if ok]
    rest = [item for item, ok in zip(items, carried, strict=True) if not ok]
    in_batch = iter(batch(sent) if sent else [])
    by_one = iter(alone(rest) if rest else [])
    return [next(in_batch) if ok else next(by_one) for ok in carried]
