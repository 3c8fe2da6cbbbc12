"""Answers of the reference CRM's REST API (``poc_harness/sandbox/app.py``), for the conformance suite of
the two adapters that speak it: ``sandbox`` and ``mapping`` with ``fixtures/mappings/sandbox.toml``."""

from __future__ import annotations

from typing import Any

import respx

from poc_harness.adapter import RecordKind
from poc_harness.model import Lead, LeadSource
from poc_harness.testing import Exchange, answering
from poc_harness.testing.exchange import Install
from tests.adapters.samples import ACCOUNT, CONTACT, TAG, call

LEAD = Lead(
    key="lead-0001",
    tag=TAG,
    title=f"Leak detection [{TAG}]",
    company="Pars Pipe Co",
    contact_name="Reza Karimi",
    email="reza.karimi@parspipe.example",
    phone="+989351112233",
    city="Isfahan",
    source=LeadSource.WEBSITE,
    estimated_value=120_000,
)
LEAD_ROW: dict[str, Any] = {
    "id": "lead-9",
    "vendor_id": "lead-9",
    "owner_id": "user-2",
    "status": "new",
    "created_at": "2025-03-01T12:00:00+00:00",
    "tag": TAG,
}


def _logged_call(listing_first: bool) -> Install:
    def install(router: respx.MockRouter) -> None:
        if listing_first:  # the sandbox adapter counts the lead's activities before a write in doubt
            router.get("/leads/lead-9/activities").respond(200, json=[])
        router.post("/leads/lead-9/activities").respond(201, json={"id": "act-3"})

    return install


def core_exchanges(listing_first: bool) -> dict[str, Exchange]:
    """The lead core: create account, contact and lead, read a lead, find, delete, log an activity."""
    return {
        "create_account": Exchange((ACCOUNT,), answering("POST", "/accounts", 201, {"id": "acct-1"})),
        "create_contact": Exchange((CONTACT, "acct-1"), answering("POST", "/contacts", 201, {"id": "con-1"})),
        "create_lead": Exchange((LEAD,), answering("POST", "/leads", 201, {"id": "lead-9"})),
        "get_lead": Exchange(("lead-9",), answering("GET", "/leads/lead-9", json=LEAD_ROW)),
        "find_tagged": Exchange((RecordKind.LEAD, TAG), answering("GET", "/leads", json=[LEAD_ROW])),
        "delete": Exchange((RecordKind.LEAD, "lead-9"), answering("DELETE", "/leads/lead-9", 204)),
        "log_activity": Exchange(("lead-9", call("user-2")), _logged_call(listing_first)),
    }
