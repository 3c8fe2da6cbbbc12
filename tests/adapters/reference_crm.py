"""Answers of the reference CRM's REST API (``poc_harness/sandbox/app.py``), for the conformance suite of
the two adapters that speak it: ``sandbox`` and ``mapping`` with ``fixtures/mappings/sandbox.toml``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import respx
from pydantic import SecretStr

from poc_harness.contract.adapter import RecordKind, UserCredential, WebhookEvent
from poc_harness.contract.model import (
    CallDirection,
    CallLog,
    DealStage,
    Lead,
    LeadChanges,
    LeadSource,
    SalesRep,
    TeamMember,
    TeamRole,
    Ticket,
    TicketPriority,
)
from poc_harness.testing import Exchange, answering, answering_in_turn, no_request
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


def _added(path: str, answer: dict[str, Any], listing: str | None) -> Install:
    """A write adding one record, after the listing it adds to where the adapter counts it first (the
    sandbox adapter's proof of a write in doubt)."""

    def install(router: respx.MockRouter) -> None:
        if listing is not None:
            router.get(listing).respond(200, json=[])
        router.post(path).respond(201, json=answer)

    return install


PERIOD = (datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 15, tzinfo=UTC), TAG)
REPORTS = {
    "report_conversion": ("conversion", PERIOD, {"leads": 12, "won": 3, "rate_pct": 25.0}),
    "report_first_response": (
        "first-response", PERIOD, {"tickets": 4, "mean_minutes": 30.5, "median_minutes": 20.0}
    ),
    "report_weekly_activity": (
        "weekly-activity",
        (PERIOD[0], TAG),
        {"week_start": AT, "reps": {"user-2": {"call": 3, "meeting": 1, "email": 2, "tasks_done": 4}}},
    ),
    "report_sla_compliance": ("sla-compliance", PERIOD, {"tickets": 4, "met": 3, "rate_pct": 75.0}),
    "report_forecast": ("forecast", PERIOD, {"forecast_amount": 240000.0, "won_amount": 120000.0}),
    "report_nps": ("nps", (TAG,), {"responses": 10, "nps": 40.0}),
}
"""Contract method -> the report's path under ``/reports/``, the call's arguments and the figure."""


