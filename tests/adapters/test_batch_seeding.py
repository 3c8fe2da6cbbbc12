"""Seeding through each vendor's documented batch endpoint, with the real ``Seeder`` and ledger.

For HubSpot, Salesforce, Zoho, Dynamics and Odoo a respx router plays the vendor's batch create (and the
single create and tagged search the seeder falls back on), keeping what it was sent in a ``Store``.
Asserted: accounts, contacts and leads (345 records) go in batches, the create calls per kind at most
1.05 x records / batch size (rounded up); every record is bound in the ledger and held once by the vendor;
a batch in which one lead is refused and one lead's answer is lost neither loses nor duplicates a lead.
An adapter without BATCH_CREATE still seeds one record a call.
"""

from __future__ import annotations

import html
import json
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import default as email_policy
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from adapters.dynamics import DynamicsAdapter
from adapters.hubspot import HubSpotAdapter
from adapters.odoo import OdooAdapter
from adapters.salesforce import SalesforceAdapter
from adapters.sandbox import SandboxAdapter, SandboxOptions
from adapters.zoho import ZohoAdapter
from fixtures.factories import Dataset, build_dataset
from poc_harness.contract.adapter import Capability, CRMAdapter, RecordKind
from poc_harness.contract.batches import BatchItem, BatchResult
from poc_harness.run.ledger import Ledger
from poc_harness.run.seeding import Seeder
from poc_harness.transport.http import RetryPolicy

TAG = "poc20250301120000ab12"
RECORDS = 400  # 50 accounts, 100 contacts, 195 leads
SEEDED = (RecordKind.ACCOUNT, RecordKind.CONTACT, RecordKind.LEAD)
FAST = RetryPolicy(attempts=2, max_total_wait=1, max_single_wait=0.01, initial_backoff=0.001)
KEY_IN_TEXT = re.compile(rf"poc-harness (?:{TAG} (?P<a>[\w-]+)|(?P<b>[\w-]+) \[{TAG}\])")


def key_in(text: Any) -> str:
    """The harness key in a record's tag text: ``poc-harness <tag> <key>`` or ``... <key> [<tag>]``."""
    found = KEY_IN_TEXT.search(html.unescape(str(text or "")))
    assert found, f"no harness key in {text!r}"
    return found["a"] or found["b"]


@dataclass
class Store:
    """What the vendor holds (collection -> vendor id -> harness key), the faults it plays once each, and
    the create requests it answered, by the record kind being seeded and the endpoint."""

    records: dict[str, dict[str, str]] = field(default_factory=dict)
    refuse: set[str] = field(default_factory=set)
    """Keys refused the first time they are sent (not created)."""
    lose: set[str] = field(default_factory=set)
    """Keys created the first time they are sent, but whose answer is lost."""
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    phase: str = "none"
    serial: Iterator[int] = field(default_factory=lambda: count(1001))

    def fate(self, key: str) -> str:
        """``refused``, ``lost`` (created, answer lost) or ``created``; a fault is played once."""
        for fault, name in ((self.refuse, "refused"), (self.lose, "lost")):
            if key in fault:
                fault.discard(key)
                return name
        return "created"

    def create(self, collection: str, key: str, form: Callable[[int], str] = str) -> str:
        vendor_id = form(next(self.serial))
        self.records.setdefault(collection, {})[vendor_id] = key
        return vendor_id

    def held(self, collection: str) -> dict[str, str]:
        return self.records.get(collection, {})

    def log(self, endpoint: str) -> None:
        self.calls[(self.phase, endpoint)] += 1


def guid(serial: int) -> str:
    return f"00000000-0000-0000-0000-{serial:012d}"


def sf_id(serial: int) -> str:
    return f"001Dn{serial:010d}IAB"


def identities(dataset: Dataset) -> dict[str, str]:
    """Harness key by the field a HubSpot record keeps that names it (HubSpot keeps no key)."""
    named = {a.name: a.key for a in dataset.accounts} | {c.email: c.key for c in dataset.contacts}
    return named | {le.title: le.key for le in dataset.leads} | {le.email: le.key for le in dataset.leads}


