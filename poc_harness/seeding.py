"""Seeding through the ledger: each record is written to the ledger before its create call, and its
vendor id right after, so a crash never loses track of what reached the vendor; a resumed run skips
what it already created (no duplicates)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from fixtures.factories import Dataset
from poc_harness.adapter import Capability, CRMAdapter, RecordKind
from poc_harness.ledger import Ledger
from poc_harness.model import Lead, Record


@dataclass
class SeededWorld:
    """Vendor ids of everything seeded in this run, by the harness's keys."""

    reps: dict[str, str] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)
    contacts: dict[str, str] = field(default_factory=dict)
    leads: dict[str, str] = field(default_factory=dict)
    arrivals: dict[str, datetime] = field(default_factory=dict)

    @property
    def rep_ids(self) -> list[str]:
        return list(self.reps.values())


class Seeder:
    def __init__(self, adapter: CRMAdapter, ledger: Ledger, run_id: str, now: Callable[[], datetime]) -> None:
        self.adapter = adapter
        self.ledger = ledger
        self.run_id = run_id
        self.now = now

    def create(
        self, kind: RecordKind, record: Record | dict[str, object], key: str, call: Callable[[], str]
    ) -> str:
        """Ledger first, then the vendor, then the vendor's id into the ledger."""
        known = self.ledger.vendor_id(self.run_id, kind.value, key)
        if known is not None:
            return known
        payload = record.model_dump(mode="json") if isinstance(record, Record) else dict(record)
        self.ledger.intend(self.run_id, kind.value, key, payload, self.now())
        vendor_id = call()
        self.ledger.bind(self.run_id, kind.value, key, vendor_id, self.now())
        return vendor_id

    def seed(self, dataset: Dataset, arrival: Callable[[Lead], datetime | None]) -> SeededWorld:
        world = SeededWorld()
        adapter = self.adapter
        if adapter.has(Capability.USER_ADMIN):
            for rep in dataset.reps:
                world.reps[rep.key] = self.create(
                    RecordKind.REP, rep, rep.key, lambda rep=rep: adapter.create_sales_rep(rep)
                )
        elif adapter.has(Capability.AUTO_ASSIGN):
            world.reps = {f"existing-{vid}": vid for vid in adapter.list_sales_reps()}
        for account in dataset.accounts:
            world.accounts[account.key] = self.create(
                RecordKind.ACCOUNT, account, account.key, lambda a=account: adapter.create_account(a)
            )
        for contact in dataset.contacts:
            account_id = world.accounts[contact.account_key]
            world.contacts[contact.key] = self.create(
                RecordKind.CONTACT,
                contact,
                contact.key,
                lambda c=contact, a=account_id: adapter.create_contact(c, a),
            )
        for lead in dataset.leads:
            backdated = arrival(lead)
            world.arrivals[lead.key] = backdated or self.now()
            world.leads[lead.key] = self.create(
                RecordKind.LEAD, lead, lead.key, lambda le=lead, at=backdated: adapter.create_lead(le, at)
            )
        return world
