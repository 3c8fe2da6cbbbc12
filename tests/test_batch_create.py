"""Batch create: the reference CRM's multi-status batch endpoint, the adapter's ``create_batch`` and the
seeder's ``create_many`` (ledger first, one transaction per batch; failed items resubmitted once, alone;
nothing created twice)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from adapters.sandbox import SandboxAdapter, SandboxOptions
from fixtures.factories import build_dataset
from poc_harness.contract.adapter import Capability, RecordKind
from poc_harness.contract.batches import BatchItem
from poc_harness.contract.model import Contact
from poc_harness.errors import VendorError
from poc_harness.run.ledger import Ledger
from poc_harness.run.seeding import Seeder
from poc_harness.sandbox.app import create_app
from poc_harness.sandbox.batch import MAX_BATCH
from poc_harness.sandbox.transport import SyncASGITransport

TAG = "batchtest"


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    ledger.start_run("r1", "v", "sandbox", TAG, 1, 200, "en_US", "virtual", _now())
    return ledger


def _account(n: int) -> dict[str, str]:
    return {"name": f"Account {n}", "industry": "x", "city": "Tehran", "phone": "+982100000000"}


def test_batch_endpoint_answers_per_item_with_207_on_partial_failure() -> None:
    transport = SyncASGITransport(create_app("healthy", "t"))
    with httpx.Client(transport=transport, base_url="http://crm", headers={"Authorization": "Bearer t"}) as c:
        whole = c.post("/batch/accounts", json={"items": [_account(1), _account(2)]})
        assert whole.status_code == 201
        assert [r["status"] for r in whole.json()["results"]] == [201, 201]
        mixed = c.post("/batch/accounts", json={"items": [_account(3), {"name": "no industry"}]})
        assert mixed.status_code == 207
        first, second = mixed.json()["results"]
        assert first["status"] == 201 and first["id"]
        assert second["status"] == 422 and "industry" in second["detail"] and "id" not in second
        too_many = c.post("/batch/accounts", json={"items": [_account(n) for n in range(MAX_BATCH + 1)]})
        assert too_many.status_code == 422
        assert c.post("/batch/tickets", json={"items": [_account(1)]}).status_code == 404
        names = {a["name"] for a in c.get("/accounts").json()}
        assert names == {"Account 1", "Account 2", "Account 3"}, "a failed item must not be created"
    transport.close()


def test_seeding_in_batches_creates_each_record_once_in_few_calls(ledger: Ledger) -> None:
    adapter = SandboxAdapter(SandboxOptions())
    assert adapter.has(Capability.BATCH_CREATE) and adapter.max_batch_size == MAX_BATCH
    dataset = build_dataset(400, 3, "en_US", TAG)
    seeder = Seeder(adapter, ledger, "r1", TAG, adapter.now)
    world = seeder.seed(dataset, lambda lead: None)
    sizes = [len(dataset.accounts), len(dataset.contacts), len(dataset.leads)]
    assert adapter.batch_stats["calls"] == sum(math.ceil(n / MAX_BATCH) for n in sizes)
    assert adapter.batch_stats["failed_items"] == 0 and seeder.resubmitted == []
    for kind, keys, ids in (
        (RecordKind.ACCOUNT, [a.key for a in dataset.accounts], world.accounts),
        (RecordKind.CONTACT, [c.key for c in dataset.contacts], world.contacts),
        (RecordKind.LEAD, [le.key for le in dataset.leads], world.leads),
    ):
        assert list(ids) == keys, "the world keeps the dataset's order"
        assert sorted(adapter.find_tagged(kind, TAG)) == sorted(ids.values())
        assert {r.key: r.vendor_id for r in ledger.records("r1", kind.value)} == ids
    assert set(world.arrivals) == set(world.leads)
    again = Seeder(adapter, ledger, "r1", TAG, adapter.now).seed(dataset, lambda lead: None)
    assert again.leads == world.leads and adapter.batch_stats["calls"] == sum(
        math.ceil(n / MAX_BATCH) for n in sizes
    ), "a resumed run must not send what the ledger says was created"
    adapter.close()


def test_partial_batch_items_are_resubmitted_alone_once_and_never_duplicated(ledger: Ledger) -> None:
    adapter = SandboxAdapter(SandboxOptions(profile="partial_batch"))
    dataset = build_dataset(200, 5, "en_US", TAG)
    seeder = Seeder(adapter, ledger, "r1", TAG, adapter.now)
    world = seeder.seed(dataset, lambda lead: None)
    failed = adapter.batch_stats["failed_items"]
    assert failed >= adapter.batch_stats["items"] // 7 > 0
    assert len(seeder.resubmitted) == failed == len(set(seeder.resubmitted))
    assert adapter.call_stats()["batch"]["failed_items"] == failed
    for kind, ids in ((RecordKind.ACCOUNT, world.accounts), (RecordKind.LEAD, world.leads)):
        found = adapter.find_tagged(kind, TAG)
        assert len(found) == len(set(found)) == len(ids), f"{kind.value}: one record per key"
    assert ledger.unbound("r1") == []
    adapter.close()


def test_an_item_failing_again_alone_is_reported_by_key(ledger: Ledger) -> None:
    adapter = SandboxAdapter(SandboxOptions())
    contact = build_dataset(40, 1, "en_US", TAG).contacts[0]
    orphan = BatchItem(contact, parent_id="AC999999")  # no such account: fails in the batch and alone
    seeder = Seeder(adapter, ledger, "r1", TAG, adapter.now)
    with pytest.raises(VendorError) as caught:
        seeder.create_many(RecordKind.CONTACT, [orphan])
    message = str(caught.value)
    assert "\n" not in message and contact.key in message and "404" in message
    assert seeder.resubmitted == [contact.key]
    assert [r.key for r in ledger.unbound("r1")] == [contact.key], "the ledger keeps what was attempted"
    adapter.close()


def test_default_create_batch_creates_one_by_one(ledger: Ledger) -> None:
    """An adapter without a batch API gets the contract's default: single creates, per-item results."""

    class OneByOne(SandboxAdapter):
        max_batch_size = 1

        def create_batch(self, kind: RecordKind, items: list[BatchItem]):  # type: ignore[no-untyped-def]
            return super(SandboxAdapter, self).create_batch(kind, items)

    adapter = OneByOne(SandboxOptions())
    contacts: list[Contact] = build_dataset(40, 2, "en_US", TAG).contacts[:2]
    account = adapter.create_account(build_dataset(40, 2, "en_US", TAG).accounts[0])
    items = [BatchItem(contacts[0], parent_id=account), BatchItem(contacts[1], parent_id="AC999999")]
    first, second = adapter.create_batch(RecordKind.CONTACT, items)
    assert first.ok and not second.ok and "404" in (second.error or "")
    assert adapter.batch_stats["calls"] == 0 and adapter.http.stats.calls >= 3
    adapter.close()
