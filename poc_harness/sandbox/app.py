"""The reference CRM's REST API (FastAPI): what the sandbox adapter talks to over HTTP.

Every endpoint but ``/health`` wants ``Authorization: Bearer <token>``.  Each request
first brings the automation up to the CRM's clock, so timers fire as they would
with a scheduler running.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from poc_harness import __version__
from poc_harness.sandbox import batch, connectors, webhooks
from poc_harness.sandbox.access import AccessControl, ActingMiddleware
from poc_harness.sandbox.audit import AuditMiddleware, AuditTrail
from poc_harness.sandbox.contention import Contention
from poc_harness.sandbox.engine import Conflict, CRMState, NotFound
from poc_harness.sandbox.faults import FaultCount, FaultInjector
from poc_harness.sandbox.profiles import PROFILES, Profile
from poc_harness.sandbox.security import security_router
from poc_harness.sandbox.service import ServiceDesk

Stage = Literal["qualification", "proposal", "negotiation", "won", "lost"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeededIn(Body):
    """A record the harness may seed: its run tag and its external reference (the harness's key)."""

    tag: str | None = None
    external_ref: str | None = None


class UserIn(SeededIn):
    name: str
    email: str
    role: Literal["sales_rep", "manager", "support_agent"] = "sales_rep"
    team: str | None = None
    in_assignment_pool: bool = True


class AccountIn(SeededIn):
    name: str
    industry: str
    city: str
    phone: str


class ContactIn(SeededIn):
    first_name: str
    last_name: str
    email: str
    phone: str
    account_id: str


class LeadIn(SeededIn):
    title: str
    company: str
    contact_name: str
    email: str
    phone: str
    city: str
    source: str
    estimated_value: int = Field(gt=0)
    created_at: AwareDatetime | None = None


class ActivityIn(Body):
    kind: Literal["call", "meeting", "email", "note"]
    subject: str
    user_id: str | None = None
    at: AwareDatetime | None = None


class ConvertIn(Body):
    amount: int = Field(gt=0)
    expected_close: AwareDatetime | None = None


class TicketIn(SeededIn):
    subject: str
    description: str
    priority: Literal["low", "normal", "high", "urgent"]
    contact_id: str
    created_at: AwareDatetime | None = None


class ReplyIn(Body):
    message: str
    user_id: str | None = None
    internal: bool = False  # an internal note: not a response to the customer


class SurveyResponseIn(Body):
    score: int = Field(ge=0, le=10)


class TaskDoneIn(Body):
    user_id: str | None = None


class StageIn(Body):
    stage: Stage


class AdvanceIn(Body):
    seconds: float = Field(ge=0)


Period = Annotated[datetime, Query(alias="from")]
COLLECTION_PATHS = ("users", "accounts", "contacts", "leads", "activities", "deals", "tickets", "tasks")


def create_app(
    profile: str | Profile = "healthy", token: str | None = None, clock_start: datetime | None = None
) -> FastAPI:
    """A fresh reference CRM with its own state; ``token`` defaults to a random one; its virtual clock
    starts at ``clock_start`` (default: now)."""
    chosen = PROFILES[profile] if isinstance(profile, str) else profile
    state = CRMState(chosen)
    if clock_start is not None:
        state.clock.now = clock_start.replace(microsecond=0)
    expected = token or secrets.token_urlsafe(24)
    app = FastAPI(title="poc-harness reference CRM", version=__version__)
    app.state.crm = state
    app.state.token = expected

    access, trail = AccessControl(state, expected), AuditTrail(state)
    app.add_middleware(AuditMiddleware, trail=trail)  # the first added sits innermost: sees applied writes
    app.add_middleware(ActingMiddleware)  # who acts, for the records a request creates

    def authorised(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
        access.authorise(request, authorization)

    @app.middleware("http")
    async def catch_up_timers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        with state.lock:
            state.run_timers()
        return await call_next(request)

    app.state.faults = FaultCount()
    app.add_middleware(FaultInjector, profile=chosen, count=app.state.faults)
    app.add_middleware(Contention, profile=chosen)

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"error": "not_found", "detail": str(exc)}, status_code=404)

    @app.exception_handler(Conflict)
    async def conflict(_: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"error": "conflict", "detail": str(exc)}, status_code=409)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "version": __version__,
            "profile": chosen.name,
            "faults_injected": app.state.faults.injected,
        }

    auth = [Depends(authorised)]

    @app.get("/clock", dependencies=auth)
    def clock() -> dict[str, Any]:
        return {"now": state.clock.now.isoformat()}

    @app.post("/clock/advance", dependencies=auth)
    def advance(body: AdvanceIn) -> dict[str, Any]:
        with state.lock:
            return {"now": state.advance(timedelta(seconds=body.seconds)).isoformat()}

    def create(collection: str, fields: dict[str, Any]) -> dict[str, Any]:
        with state.lock:
            return state.insert(collection, fields)

    @app.post("/users", status_code=201, dependencies=auth)
    def create_user(body: UserIn) -> dict[str, Any]:
        return create("users", {**body.model_dump(), "active": True})

    @app.post("/accounts", status_code=201, dependencies=auth)
    def create_account(body: AccountIn) -> dict[str, Any]:
        return create("accounts", body.model_dump())

    @app.post("/contacts", status_code=201, dependencies=auth)
    def create_contact(body: ContactIn) -> dict[str, Any]:
        with state.lock:
            state.get("accounts", body.account_id)
            return state.insert("contacts", body.model_dump())

    @app.post("/leads", status_code=201, dependencies=auth)
    def create_lead(body: LeadIn, request: Request) -> dict[str, Any]:
        fields = {**body.model_dump(exclude={"created_at"}), "owner_id": access.owner_of_new_lead(request)}
        with state.lock:
            return state.create_lead(fields, body.created_at)

    @app.get("/leads/{lead_id}", dependencies=auth)
    def get_lead(lead_id: str) -> dict[str, Any]:
        with state.lock:
            return state.get("leads", lead_id)

    @app.get("/leads/{lead_id}/tasks", dependencies=auth)
    def lead_tasks(lead_id: str) -> list[dict[str, Any]]:
        with state.lock:
            return state.children("tasks", "leads", lead_id)

    @app.get("/leads/{lead_id}/alerts", dependencies=auth)
    def lead_alerts(lead_id: str) -> list[dict[str, Any]]:
        with state.lock:
            return state.children("alerts", "leads", lead_id)

    @app.post("/leads/{lead_id}/activities", status_code=201, dependencies=auth)
    def log_activity(lead_id: str, body: ActivityIn) -> dict[str, Any]:
        with state.lock:
            return state.log_activity(lead_id, body.model_dump(exclude={"at"}), body.at)

    @app.post("/leads/{lead_id}/convert", status_code=201, dependencies=auth)
    def convert(lead_id: str, body: ConvertIn) -> dict[str, Any]:
        with state.lock:
            amount = body.amount
            if chosen.deal_amount_from_estimate:
                amount = state.get("leads", lead_id)["estimated_value"]
            return state.convert_lead(lead_id, amount, body.expected_close)

    @app.get("/deals/{deal_id}", dependencies=auth)
    def get_deal(deal_id: str) -> dict[str, Any]:
        with state.lock:
            deal = state.get("deals", deal_id)
            return {**deal, "lead_id": None} if chosen.deal_hides_lead else deal

    @app.post("/deals/{deal_id}/stage", dependencies=auth)
    def move_deal(deal_id: str, body: StageIn) -> dict[str, Any]:
        with state.lock:
            return state.move_deal(deal_id, body.stage)

    desk = ServiceDesk(state)

    @app.post("/tickets", status_code=201, dependencies=auth)
    def create_ticket(body: TicketIn) -> dict[str, Any]:
        with state.lock:
            return desk.create_ticket(body.model_dump(exclude={"created_at"}), body.created_at)

    @app.get("/tickets/{ticket_id}", dependencies=auth)
    def get_ticket(ticket_id: str) -> dict[str, Any]:
        with state.lock:
            return desk.view(state.get("tickets", ticket_id))

    @app.post("/tickets/{ticket_id}/replies", status_code=201, dependencies=auth)
    def reply(ticket_id: str, body: ReplyIn) -> dict[str, Any]:
        with state.lock:
            return desk.reply(ticket_id, body.model_dump())

    @app.get("/tickets/{ticket_id}/replies", dependencies=auth)
    def ticket_replies(ticket_id: str) -> list[dict[str, Any]]:
        """The ticket's replies and internal notes, oldest first."""
        with state.lock:
            return state.children("replies", "tickets", ticket_id)

    @app.post("/tickets/{ticket_id}/close", dependencies=auth)
    def close_ticket(ticket_id: str) -> dict[str, Any]:
        with state.lock:
            return desk.close(ticket_id)

    @app.post("/tickets/{ticket_id}/reopen", dependencies=auth)
    def reopen_ticket(ticket_id: str) -> dict[str, Any]:
        with state.lock:
            return desk.reopen(ticket_id)

    @app.get("/tickets/{ticket_id}/surveys", dependencies=auth)
    def ticket_surveys(ticket_id: str) -> list[dict[str, Any]]:
        with state.lock:
            return state.children("surveys", "tickets", ticket_id)

    @app.post("/surveys/{survey_id}/responses", status_code=201, dependencies=auth)
    def survey_response(survey_id: str, body: SurveyResponseIn) -> dict[str, Any]:
        with state.lock:
            return desk.respond_to_survey(survey_id, body.score)

    @app.post("/tasks/{task_id}/complete", dependencies=auth)
    def complete_task(task_id: str, body: TaskDoneIn) -> dict[str, Any]:
        with state.lock:
            task = desk.complete_task(task_id, body.user_id)
            state.task_completed(task)
            return task

    period_reports = {
        "conversion": desk.conversion,
        "first-response": desk.first_response,
        "sla-compliance": desk.sla_compliance,
        "forecast": desk.forecast,
    }
    for name, figure in period_reports.items():
        report = _period_report(state, figure)
        app.add_api_route(f"/reports/{name}", report, methods=["GET"], dependencies=auth)

    @app.get("/reports/weekly-activity", dependencies=auth)
    def weekly_activity_report(week_start: datetime, tag: str | None = None) -> dict[str, Any]:
        with state.lock:
            return desk.weekly_activity(week_start, tag)

    @app.get("/reports/nps", dependencies=auth)
    def nps_report(tag: str | None = None) -> dict[str, Any]:
        with state.lock:
            return desk.nps(tag)

    for connector in (webhooks, connectors):  # webhooks; DWH export and VoIP call log
        app.include_router(connector.router(state, chosen), dependencies=auth)

    app.include_router(security_router(state, access, trail, auth))

    @app.get("/{collection}", dependencies=auth)
    def list_records(
        request: Request, collection: str, tag: str | None = None, role: str | None = None
    ) -> list[dict[str, Any]]:
        if collection not in COLLECTION_PATHS:
            raise NotFound(collection)
        with state.lock:
            return access.visible(request, collection, state.query(collection, tag=tag, role=role))

    @app.delete("/{collection}/{record_id}", status_code=204, dependencies=auth)
    def delete(collection: str, record_id: str) -> Response:
        if collection not in COLLECTION_PATHS:
            raise NotFound(collection)
        with state.lock:
            state.delete(collection, record_id)
        return Response(status_code=204)

    creators: dict[str, batch.Creator] = {  # the batch endpoint creates each item as its single endpoint
        "users": (UserIn, lambda body, _: create_user(body)),
        "accounts": (AccountIn, lambda body, _: create_account(body)),
        "contacts": (ContactIn, lambda body, _: create_contact(body)),
        "leads": (LeadIn, create_lead),
    }
    app.include_router(batch.router(creators, chosen), dependencies=auth)
    return app


PeriodFigure = Callable[[datetime, datetime, str | None], dict[str, Any]]


def _period_report(state: CRMState, figure: PeriodFigure) -> Callable[..., dict[str, Any]]:
    """The endpoint of a report over ``[from, to)``, optionally of one run's tag."""

    def report(start: Period, to: datetime, tag: str | None = None) -> dict[str, Any]:
        with state.lock:
            return figure(start, to, tag)

    return report