# --- the five vendors, as their batch endpoints answer -------------------------------------------


def hubspot(router: respx.MockRouter, store: Store, dataset: Dataset) -> CRMAdapter:
    """``/crm/v3/objects/<type>/batch/create``: results traced by ``objectWriteTraceId``, 207 with errors."""
    base, named = "https://api.hubspot.test", identities(dataset)

    def key_of(properties: dict[str, Any]) -> str:
        return named[str(properties.get("email") or properties.get("name") or properties.get("hs_lead_name"))]

    def kept_in(kind: str, properties: dict[str, Any]) -> str:
        """A lead's person (a contact) is kept apart from the seeded contacts."""
        return "persons" if properties.get("lifecyclestage") == "lead" else kind

    def batch(request: httpx.Request, kind: str) -> httpx.Response:
        store.log(f"POST {kind}/batch/create")
        results, errors = [], []
        for one in json.loads(request.content)["inputs"]:
            trace, properties = one["objectWriteTraceId"], one["properties"]
            key, where = key_of(properties), kept_in(kind, properties)
            fate = store.fate(key) if where == "leads" else "created"
            if fate == "refused":
                context = {"objectWriteTraceId": [trace]}
                errors.append({"status": "error", "message": "locked", "context": context})
                continue
            vendor_id = store.create(where, key)
            if fate == "created":  # a lost answer: neither in the results nor in the errors
                results.append({"id": vendor_id, "objectWriteTraceId": trace, "properties": properties})
        body = {"status": "COMPLETE", "results": results, "errors": errors, "numErrors": len(errors)}
        return httpx.Response(207 if errors else 201, json=body)

    def single(request: httpx.Request, kind: str) -> httpx.Response:
        store.log(f"POST {kind}")
        properties = json.loads(request.content)["properties"]
        return httpx.Response(201, json={"id": store.create(kept_in(kind, properties), key_of(properties))})

    def search(request: httpx.Request, kind: str) -> httpx.Response:
        return httpx.Response(200, json={"results": [{"id": vid} for vid in store.held(kind)]})

    router.post(url__regex=rf"{base}/crm/v3/objects/(?P<kind>\w+)/batch/create").mock(side_effect=batch)
    router.post(url__regex=rf"{base}/crm/v3/objects/(?P<kind>\w+)/search").mock(side_effect=search)
    router.post(url__regex=rf"{base}/crm/v3/objects/(?P<kind>\w+)$").mock(side_effect=single)
    return HubSpotAdapter.from_table("hubspot", {"token_env": "POC_TEST_SECRET", "base_url": base})


