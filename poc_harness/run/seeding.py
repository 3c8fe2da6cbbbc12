"""Seeding through the ledger: each record is written to the ledger before its create call, and its
vendor id right after, so a crash never loses track of what reached the vendor; a resumed run skips
what it already created (no duplicates).

When a create's answer is lost or in doubt (a 5xx, a timeout, a dropped connection, a kill between the
vendor's commit and the ledger's write) the record is looked up by the run's tag: by the harness's key
where the vendor keeps it, else as the single tagged record the ledger does not know yet; only a
record provably not there is sent again (``poc_harness.transport.writes``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from pydantic import BaseModel

from fixtures.factories import Dataset
from poc_harness.contract.adapter import Capability, CRMAdapter, RecordKind
from poc_harness.contract.batches import BatchItem, BatchResult, failed_all
from poc_harness.contract.model import Lead
from poc_harness.errors import CapabilityMissing, Refused, VendorError, VendorUnreachable
from poc_harness.run.ledger import Ledger, SeededRecord
from poc_harness.transport.writes import write_once


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


SEEDED_KINDS = frozenset(
    {RecordKind.REP, RecordKind.ACCOUNT, RecordKind.CONTACT, RecordKind.LEAD, RecordKind.TICKET}
)
"""What seeding creates (and so reconciles before it seeds again): the stories' records are theirs."""