def capability_exchanges(listing_first: bool) -> dict[str, Exchange]:
    """Reads and writes of follow-ups, alerts, assignment, users, deals, tickets, surveys, the clock and the
    management reports (``listing_first``: the adapter counts a listing before a write that adds to it)."""
    replies = f"{TICKET_PATH}/replies"
    rep = SalesRep(key="rep-01", tag=TAG, name="Maryam Rahimi", email="maryam@acme.example")
    ticket = Ticket(
        key="tkt-1",
        tag=TAG,
        subject="Gauge offline",
        description="Since Monday",
        priority=TicketPriority.HIGH,
        contact_key="con-1",
    )
    survey, clock = "/surveys/survey-6/responses", answering("POST", "/clock/advance", json={"now": AT})
    reports = {
        method: Exchange(args, answering("GET", f"/reports/{name}", json=figure))
        for method, (name, args, figure) in REPORTS.items()
    }
    return reports | {
        "advance_clock": Exchange((timedelta(hours=1),), clock),
        "create_sales_rep": Exchange((rep,), answering("POST", "/users", 201, {"id": "user-3"})),
        "convert_lead": Exchange(("lead-9", 120_000), _converted(listing_first)),
        "create_ticket": Exchange((ticket, "con-1"), answering("POST", "/tickets", 201, {"id": "ticket-5"})),
        "reply_ticket": Exchange(
            ("ticket-5", "On it"), _added(replies, {"id": "reply-1"}, replies if listing_first else None)
        ),
        "answer_survey": Exchange(("survey-6", 9), answering("POST", survey, 201, {"id": "r-1"})),
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


def _converted(listing_first: bool) -> Install:
    """The conversion; the sandbox adapter first reads the lead's tag and its deals (none yet)."""

    def install(router: respx.MockRouter) -> None:
        if listing_first:
            router.get("/leads/lead-9").respond(200, json=LEAD_ROW)
            router.get("/deals").respond(200, json=[])
        router.post("/leads/lead-9/convert").respond(201, json={"id": "deal-4"})

    return install


SP_METADATA = (
    b'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://crm.example/saml">'
    b'<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
    b'<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
    b'Location="https://crm.example/saml/acs" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>'
)


def sandbox_exchanges() -> dict[str, Exchange]:
    """What only the sandbox adapter implements: webhooks, the bulk export, VoIP, the audit log, reopening
    and internal notes, the acting user, team users and their tokens, and SSO's identity standards."""
    replies, activities = f"{TICKET_PATH}/replies", "/leads/lead-9/activities"
    hooks = "/webhooks/subscriptions"
    number, started = "+989121234567", datetime(2025, 3, 1, 12, tzinfo=UTC)
    logged = CallLog(number=number, direction=CallDirection.OUTBOUND, duration_seconds=60, started_at=started)
    call_row = _row("act-7", kind="call", number=number, direction="outbound", duration_seconds=60, at=AT)
    entry = {"action": "update", "record_id": "lead-9", "actor_id": "user-2", "at": AT}
    exported = {"records": [LEAD_ROW], "next_cursor": None}
    settings = {"retention_days": 365, "export_formats": ["csv"]}
    note, standards = "Internal: check the gauge", {"standards": ["saml2", "oidc"]}
    xml = {"Content-Type": "application/samlmetadata+xml"}
    event = {"id": "EV00000001", "type": "lead.created", "occurred_at": AT, "data": LEAD_ROW}  # as delivered
    credential = UserCredential(token=SecretStr("tok-user-8-9f2c"), user_id="user-8")
    metadata = httpx.Response(200, content=SP_METADATA, headers=xml)
    member = TeamMember(
        key="member-1", tag=TAG, name="Ali Karimi", email="ali@acme.example", role=TeamRole.MANAGER, team="n1"
    )
    return {
        "subscribe_webhook": Exchange(
            ("https://hooks.example/poc", "s3cret", [WebhookEvent.LEAD_CREATED]),
            answering("POST", hooks, 201, {"id": "sub-1"}),
        ),
        "unsubscribe_webhook": Exchange(("sub-1",), answering("DELETE", f"{hooks}/sub-1", 204)),
        "export_records": Exchange(
            (RecordKind.LEAD, TAG), answering("GET", "/export/leads", json=exported)
        ),
        "log_call": Exchange(("lead-9", logged), _added("/leads/lead-9/calls", {"id": "act-7"}, activities)),
        "lead_calls": Exchange(("lead-9",), answering("GET", activities, json=[call_row])),
        "reopen_ticket": Exchange(("ticket-5",), answering("POST", f"{TICKET_PATH}/reopen", json=TICKET)),
        "note_ticket": Exchange(("ticket-5", note), _added(replies, {"id": "reply-2"}, replies)),
        "update_lead": Exchange(
            ("lead-9", LeadChanges(estimated_value=150_000)),
            answering("PATCH", "/leads/lead-9", json=LEAD_ROW),
        ),
        "acting_user_id": Exchange((), answering("GET", "/me", json={"id": "user-2"})),
        "audit_entries": Exchange(
            (RecordKind.LEAD, "lead-9", PERIOD[0]), answering("GET", "/audit", json=[entry])
        ),
        "audit_settings": Exchange((), answering("GET", "/settings/audit", json=settings)),
        "identity_standards": Exchange((), answering("GET", "/auth/methods", json=standards)),
        "saml_sp_metadata": Exchange((), answering_in_turn("GET", "/saml/metadata", metadata)),
        "webhook_notice": Exchange((event,), no_request),
        "as_user": Exchange((credential,), no_request),
        "create_team_user": Exchange((member,), answering("POST", "/users", 201, {"id": "user-8"})),
        "issue_credential": Exchange(
            ("user-8",), answering("POST", "/users/user-8/tokens", 201, {"token": "tok-user-8-9f2c"})
        ),
    }