def salesforce(router: respx.MockRouter, store: Store, dataset: Dataset) -> CRMAdapter:
    """sObject Collections: a result per record; a lost answer is the whole call's HTTP 500."""
    domain = "https://acme-poc.my.salesforce.com"
    data = f"{domain}/services/data/v62.0"
    token = {"access_token": "00D!token", "instance_url": domain, "token_type": "Bearer", "id": "x/005"}
    router.post(f"{domain}/services/oauth2/token").mock(return_value=httpx.Response(200, json=token))

    def batch(request: httpx.Request) -> httpx.Response:
        records = json.loads(request.content)["records"]
        store.log(f"POST composite/sobjects ({records[0]['attributes']['type']})")
        answers, lost = [], False
        for record in records:
            sobject, fate = record["attributes"]["type"], store.fate(key_in(record["Description"]))
            if fate == "refused":
                refusal = {"statusCode": "UNABLE_TO_LOCK_ROW", "message": "locked"}
                answers.append({"success": False, "errors": [refusal]})
                continue
            lost |= fate == "lost"
            vendor_id = store.create(sobject, key_in(record["Description"]), sf_id)
            answers.append({"id": vendor_id, "success": True, "errors": []})
        if lost:
            return httpx.Response(500, json=[{"errorCode": "SERVER_ERROR", "message": "x"}])
        return httpx.Response(200, json=answers)

    def single(request: httpx.Request, sobject: str) -> httpx.Response:
        store.log(f"POST sobjects/{sobject}")
        vendor_id = store.create(sobject, key_in(json.loads(request.content)["Description"]), sf_id)
        return httpx.Response(201, json={"id": vendor_id, "success": True, "errors": []})

    def search(request: httpx.Request) -> httpx.Response:
        sobject = re.search(r"RETURNING (\w+)", request.url.params["q"])[1]  # type: ignore[index]
        rows = [
            {"attributes": {"type": sobject}, "Id": vid, "Description": f"x\npoc-harness {key} [{TAG}]"}
            for vid, key in store.held(sobject).items()
        ]
        return httpx.Response(200, json={"searchRecords": rows})

    router.post(f"{data}/composite/sobjects").mock(side_effect=batch)
    router.post(url__regex=rf"{data}/sobjects/(?P<sobject>\w+)/?$").mock(side_effect=single)
    router.get(url__regex=rf"{re.escape(data)}/search\?").mock(side_effect=search)
    table = {"domain": domain, "client_id": "3MVG9", "client_secret_env": "POC_TEST_SECRET"}
    return SalesforceAdapter.from_table("acme-sf", table)


def zoho(router: respx.MockRouter, store: Store, dataset: Dataset) -> CRMAdapter:
    """Insert records: a status per record; a lost answer is the whole call's HTTP 500."""
    api = "https://www.zohoapis.eu"
    token = {"access_token": "1000.token", "api_domain": api, "token_type": "Bearer", "expires_in": 3600}
    router.post("https://accounts.zoho.eu/oauth/v2/token").mock(return_value=httpx.Response(200, json=token))

    def insert(request: httpx.Request, module: str) -> httpx.Response:
        rows = json.loads(request.content)["data"]
        store.log(f"POST {module}" + (" (batch)" if len(rows) > 1 else ""))
        entries, lost = [], False
        for row in rows:
            fate = store.fate(key_in(row["Description"]))
            if fate == "refused":
                entries.append({"code": "LOCKED", "details": {}, "message": "locked", "status": "error"})
                continue
            lost |= fate == "lost"
            vendor_id = store.create(module, key_in(row["Description"]))
            done = {"code": "SUCCESS", "details": {"id": vendor_id}, "message": "record added"}
            entries.append({**done, "status": "success"})
        if lost:
            return httpx.Response(500, json={"code": "INTERNAL_ERROR", "message": "x", "status": "error"})
        return httpx.Response(207 if len(entries) > 1 else 201, json={"data": entries})

    def search(request: httpx.Request, module: str) -> httpx.Response:
        held = store.held(module).items()
        rows = [{"id": vid, "Description": f"poc-harness {key} [{TAG}]"} for vid, key in held]
        return httpx.Response(200, json={"data": rows, "info": {"more_records": False}})

    router.post(url__regex=rf"{api}/crm/v8/(?P<module>\w+)$").mock(side_effect=insert)
    router.get(url__regex=rf"{api}/crm/v8/(?P<module>\w+)/search").mock(side_effect=search)
    table = {
        "data_centre": "eu",
        "client_id": "1000.client",
        "client_secret_env": "POC_TEST_SECRET",
        "refresh_token_env": "POC_TEST_SECRET",
        "time_zone": "Asia/Tehran",
    }
    return ZohoAdapter.from_table("acme-zoho", table)


