"""Answers of the reference CRM's REST API (``poc_harness/sandbox/app.py``), for the conformance suite of
the two adapters that speak it: ``sandbox`` and ``mapping`` with ``fixtures/mappings/sandbox.toml``."""

from __future__ import annotations

from typing import Any

import respx

from poc_harness.contract.adapter import RecordKind
from poc_harness.contract.model import DealStage, Lead, LeadSource
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


AT = "2025-03-01T12:00:00+00:00"


def _row(record_id: str, **fields: Any) -> dict[str, Any]:
    """A record as the reference CRM answers it (its id also as ``vendor_id``, what the views read)."""
    return {"id": record_id, "vendor_id": record_id, **fields}


TASK = _row("task-1", lead_id="lead-9", subject="Call back", due_at=AT, automatic=True, owner_id="user-2")
ALERT = _row("alert-1", lead_id="lead-9", kind="silence", raised_at=AT)
DEAL = _row(
    "deal-4", lead_id="lead-9", stage="won", amount=120_000, history=[{"stage": "won", "at": AT}]
)
TICKET = _row(
    "ticket-5",
    priority="high",
    status="closed",
    created_at=AT,
    first_response_at=AT,
    closed_at=AT,
    first_response_breached=False,
    resolution_breached=False,
)
TICKET_PATH = "/tickets/ticket-5"
REP = _row("user-2", role="sales_rep")
SURVEY = _row("survey-6", ticket_id="ticket-5", sent_at=AT, contact_id="con-1")


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


def capability_exchanges() -> dict[str, Exchange]:
    """Reads and plain writes of follow-ups, alerts, assignment, deals, tickets and surveys."""
    return {
        "list_sales_reps": Exchange((), answering("GET", "/users", json=[REP])),
        "lead_tasks": Exchange(("lead-9",), answering("GET", "/leads/lead-9/tasks", json=[TASK])),
        "complete_task": Exchange(("task-1", None), answering("POST", "/tasks/task-1/complete", json=TASK)),
        "lead_alerts": Exchange(("lead-9",), answering("GET", "/leads/lead-9/alerts", json=[ALERT])),
        "get_deal": Exchange(("deal-4",), answering("GET", "/deals/deal-4", json=DEAL)),
        "move_deal": Exchange(("deal-4", DealStage.WON), answering("POST", "/deals/deal-4/stage", json=DEAL)),
        "get_ticket": Exchange(("ticket-5",), answering("GET", TICKET_PATH, json=TICKET)),
        "close_ticket": Exchange(("ticket-5",), answering("POST", f"{TICKET_PATH}/close", json=TICKET)),
        "ticket_surveys": Exchange(("ticket-5",), answering("GET", f"{TICKET_PATH}/surveys", json=[SURVEY])),
    }
