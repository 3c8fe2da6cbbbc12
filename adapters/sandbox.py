"""Adapter for the embedded reference CRM (``poc_harness.sandbox``), through its real REST API.

API reference: the reference CRM's own OpenAPI document, served at ``/openapi.json``
(``poc-harness sandbox serve``, then open ``/docs``).  With no ``base_url`` the CRM
runs in-process behind httpx's ASGI transport (no credentials, no network); with a
``base_url`` it is reached over HTTP with the bearer token held in ``token_env``.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel

from poc_harness.adapter import AdapterOptions, Capability, CRMAdapter, RecordKind
from poc_harness.answers import parse_answer
from poc_harness.clock import ClockMode
from poc_harness.config import secret_from_env
from poc_harness.errors import ConfigError, VendorError
from poc_harness.http import VendorHTTP
from poc_harness.model import (
    Account,
    Activity,
    AlertView,
    Contact,
    ConversionFigure,
    DealStage,
    DealView,
    FirstResponseFigure,
    ForecastFigure,
    Lead,
    LeadView,
    NpsFigure,
    SalesRep,
    SlaComplianceFigure,
    SurveyInviteView,
    TaskView,
    Ticket,
    TicketView,
    View,
    WeeklyActivityFigure,
)
from poc_harness.redaction import REDACTOR
from poc_harness.sandbox.profiles import PROFILES

V = TypeVar("V", bound=BaseModel)

COLLECTIONS = {
    RecordKind.REP: "users",
    RecordKind.ACCOUNT: "accounts",
    RecordKind.CONTACT: "contacts",
    RecordKind.LEAD: "leads",
    RecordKind.TICKET: "tickets",
    RecordKind.ACTIVITY: "activities",
    RecordKind.DEAL: "deals",
}


class SandboxOptions(AdapterOptions):
    profile: str = "healthy"
    base_url: str | None = None
    token_env: str | None = None
    timeout: float = 10.0


class _Created(View):
    id: str


class _Now(View):
    now: datetime


class SandboxAdapter(CRMAdapter):
    name: ClassVar[str] = "sandbox"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.AUTO_ASSIGN,
            Capability.FOLLOWUP_TASKS,
            Capability.SILENCE_ALERT,
            Capability.DEALS,
            Capability.BACKDATING,
            Capability.CLOCK_CONTROL,
            Capability.USER_ADMIN,
            Capability.TICKETS,
            Capability.SLA,
            Capability.NPS_SURVEY,
            Capability.REPORTS,
            Capability.FORECAST,
        }
    )
    default_clock: ClassVar[ClockMode] = ClockMode.VIRTUAL
    Options: ClassVar[type[AdapterOptions]] = SandboxOptions

    def __init__(self, options: AdapterOptions) -> None:
        super().__init__(options)
        assert isinstance(options, SandboxOptions)
        if options.profile not in PROFILES:
            raise ConfigError(
                f"sandbox profile '{options.profile}' is unknown: choose one of {', '.join(PROFILES)}"
            )
        self.profile = options.profile
        self.persistent = options.base_url is not None
        if options.base_url is None:
            from poc_harness.sandbox.app import create_app
            from poc_harness.sandbox.transport import SyncASGITransport

            token = secrets.token_urlsafe(24)
            REDACTOR.add(token)
            self._transport: SyncASGITransport | None = SyncASGITransport(create_app(options.profile, token))
            base_url = "http://sandbox.invalid"
        else:
            if not options.token_env:
                raise ConfigError(
                    "sandbox adapter: base_url is set but token_env is not: name the variable "
                    "that holds the API token"
                )
            token = secret_from_env(options.token_env, "the reference CRM's API token").get_secret_value()
            self._transport = None
            base_url = options.base_url
        self.http = VendorHTTP(
            "sandbox",
            base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=options.timeout,
            transport=self._transport,
        )

    def close(self) -> None:
        self.http.close()
        if self._transport is not None:
            self._transport.close()

    def call_stats(self) -> dict[str, Any]:
        return asdict(self.http.stats)

    # --- helpers ----------------------------------------------------------------------
    def _parse(self, model: type[V], data: Any, where: str) -> V:
        return parse_answer(model, _with_vendor_id(data), "sandbox", where)

    def _parse_list(self, model: type[V], data: Any, where: str) -> list[V]:
        if not isinstance(data, list):
            raise VendorError(f"sandbox: {where}: expected a JSON list, got {type(data).__name__}")
        return [self._parse(model, item, where) for item in data]

    def _create(self, path: str, body: dict[str, Any]) -> str:
        return self._parse(_Created, self.http.json("POST", path, json=body), f"POST {path}").id

    # --- contract ---------------------------------------------------------------------
    def check_connection(self) -> str:
        health = self.http.json("GET", "/health")
        self.http.json("GET", "/clock")  # proves the token is accepted
        return f"reference CRM {health.get('version')} (profile {health.get('profile')})"

    def now(self) -> datetime:
        return self._parse(_Now, self.http.json("GET", "/clock"), "GET /clock").now

    def advance_clock(self, delta: timedelta) -> datetime:
        answer = self.http.json("POST", "/clock/advance", json={"seconds": delta.total_seconds()})
        return self._parse(_Now, answer, "POST /clock/advance").now

    def create_sales_rep(self, rep: SalesRep) -> str:
        return self._create(
            "/users",
            {
                "name": rep.name,
                "email": rep.email,
                "role": "sales_rep",
                "tag": rep.tag,
                "external_ref": rep.key,
            },
        )

    def list_sales_reps(self) -> list[str]:
        users = self._parse_list(
            _Created, self.http.json("GET", "/users", params={"role": "sales_rep"}), "GET /users"
        )
        return [user.id for user in users]

    def create_account(self, account: Account) -> str:
        return self._create("/accounts", {**account.model_dump(exclude={"key"}), "external_ref": account.key})

    def create_contact(self, contact: Contact, account_id: str) -> str:
        body = contact.model_dump(exclude={"key", "account_key"})
        return self._create("/contacts", {**body, "account_id": account_id, "external_ref": contact.key})

    def create_lead(self, lead: Lead, arrived_at: datetime | None = None) -> str:
        body: dict[str, Any] = {**lead.model_dump(mode="json", exclude={"key"}), "external_ref": lead.key}
        if arrived_at is not None:
            body["created_at"] = arrived_at.isoformat()
        return self._create("/leads", body)

    def log_activity(self, lead_id: str, activity: Activity) -> str:
        return self._create(
            f"/leads/{lead_id}/activities", activity.model_dump(mode="json", exclude_none=True)
        )

    def delete(self, kind: RecordKind, vendor_id: str) -> bool:
        path = f"/{COLLECTIONS[kind]}/{vendor_id}"
        try:
            self.http.request("DELETE", path)
        except VendorError as exc:
            if "HTTP 404" in str(exc):
                return False
            raise
        return True

    def find_tagged(self, kind: RecordKind, tag: str) -> list[str]:
        path = f"/{COLLECTIONS[kind]}"
        found = self._parse_list(_Created, self.http.json("GET", path, params={"tag": tag}), f"GET {path}")
        return [record.id for record in found]

    def get_lead(self, lead_id: str) -> LeadView:
        data = self.http.json("GET", f"/leads/{lead_id}")
        return self._parse(LeadView, data, "GET /leads/{id}")

    def lead_tasks(self, lead_id: str) -> list[TaskView]:
        data = self.http.json("GET", f"/leads/{lead_id}/tasks")
        return self._parse_list(TaskView, data, "GET /leads/{id}/tasks")

    def lead_alerts(self, lead_id: str) -> list[AlertView]:
        data = self.http.json("GET", f"/leads/{lead_id}/alerts")
        return self._parse_list(AlertView, data, "GET /leads/{id}/alerts")

    def convert_lead(self, lead_id: str, amount: int, expected_close: datetime | None = None) -> str:
        body: dict[str, Any] = {"amount": amount}
        if expected_close is not None:
            body["expected_close"] = expected_close.isoformat()
        return self._create(f"/leads/{lead_id}/convert", body)

    def move_deal(self, deal_id: str, stage: DealStage) -> None:
        self.http.json("POST", f"/deals/{deal_id}/stage", json={"stage": stage.value})

    def get_deal(self, deal_id: str) -> DealView:
        data = self.http.json("GET", f"/deals/{deal_id}")
        return self._parse(DealView, data, "GET /deals/{id}")

    def complete_task(self, task_id: str, user_id: str | None) -> None:
        self.http.json("POST", f"/tasks/{task_id}/complete", json={"user_id": user_id})

    # --- tickets ------------------------------------------------------------------------
    def create_ticket(self, ticket: Ticket, contact_id: str, opened_at: datetime | None = None) -> str:
        body: dict[str, Any] = {
            **ticket.model_dump(mode="json", exclude={"key", "contact_key"}),
            "contact_id": contact_id,
            "external_ref": ticket.key,
        }
        if opened_at is not None:
            body["created_at"] = opened_at.isoformat()
        return self._create("/tickets", body)

    def get_ticket(self, ticket_id: str) -> TicketView:
        return self._parse(TicketView, self.http.json("GET", f"/tickets/{ticket_id}"), "GET /tickets/{id}")

    def reply_ticket(self, ticket_id: str, message: str, user_id: str | None = None) -> None:
        self.http.json("POST", f"/tickets/{ticket_id}/replies", json={"message": message, "user_id": user_id})

    def close_ticket(self, ticket_id: str) -> None:
        self.http.json("POST", f"/tickets/{ticket_id}/close")

    def ticket_surveys(self, ticket_id: str) -> list[SurveyInviteView]:
        data = self.http.json("GET", f"/tickets/{ticket_id}/surveys")
        return self._parse_list(SurveyInviteView, data, "GET /tickets/{id}/surveys")

    def answer_survey(self, survey_id: str, score: int) -> None:
        self.http.json("POST", f"/surveys/{survey_id}/responses", json={"score": score})

    # --- reports --------------------------------------------------------------------------
    def _report(self, model: type[V], name: str, **params: Any) -> V:
        query = {
            ("from" if key == "start" else key): (value.isoformat() if isinstance(value, datetime) else value)
            for key, value in params.items()
        }
        return self._parse(
            model, self.http.json("GET", f"/reports/{name}", params=query), f"GET /reports/{name}"
        )

    def report_conversion(self, start: datetime, end: datetime, tag: str) -> ConversionFigure:
        return self._report(ConversionFigure, "conversion", start=start, to=end, tag=tag)

    def report_first_response(self, start: datetime, end: datetime, tag: str) -> FirstResponseFigure:
        return self._report(FirstResponseFigure, "first-response", start=start, to=end, tag=tag)

    def report_weekly_activity(self, week_start: datetime, tag: str) -> WeeklyActivityFigure:
        return self._report(WeeklyActivityFigure, "weekly-activity", week_start=week_start, tag=tag)

    def report_sla_compliance(self, start: datetime, end: datetime, tag: str) -> SlaComplianceFigure:
        return self._report(SlaComplianceFigure, "sla-compliance", start=start, to=end, tag=tag)

    def report_forecast(self, start: datetime, end: datetime, tag: str) -> ForecastFigure:
        return self._report(ForecastFigure, "forecast", start=start, to=end, tag=tag)

    def report_nps(self, tag: str) -> NpsFigure:
        return self._report(NpsFigure, "nps", tag=tag)


def _with_vendor_id(data: Any) -> Any:
    """The reference CRM calls its id ``id``; the views call it ``vendor_id``."""
    return {**data, "vendor_id": data.get("id")} if isinstance(data, dict) else data