def dynamics(router: respx.MockRouter, store: Store, dataset: Dataset) -> CRMAdapter:
    """``$batch``: one change set per record, a part per change set (400 refused, 500 in doubt)."""
    api = "https://contoso.crm.dynamics.com/api/data/v9.2/"
    token = {"token_type": "Bearer", "expires_in": 3599, "access_token": "eyJ.token"}
    router.post(url__regex=r"https://login\.microsoftonline\.com/.*").mock(
        return_value=httpx.Response(200, json=token)
    )
    keys = {"accounts": "accountid", "contacts": "contactid", "leads": "leadid"}

    def part(status: str, headers: str = "", body: str = "") -> str:
        return (
            "--batchresponse_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
            f"HTTP/1.1 {status}\r\n{headers}\r\n{body}\r\n"
        )

    def batch(request: httpx.Request) -> httpx.Response:
        head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
        message = BytesParser(policy=email_policy).parsebytes(head + request.content)
        parts: list[str] = []
        for changeset in message.iter_parts():
            payload = next(changeset.iter_parts()).get_payload(decode=True)
            assert isinstance(payload, bytes)
            text = payload.decode()
            entity_set = re.search(r"POST \S+/(\w+) HTTP", text)[1]  # type: ignore[index]
            if not parts:
                store.log(f"POST $batch ({entity_set})")
            key = key_in(json.loads(text[text.index("{") :])["description"])
            fate = store.fate(key)
            if fate == "refused":
                error = json.dumps({"error": {"code": "0x80040237", "message": "locked"}})
                parts.append(part("400 Bad Request", "Content-Type: application/json\r\n", error))
                continue
            vendor_id = store.create(entity_set, key, guid)
            entity = f"OData-EntityId: {api}{entity_set}({vendor_id})\r\n"
            lost = part("500 Internal Server Error")  # created, but the part answers a server error
            parts.append(part("204 No Content", entity) if fate == "created" else lost)
        content = ("".join(parts) + "--batchresponse_1--\r\n").encode()
        headers = {"Content-Type": "multipart/mixed; boundary=batchresponse_1"}
        return httpx.Response(200, content=content, headers=headers)

    def single(request: httpx.Request, entity_set: str) -> httpx.Response:
        store.log(f"POST {entity_set}")
        vendor_id = store.create(entity_set, key_in(json.loads(request.content)["description"]), guid)
        return httpx.Response(204, headers={"OData-EntityId": f"{api}{entity_set}({vendor_id})"})

    def query(request: httpx.Request, entity_set: str) -> httpx.Response:
        rows = [
            {keys[entity_set]: vid, "description": f"poc-harness {TAG} {key}"}
            for vid, key in store.held(entity_set).items()
        ]
        return httpx.Response(200, json={"value": rows})

    router.post(f"{api}$batch").mock(side_effect=batch)
    router.post(url__regex=rf"{re.escape(api)}(?P<entity_set>accounts|contacts|leads)$").mock(side_effect=single)
    router.get(url__regex=rf"{re.escape(api)}(?P<entity_set>accounts|contacts|leads)(\?.*)?$").mock(side_effect=query)
    table = {
        "org": "contoso",
        "tenant_id": "t-1",
        "client_id": "app-2",
        "client_secret_env": "POC_TEST_SECRET",
    }
    return DynamicsAdapter.from_table("d365", {**table, "batch_size": 100})