class Seeder:
    def __init__(
        self, adapter: CRMAdapter, ledger: Ledger, run_id: str, tag: str, now: Callable[[], datetime]
    ) -> None:
        self.adapter = adapter
        self.ledger = ledger
        self.run_id = run_id
        self.tag = tag
        self.now = now
        self.recovered: list[str] = []
        """Keys of records whose create answer was lost but which the vendor had created."""
        self.resubmitted: list[str] = []
        """Keys of records a batch create failed and that were submitted again on their own."""

    def create(
        self, kind: RecordKind, record: BaseModel | dict[str, object], key: str, call: Callable[[], str]
    ) -> str:
        """Ledger first, then the vendor, then the vendor's id into the ledger.  A call raising
        ``Refused`` (the vendor answered, creating nothing) closes the ledger row and re-raises."""
        known = self.ledger.vendor_id(self.run_id, kind.value, key)
        if known is not None:
            return known
        payload = record.model_dump(mode="json") if isinstance(record, BaseModel) else dict(record)
        self.ledger.intend(self.run_id, kind.value, key, payload, self.now())
        try:
            vendor_id = write_once(call, lambda: self._found(kind, key))
        except Refused:
            self.ledger.mark_deleted(self.run_id, kind.value, key, self.now())  # nothing to clean up
            raise
        self.ledger.bind(self.run_id, kind.value, key, vendor_id, self.now())
        return vendor_id

    def _found(self, kind: RecordKind, key: str) -> str | None:
        """The vendor id of ``key`` if a create whose answer was in doubt did create it."""
        found = self._lookup(kind, [key]).get(key)
        if found is not None:
            self.recovered.append(key)
        return found

    def _lookup(self, kind: RecordKind, keys: list[str]) -> dict[str, str]:
        """Which of ``keys`` (ledger rows without a vendor id) the vendor did create, by the run's tag:
        by the harness's key where the vendor keeps it; else, for a single missing key, the single
        tagged record the ledger does not know."""
        return self._settle(kind, keys)[0]

    def _settle(self, kind: RecordKind, keys: list[str]) -> tuple[dict[str, str], bool]:
        """``_lookup``'s finding, and whether the keys it did not find are provably not at the vendor
        (the vendor keeps the keys, or no tagged record is left unexplained): only those may be sent
        again."""
        known = {r.vendor_id for r in self.ledger.records(self.run_id, kind.value) if r.vendor_id}
        refs = self.adapter.find_tagged_refs(kind, self.tag)
        refs_kept = refs is not None
        if refs is None:
            refs = dict.fromkeys(self.adapter.find_tagged(kind, self.tag))
        wanted = set(keys)
        found = {key: vid for vid, key in refs.items() if key in wanted and vid not in known}
        missing = [key for key in keys if key not in found]
        strangers = [vid for vid, key in refs.items() if key is None and vid not in known]
        if len(missing) == 1 and len(strangers) == 1:
            found[missing[0]] = strangers[0]
            strangers = []
        return found, refs_kept or not strangers

    def reconcile(self, kinds: frozenset[RecordKind] | None = None) -> list[SeededRecord]:
        """Give every ledger row (of ``kinds``, default every kind) left without a vendor id (a killed or
        failed run) the id of the record the vendor did create, if it did; return the rows still unbound
        (their create never reached it)."""
        unbound = [
            record
            for record in self.ledger.unbound(self.run_id)
            if kinds is None or RecordKind(record.kind) in kinds
        ]
        left: list[SeededRecord] = []
        for kind in dict.fromkeys(RecordKind(record.kind) for record in unbound):
            rows = [record for record in unbound if record.kind == kind.value]
            found = self._lookup(kind, [record.key for record in rows])
            for record in rows:
                if record.key in found:
                    self.ledger.bind(self.run_id, kind.value, record.key, found[record.key], self.now())
                    self.recovered.append(record.key)
                else:
                    left.append(record)
        return left

    def create_many(self, kind: RecordKind, items: list[BatchItem]) -> dict[str, str]:
        """Create accounts, contacts or leads through ``adapter.create_batch``, ``max_batch_size`` at a
        time: each batch goes into the ledger (one transaction) before its call and its successes right
        after.  Items whose result is in doubt (``maybe_applied``) are looked up by the run's tag and key;
        items the batch failed, or in doubt and provably not created, are submitted again on their own,
        once (``create``); items in doubt that the lookup cannot tell apart are never sent again.  Any
        item left failed raises one ``VendorError`` naming it.  Returns key -> vendor id, in the order of
        ``items``; items this run already created are not sent again."""
        ids = {r.key: r.vendor_id for r in self.ledger.records(self.run_id, kind.value) if r.vendor_id}
        todo = [item for item in items if item.record.key not in ids]
        size = max(1, self.adapter.max_batch_size)
        failed: list[BatchItem] = []
        held: list[str] = []
        for start in range(0, len(todo), size):
            chunk = todo[start : start + size]
            at = self.now()
            rows = [(item.record.key, item.record.model_dump(mode="json")) for item in chunk]
            self.ledger.intend_many(self.run_id, kind.value, rows, at)
            results = self._submit(kind, chunk)
            answered = list(zip(chunk, results, strict=True))
            created = {item.record.key: r.vendor_id for item, r in answered if r.vendor_id}
            self.ledger.bind_many(self.run_id, kind.value, created, at)  # before the lookup: not strangers
            unknown = [item.record.key for item, r in answered if r.maybe_applied and not r.vendor_id]
            if unknown:
                found, absent = self._settle(kind, unknown)
                self.ledger.bind_many(self.run_id, kind.value, found, at)
                created.update(found)
                self.recovered.extend(found)
                if not absent:  # sent again, they could be created twice: left unbound (cleanup finds them)
                    held += [key for key in unknown if key not in found]
            ids.update(created)
            failed += [item for item in chunk if item.record.key not in {*created, *held}]
        errors = [f"{key}: in doubt and not told apart by the run's tag, not sent again" for key in held]
        alone = self.adapter._create_alone  # the adapter's single create of one item
        for item in failed:
            key = item.record.key
            self.resubmitted.append(key)
            try:
                ids[key] = self.create(kind, item.record, key, partial(alone, kind, item))
            except CapabilityMissing:
                raise
            except VendorError as exc:
                errors.append(f"{key}: {exc}")
        if errors:
            raise VendorError(
                f"{len(errors)} of {len(items)} {kind.value} records failed in a batch and were not created "
                f"on their own either; the first: {errors[0]}"
            )
        return {item.record.key: ids[item.record.key] for item in items}

    def _submit(self, kind: RecordKind, chunk: list[BatchItem]) -> list[BatchResult]:
        """One batch call; a call that failed as a whole fails each of its items (maybe applied or not)."""
        try:
            results = self.adapter.create_batch(kind, chunk)
        except (VendorUnreachable, CapabilityMissing):
            raise
        except VendorError as exc:
            if exc.on_resolved is not None:  # in doubt: every item is looked up, the missing sent alone
                exc.on_resolved()
            return failed_all(len(chunk), exc)
        if len(results) != len(chunk):
            raise VendorError(f"{self.adapter.name}: batch of {len(chunk)} answered {len(results)} results")
        return results

    def seed(self, dataset: Dataset, arrival: Callable[[Lead], datetime | None]) -> SeededWorld:
        """Create the dataset (or a part of it); a resumed run first reconciles what its killed predecessor
        left unbound.  The trial marks the run *past seeding* once every lead has arrived."""
        return self._seed(dataset, arrival)

    def _seed(self, dataset: Dataset, arrival: Callable[[Lead], datetime | None]) -> SeededWorld:
        self.reconcile(SEEDED_KINDS)  # a story's write in doubt (an activity, a deal) is its own business
        world = SeededWorld()
        adapter = self.adapter
        if adapter.has(Capability.USER_ADMIN):
            for rep in dataset.reps:
                world.reps[rep.key] = self.create(
                    RecordKind.REP, rep, rep.key, functools.partial(adapter.create_sales_rep, rep)
                )
        elif adapter.has(Capability.AUTO_ASSIGN):
            world.reps = {f"existing-{vid}": vid for vid in adapter.list_sales_reps()}
        if adapter.has(Capability.BATCH_CREATE):
            self._seed_in_batches(dataset, arrival, world)
            return world
        for account in dataset.accounts:
            world.accounts[account.key] = self.create(
                RecordKind.ACCOUNT, account, account.key, functools.partial(adapter.create_account, account)
            )
        for contact in dataset.contacts:
            account_id = world.accounts[contact.account_key]
            world.contacts[contact.key] = self.create(
                RecordKind.CONTACT,
                contact,
                contact.key,
                functools.partial(adapter.create_contact, contact, account_id),
            )
        for lead in dataset.leads:
            backdated = arrival(lead)
            created = self.ledger.created_at(self.run_id, RecordKind.LEAD.value, lead.key)
            world.arrivals[lead.key] = backdated or created or self.now()
            world.leads[lead.key] = self.create(
                RecordKind.LEAD, lead, lead.key, functools.partial(adapter.create_lead, lead, backdated)
            )
        return world

    def _seed_in_batches(
        self, dataset: Dataset, arrival: Callable[[Lead], datetime | None], world: SeededWorld
    ) -> None:
        """Accounts, contacts and leads through ``create_many``; a lead arrived when its batch was sent."""
        world.accounts = self.create_many(RecordKind.ACCOUNT, [BatchItem(a) for a in dataset.accounts])
        contacts = [BatchItem(c, parent_id=world.accounts[c.account_key]) for c in dataset.contacts]
        world.contacts = self.create_many(RecordKind.CONTACT, contacts)
        backdated = {lead.key: arrival(lead) for lead in dataset.leads}
        leads = [BatchItem(lead, at=backdated[lead.key]) for lead in dataset.leads]
        world.leads = self.create_many(RecordKind.LEAD, leads)
        created = {r.key: r.created_at for r in self.ledger.records(self.run_id, RecordKind.LEAD.value)}
        for lead in dataset.leads:
            world.arrivals[lead.key] = backdated[lead.key] or created.get(lead.key) or self.now()