def odoo(router: respx.MockRouter, store: Store, dataset: Dataset) -> CRMAdapter:
    """``create`` with a ``vals_list``: one transaction (a refused record refuses the call, nothing is
    created); a lost answer is the whole call's HTTP 500 after it committed."""
    base = "https://pars.odoo.example"

    def collection(model: str, vals: dict[str, Any]) -> str:
        return "crm.lead" if model == "crm.lead" else ("companies" if vals.get("is_company") else "people")

    def create(request: httpx.Request, model: str) -> httpx.Response:
        vals_list = json.loads(request.content)["vals_list"]
        store.log(f"POST {model}/create" + (" (batch)" if len(vals_list) > 1 else ""))
        keys = [key_in(vals.get("comment") or vals.get("description")) for vals in vals_list]
        if store.refuse & set(keys):  # the transaction is refused: nothing is created
            store.refuse -= set(keys)
            error = {"name": "odoo.exceptions.ValidationError", "message": "locked", "arguments": []}
            return httpx.Response(422, json=error)
        fates = [store.fate(key) for key in keys]
        ids = [int(store.create(collection(model, v), key)) for v, key in zip(vals_list, keys, strict=True)]
        if "lost" in fates:
            return httpx.Response(502, text="Bad Gateway")
        return httpx.Response(200, json=ids)

    def search_read(request: httpx.Request, model: str) -> httpx.Response:
        asked = json.loads(request.content)
        company = next((term[2] for term in asked["domain"] if term[0] == "is_company"), None)
        name = "crm.lead" if model == "crm.lead" else ("companies" if company else "people")
        field_name = "description" if model == "crm.lead" else "comment"
        held = store.held(name).items()
        rows = [{"id": int(vid), field_name: f"<p>poc-harness {TAG} {key}</p>"} for vid, key in held]
        start = asked.get("offset", 0)
        return httpx.Response(200, json=rows[start : start + asked.get("limit", len(rows))])

    router.post(url__regex=rf"{base}/json/2/(?P<model>[\w.]+)/create").mock(side_effect=create)
    router.post(url__regex=rf"{base}/json/2/(?P<model>[\w.]+)/search_read").mock(side_effect=search_read)
    return OdooAdapter.from_table("odoo", {"base_url": base, "api_key_env": "POC_TEST_SECRET"})


VENDORS: dict[str, Callable[[respx.MockRouter, Store, Dataset], CRMAdapter]] = {
    "hubspot": hubspot,
    "salesforce": salesforce,
    "zoho": zoho,
    "dynamics": dynamics,
    "odoo": odoo,
}
APART = {"odoo": 150}
"""Where the lost lead sits when it cannot share a batch with the refused one: Odoo's batch is one
transaction, which the refused lead refuses whole (the lost one is in the next batch)."""
COLLECTIONS = {
    "hubspot": ("companies", "contacts", "leads"),
    "salesforce": ("Account", "Contact", "Lead"),
    "zoho": ("Accounts", "Contacts", "Leads"),
    "dynamics": ("accounts", "contacts", "leads"),
    "odoo": ("companies", "people", "crm.lead"),
}


# --- the seeding ---------------------------------------------------------------------------------


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = Ledger(tmp_path / "ledger.sqlite")
    opened.start_run("r1", "v", "vendor", TAG, 1, RECORDS, "en_US", "wall", datetime.now(UTC))
    yield opened
    opened.close()


@pytest.fixture(autouse=True)
def quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """The adapters' secret in its variable; waits recorded, not slept."""
    monkeypatch.setenv("POC_TEST_SECRET", "s3cr3t-value")
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    monkeypatch.setattr("poc_harness.transport.writes._sleep", lambda seconds: None)


@dataclass
class Seeded:
    store: Store
    seeder: Seeder
    dataset: Dataset
    adapter: CRMAdapter


def seed(vendor: str, ledger: Ledger, monkeypatch: pytest.MonkeyPatch, store: Store) -> Seeded:
    """Seed the dataset's accounts, contacts and leads through the real ``Seeder`` against the vendor."""
    dataset = build_dataset(RECORDS, 3, "en_US", TAG)
    with respx.mock(assert_all_called=False) as router:
        adapter = VENDORS[vendor](router, store, dataset)
        if hasattr(adapter, "http"):
            adapter.http.policy = FAST
        monkeypatch.setattr(adapter, "list_sales_reps", lambda: [])  # not what this test is about
        batch = adapter.create_batch

        def in_phase(kind: RecordKind, items: list[BatchItem]) -> list[BatchResult]:
            store.phase = kind.value
            return batch(kind, items)

        monkeypatch.setattr(adapter, "create_batch", in_phase)
        seeder = Seeder(adapter, ledger, "r1", TAG, lambda: datetime.now(UTC))
        seeder.seed(dataset, lambda lead: None)
    return Seeded(store, seeder, dataset, adapter)


def records_of(dataset: Dataset) -> dict[RecordKind, list[str]]:
    return {
        RecordKind.ACCOUNT: [a.key for a in dataset.accounts],
        RecordKind.CONTACT: [c.key for c in dataset.contacts],
        RecordKind.LEAD: [le.key for le in dataset.leads],
    }


def assert_each_record_once(vendor: str, seeded: Seeded, ledger: Ledger) -> None:
    """Every record bound in the ledger to a record the vendor holds under that key, held once."""
    for kind, collection in zip(SEEDED, COLLECTIONS[vendor], strict=True):
        keys = records_of(seeded.dataset)[kind]
        held = seeded.store.held(collection)
        twice = [key for key, n in Counter(held.values()).items() if n > 1]
        assert twice == [], f"{vendor} {kind.value}: created twice: {twice[:3]}"
        bound = {r.key: r.vendor_id for r in ledger.records("r1", kind.value)}
        assert set(bound) == set(keys) and None not in bound.values(), f"{vendor} {kind.value}: not bound"
        for key, vendor_id in bound.items():
            assert held.get(str(vendor_id)) == key, f"{vendor} {kind.value}: {key} bound to {vendor_id}"


@pytest.mark.parametrize("vendor", list(VENDORS))
def test_seeding_goes_through_the_batch_endpoint_in_few_calls_per_kind(
    vendor: str, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded = seed(vendor, ledger, monkeypatch, Store())
    adapter, calls = seeded.adapter, seeded.store.calls
    assert adapter.has(Capability.BATCH_CREATE) and adapter.max_batch_size > 1
    for kind, keys in records_of(seeded.dataset).items():
        bound = math.ceil(1.05 * len(keys) / adapter.max_batch_size)
        per_endpoint = {endpoint: n for (phase, endpoint), n in calls.items() if phase == kind.value}
        assert per_endpoint, f"{vendor}: no batch call for {kind.value}"
        for endpoint, n in per_endpoint.items():
            assert n <= bound, f"{vendor} {kind.value}: {n} calls to {endpoint} for {len(keys)} records"
    assert sum(calls.values()) < len(seeded.dataset.leads), f"{vendor}: {sum(calls.values())} create calls"
    assert seeded.seeder.resubmitted == [] and seeded.seeder.recovered == []
    assert_each_record_once(vendor, seeded, ledger)


@pytest.mark.parametrize("vendor", list(VENDORS))
def test_a_refused_and_a_lost_item_in_one_batch_are_neither_lost_nor_duplicated(
    vendor: str, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset = build_dataset(RECORDS, 3, "en_US", TAG)
    refused, lost = dataset.leads[0].key, dataset.leads[APART.get(vendor, 1)].key
    seeded = seed(vendor, ledger, monkeypatch, Store(refuse={refused}, lose={lost}))
    assert seeded.store.refuse == set() and seeded.store.lose == set(), "both faults were played"
    assert refused in seeded.seeder.resubmitted, "the refused lead is sent again on its own"
    assert lost in seeded.seeder.recovered and lost not in seeded.seeder.resubmitted, "found, not resent"
    assert_each_record_once(vendor, seeded, ledger)
    assert ledger.unbound("r1") == []


def test_an_adapter_without_batch_create_seeds_one_record_a_call(ledger: Ledger) -> None:
    class OneByOne(SandboxAdapter):
        capabilities = SandboxAdapter.capabilities - {Capability.BATCH_CREATE}

    adapter = OneByOne(SandboxOptions())
    dataset = build_dataset(RECORDS, 3, "en_US", TAG)
    world = Seeder(adapter, ledger, "r1", TAG, adapter.now).seed(dataset, lambda lead: None)
    records = len(dataset.reps) + sum(len(keys) for keys in records_of(dataset).values())
    assert adapter.batch_stats["calls"] == 0
    assert adapter.http.stats.by_status.get(201) == records, "one create call (201 Created) per record"
    assert len(world.leads) == len(dataset.leads) and ledger.unbound("r1") == []
    adapter.close()
