"""Adapter for the embedded reference CRM (``poc_harness.sandbox``), through its real REST API.

API reference: the reference CRM's own OpenAPI document, served at ``/openapi.json``
(``poc-harness sandbox serve``, then open ``/docs``).  With no ``base_url`` the CRM
runs in-process behind httpx's ASGI transport (no credentials, no network); with a
``base_url`` it is reached over HTTP with the bearer token held in ``token_env``.
"""

from __future__ import annotations

import copy
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

import httpx
from pydantic import AwareDatetime, BaseModel, Field, SecretStr

from poc_harness.config import secret_from_env
from poc_harness.contract.adapter import (
    AccessKind,
    AdapterOptions,
    Capability,
    Endpoint,
    Observed,
    RecordKind,
    UserCredential,
    WebhookEvent,
)
from poc_harness.contract.batches import BatchItem, BatchResult
from poc_harness.contract.http_adapter import HTTPAdapter
from poc_harness.contract.loadtargets import LoadClient, LoadRequest, LoadTargets, ProbeAccounts
from poc_harness.contract.model import (
    Account,
    Activity,
    AlertView,
    AuditEntryView,
    AuditSettingsView,
    CallLog,
    CallView,
    Contact,
    ConversionFigure,
    DealStage,
    DealView,
    FirstResponseFigure,
    ForecastFigure,
    Lead,
    LeadChanges,
    LeadView,
    NpsFigure,
    RecordView,
    SalesRep,
    SlaComplianceFigure,
    SurveyInviteView,
    TaskView,
    TeamMember,
    Ticket,
    TicketView,
    View,
    WebhookNotice,
    WeeklyActivityFigure,
)
from poc_harness.errors import AccessDenied, ConfigError, HarnessError, VendorError
from poc_harness.redaction import REDACTOR
from poc_harness.run.clock import ClockMode
from poc_harness.sandbox.profiles import PROFILES
from poc_harness.sandbox.security import LABEL_FIELDS, PUBLIC_ROUTES
from poc_harness.transport.answers import parse_answer
from poc_harness.transport.http import VendorHTTP
from poc_harness.transport.writes import write_once

V = TypeVar("V", bound=BaseModel)
T = TypeVar("T")

COLLECTIONS = {
    RecordKind.REP: "users",
    RecordKind.ACCOUNT: "accounts",
    RecordKind.CONTACT: "contacts",
    RecordKind.LEAD: "leads",
    RecordKind.TICKET: "tickets",
    RecordKind.ACTIVITY: "activities",
    RecordKind.DEAL: "deals",
}

AUDIT_TYPES = {RecordKind.REP: "user"}  # the audit log's record type, where it is not the kind's name
ACCESS_COLLECTIONS = {kind: f"{kind.value}s" for kind in AccessKind} | {AccessKind.ACTIVITY: "activities"}
PLACEHOLDERS = {
    "lead_id": "lead",
    "deal_id": "deal",
    "ticket_id": "ticket",
    "task_id": "task",
    "record_id": "lead",
    "user_id": "user",
}
"""A route's path parameter -> the probe record it names (``{collection}`` is ``leads``)."""
MISSING_ID = "poc-probe-none"


class SandboxOptions(AdapterOptions):
    profile: str = "healthy"
    base_url: str | None = None
    token_env: str | None = None
    timeout: float | None = None
    """seconds to wait for an answer: 2 in-process, 10 over the network by default"""
    batch_size: int = Field(default=100, ge=1, le=100)
    """records per batch create (the reference CRM takes up to 100)"""
    clock_start: AwareDatetime | None = None
    """where the in-process CRM's virtual clock starts (e.g. a Friday evening); default: now"""


class _Created(View):
    id: str


class _Tagged(View):
    id: str
    external_ref: str | None = None


class _EventRecord(View):
    id: str


class _Event(View):
    type: str
    data: _EventRecord


class _ExportPage(View):
    records: list[dict[str, Any]]
    next_cursor: str | None


class _ItemResult(View):
    index: int
    status: int
    id: str | None = None
    error: str | None = None
    detail: str | None = None


class _BatchAnswer(View):
    results: list[_ItemResult]


class _Now(View):
    now: datetime


class _Token(View):
    token: str


class _Standards(View):
    standards: list[str]


class _Role(View):
    role: str


class _Borrowed(httpx.BaseTransport):
    """Another adapter's in-process transport: used, never closed (its owner closes it)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._inner.handle_request(request)


class _UserHTTP(VendorHTTP):
    """The client of an adapter acting as a user: the CRM's refusals (401, 403, and 404 for a record out
    of the user's reach) raise ``AccessDenied``."""

    REFUSED = re.compile(r": HTTP (401|403|404)\b")

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return super().request(method, path, **kwargs)
        except VendorError as exc:
            if self.REFUSED.search(str(exc)):
                raise AccessDenied(str(exc)) from None
            raise


class SandboxAdapter(HTTPAdapter[SandboxOptions]):
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
            Capability.WEBHOOKS,
            Capability.DATA_EXPORT,
            Capability.VOIP,
            Capability.RBAC,
            Capability.AUDIT_LOG,
            Capability.SSO,
            Capability.BATCH_CREATE,
            Capability.TICKET_REOPEN,
            Capability.TICKET_NOTES,
        }
    )
    default_clock: ClassVar[ClockMode] = ClockMode.VIRTUAL
    observes_task_owner: ClassVar[bool] = True
    webhook_retry_within: ClassVar[timedelta] = timedelta(seconds=1)  # its first retry comes after 50 ms

    def __init__(self, options: SandboxOptions) -> None:
        super().__init__(options)
        if options.profile not in PROFILES:
            raise ConfigError(
                f"sandbox profile '{options.profile}' is unknown: choose one of {', '.join(PROFILES)}"
            )
        self.profile = options.profile
        self.max_batch_size = options.batch_size  # type: ignore[misc]  # per instance: a poc.toml option
        self.persistent = options.base_url is not None
        if options.base_url is None:
            from poc_harness.sandbox.app import create_app
            from poc_harness.sandbox.transport import SyncASGITransport

            token = secrets.token_urlsafe(24)
            REDACTOR.add(token)
            self._app: Any = create_app(options.profile, token, options.clock_start)
            self._transport: SyncASGITransport | None = SyncASGITransport(self._app)
            base_url = "http://sandbox.invalid"
        else:
            if not options.token_env:
                raise ConfigError(
                    "sandbox adapter: base_url is set but token_env is not: name the variable "
                    "that holds the API token"
                )
            if options.clock_start is not None:
                raise ConfigError(
                    "sandbox adapter: clock_start applies to the in-process CRM only: remove it, or "
                    "remove base_url"
                )
            token = secret_from_env(options.token_env, "the reference CRM's API token").get_secret_value()
            self._app = self._transport = None
            base_url = options.base_url
        self._base_url, self._timeout = base_url, options.timeout or (10.0 if options.base_url else 2.0)
        self._headers = {"Authorization": f"Bearer {token}"}
        self.batch_stats = {"calls": 0, "items": 0, "failed_items": 0}
        self.http = VendorHTTP(
            "sandbox",
            base_url,
            headers=self._headers,
            timeout=self._timeout,
            transport=self._transport,
            credential=f"the API token in {options.token_env}" if options.token_env else None,
        )
        self._api_user: SandboxAdapter = self
        """Who looks up a write in doubt: the API user, who sees every record (``as_user`` keeps it), so a
        rep's write is judged by what it did, not by what the rep may read."""

    def observes(self, field: Observed) -> bool:
        return True  # the reference CRM's API names the survey's recipient and the deal's lead

    def close(self) -> None:
        super().close()
        if self._transport is not None:
            self._transport.close()

    def call_stats(self) -> dict[str, Any]:
        return {**super().call_stats(), "batch": dict(self.batch_stats)}

    # --- helpers ----------------------------------------------------------------------
    def _parse(self, model: type[V], data: Any, where: str) -> V:
        return parse_answer(model, _with_vendor_id(data), "sandbox", where)

    def _parse_list(self, model: type[V], data: Any, where: str) -> list[V]:
        if not isinstance(data, list):
            raise VendorError(f"sandbox: {where}: expected a JSON list, got {type(data).__name__}")
        return [self._parse(model, item, where) for item in data]

    def _create(self, path: str, body: dict[str, Any]) -> str:
        return self._parse(_Created, self.http.json("POST", path, json=body), f"POST {path}").id

    def _listed_ids(self, path: str, **params: Any) -> list[str]:
        """The ids of the records at a listing ``path``, read as the API user."""
        answer = self._api_user.http.json("GET", path, params=params or None)
        return [record.id for record in self._parse_list(_Created, answer, f"GET {path}")]

    def _adds_one(self, send: Callable[[], T], listing: Callable[[], list[str]]) -> T | str:
        """``send()`` a write that adds one record to ``listing`` (a lead's activities, a ticket's replies,
        a lead's deals), counted before it is sent: in doubt, the write was applied when the listing grew
        (the new record's id), and is sent again only when it did not (``poc_harness.transport.writes``)."""
        before = set(listing())

        def applied() -> str | None:
            new = [record_id for record_id in listing() if record_id not in before]
            return new[-1] if new else None

        sent: Callable[[], T | str] = send
        return write_once(sent, applied)

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
        return self._create("/accounts", _body(BatchItem(account)))

    def create_contact(self, contact: Contact, account_id: str) -> str:
        return self._create("/contacts", _body(BatchItem(contact, parent_id=account_id)))

    def create_lead(self, lead: Lead, arrived_at: datetime | None = None) -> str:
        return self._create("/leads", _body(BatchItem(lead, at=arrived_at)))

    def log_activity(self, lead_id: str, activity: Activity) -> str:
        path, body = f"/leads/{lead_id}/activities", activity.model_dump(mode="json", exclude_none=True)
        return str(self._adds_one(lambda: self._create(path, body), lambda: self._listed_ids(path)))

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
        return list(self._tagged(kind, tag))

    def find_tagged_refs(self, kind: RecordKind, tag: str) -> dict[str, str | None] | None:
        return self._tagged(kind, tag)

    def _tagged(self, kind: RecordKind, tag: str) -> dict[str, str | None]:
        path = f"/{COLLECTIONS[kind]}"
        found = self._parse_list(_Tagged, self.http.json("GET", path, params={"tag": tag}), f"GET {path}")
        return {record.id: record.external_ref for record in found}

    # --- batch create and load -----------------------------------------------------------
    max_batch_size: ClassVar[int] = 100  # the reference CRM's limit (poc_harness.sandbox.batch.MAX_BATCH)

    def create_batch(self, kind: RecordKind, items: list[BatchItem]) -> list[BatchResult]:
        if kind not in (RecordKind.ACCOUNT, RecordKind.CONTACT, RecordKind.LEAD):
            return super().create_batch(kind, items)
        if not 0 < len(items) <= self.max_batch_size:
            raise HarnessError(
                f"create_batch: {len(items)} items; the sandbox takes 1 to {self.max_batch_size}"
            )
        path = f"/batch/{COLLECTIONS[kind]}"
        self.batch_stats["calls"] += 1
        self.batch_stats["items"] += len(items)
        sent = self.http.json("POST", path, json={"items": [_body(item) for item in items]})
        answer = self._parse(_BatchAnswer, sent, f"POST {path}")
        by_index = {result.index: result for result in answer.results}
        if sorted(by_index) != list(range(len(items))):
            raise VendorError(f"sandbox: POST {path}: {len(items)} items sent, {len(by_index)} results back")
        results = []
        for index in range(len(items)):
            item = by_index[index]
            if item.status < 300 and item.id:
                results.append(BatchResult(item.id))
                continue
            self.batch_stats["failed_items"] += 1
            unknown = item.status >= 500 and item.status != 503  # 503: not created, by the API's promise
            results.append(BatchResult(None, f"HTTP {item.status}: {item.error}: {item.detail}", unknown))
        return results

    def load_targets(self, tag: str, known: Mapping[RecordKind, Sequence[str]]) -> LoadTargets:
        from poc_harness.sandbox.async_transport import AsyncASGITransport

        leads = list(known.get(RecordKind.LEAD, ()))
        reads = []
        if leads:
            reads += [
                LoadRequest("GET /leads/{id}", "GET", lambda n: f"/leads/{leads[n % len(leads)]}"),
                LoadRequest(
                    "GET /leads/{id}/tasks", "GET", lambda n: f"/leads/{leads[n % len(leads)]}/tasks"
                ),
            ]
        accounts = ProbeAccounts(tag)
        write = LoadRequest(
            "POST /accounts",
            "POST",
            lambda n: "/accounts",
            lambda n: _body(BatchItem(accounts.account(n))),
            creates=RecordKind.ACCOUNT.value,
            key=accounts.key,
        )
        app = self._app
        client = LoadClient(
            self._base_url,
            dict(self._headers),
            timeout=self.options.timeout or (10.0 if app is None else 3.0),
            transport=(lambda: AsyncASGITransport(app=app)) if app is not None else None,
        )
        return LoadTargets(reads, [write], client, lambda answer: answer.get("id"))

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
        convert = lambda: self._create(f"/leads/{lead_id}/convert", body)  # noqa: E731
        return str(self._adds_one(convert, lambda: self._lead_deals(lead_id)))

    def _lead_deals(self, lead_id: str) -> list[str]:
        """The ids of the lead's deals, read as the API user (the deals carry the lead's tag)."""
        tag = self._api_user.http.json("GET", f"/leads/{lead_id}").get("tag")
        deals = self._api_user.http.json("GET", "/deals", params={"tag": tag} if tag else None)
        if not isinstance(deals, list):
            raise VendorError(f"sandbox: GET /deals: expected a JSON list, got {type(deals).__name__}")
        return [str(d["id"]) for d in deals if isinstance(d, dict) and d.get("lead_id") == lead_id]

    def move_deal(self, deal_id: str, stage: DealStage) -> None:
        write_once(
            lambda: self.http.json("POST", f"/deals/{deal_id}/stage", json={"stage": stage.value}),
            lambda: True if self._api_user.get_deal(deal_id).stage is stage else None,
        )

    def get_deal(self, deal_id: str) -> DealView:
        data = self.http.json("GET", f"/deals/{deal_id}")
        return self._parse(DealView, data, "GET /deals/{id}")

    def complete_task(self, task_id: str, user_id: str | None) -> None:
        """(Completing a task sets its state: a repeat in doubt leaves it done.)"""
        write_once(
            lambda: self.http.json("POST", f"/tasks/{task_id}/complete", json={"user_id": user_id}),
            None,
            repeatable=True,
        )

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

    def _add_reply(self, ticket_id: str, body: dict[str, Any]) -> None:
        """A reply or an internal note: in doubt, applied when the ticket's replies grew (a second reply
        after a reopen too, which a first response already shown would not tell)."""
        path = f"/tickets/{ticket_id}/replies"
        self._adds_one(lambda: self.http.json("POST", path, json=body), lambda: self._listed_ids(path))

    def reply_ticket(self, ticket_id: str, message: str, user_id: str | None = None) -> None:
        self._add_reply(ticket_id, {"message": message, "user_id": user_id})

    def close_ticket(self, ticket_id: str) -> None:
        write_once(
            lambda: self.http.json("POST", f"/tickets/{ticket_id}/close"),
            lambda: True if self._api_user.get_ticket(ticket_id).closed_at is not None else None,
        )

    def reopen_ticket(self, ticket_id: str) -> None:
        write_once(
            lambda: self.http.json("POST", f"/tickets/{ticket_id}/reopen"),
            lambda: True if self._api_user.get_ticket(ticket_id).status != "closed" else None,
        )

    def note_ticket(self, ticket_id: str, message: str, user_id: str | None = None) -> None:
        self._add_reply(ticket_id, {"message": message, "user_id": user_id, "internal": True})

    def ticket_surveys(self, ticket_id: str) -> list[SurveyInviteView]:
        data = self.http.json("GET", f"/tickets/{ticket_id}/surveys")
        return self._parse_list(SurveyInviteView, data, "GET /tickets/{id}/surveys")

    def answer_survey(self, survey_id: str, score: int) -> None:
        """A survey answered twice is refused (409): a repeat so refused proves the first was applied."""
        write_once(
            lambda: self.http.json("POST", f"/surveys/{survey_id}/responses", json={"score": score}),
            None,
            refused_as_repeat=True,
        )

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

    # --- integrations -----------------------------------------------------------------------
    def subscribe_webhook(self, url: str, secret: str, events: list[WebhookEvent]) -> str:
        body = {"url": url, "secret": secret, "events": [event.value for event in events]}
        return self._create("/webhooks/subscriptions", body)

    def unsubscribe_webhook(self, subscription_id: str) -> None:
        self.http.request("DELETE", f"/webhooks/subscriptions/{subscription_id}")

    def webhook_notice(self, payload: Any) -> WebhookNotice:
        event = self._parse(_Event, payload, "webhook payload")
        return WebhookNotice(event=event.type, record_id=event.data.id)

    def export_records(self, kind: RecordKind, tag: str) -> list[dict[str, Any]]:
        path = f"/export/{COLLECTIONS[kind]}"
        rows: list[dict[str, Any]] = []
        cursor: str | None = "0"
        while cursor is not None:
            answer = self.http.json("GET", path, params={"tag": tag, "cursor": cursor})
            page = self._parse(_ExportPage, answer, f"GET {path}")
            rows.extend(page.records)
            cursor = page.next_cursor
        return rows

    def log_call(self, lead_id: str, call: CallLog) -> str:
        create = lambda: self._create(f"/leads/{lead_id}/calls", call.model_dump(mode="json"))  # noqa: E731
        return str(self._adds_one(create, lambda: self._listed_ids(f"/leads/{lead_id}/activities")))

    def lead_calls(self, lead_id: str) -> list[CallView]:
        path = "GET /leads/{id}/activities"
        timeline = self.http.json("GET", f"/leads/{lead_id}/activities")
        if not isinstance(timeline, list):
            raise VendorError(f"sandbox: {path}: expected a JSON list, got {type(timeline).__name__}")
        calls = [
            {**item, "started_at": item.get("at")}
            for item in timeline
            if isinstance(item, dict) and item.get("kind") == "call" and "number" in item
        ]
        return self._parse_list(CallView, calls, path)

    # --- security ---------------------------------------------------------------------------
    def update_lead(self, lead_id: str, changes: LeadChanges) -> None:
        body = changes.model_dump(exclude_none=True)
        write_once(  # in doubt: applied when the lead shows the new title (estimated_value is not read back)
            lambda: self.http.json("PATCH", f"/leads/{lead_id}", json=body),
            (lambda: True if self._api_user.get_lead(lead_id).title == changes.title else None)
            if changes.title
            else None,
            repeatable=changes.title is None,
        )

    def create_team_user(self, user: TeamMember) -> str:
        body = {
            **user.model_dump(mode="json", exclude={"key"}),
            "external_ref": user.key,
            "in_assignment_pool": False,
        }
        return self._create("/users", body)

    def issue_credential(self, user_id: str) -> UserCredential:
        answer = write_once(  # a token in doubt is only an unused credential of a user the run created
            lambda: self.http.json("POST", f"/users/{user_id}/tokens"), None, repeatable=True
        )
        token = self._parse(_Token, answer, "POST /users/{id}/tokens").token
        REDACTOR.add(token)
        return UserCredential(token=SecretStr(token), user_id=user_id)

    def as_user(self, credential: UserCredential) -> SandboxAdapter:
        acting = copy.copy(self)
        acting._transport = None  # the in-process CRM stays this adapter's to close
        acting.http = _UserHTTP(
            "sandbox",
            self._base_url,
            headers={"Authorization": f"Bearer {credential.token.get_secret_value()}"},
            timeout=self._timeout,
            transport=_Borrowed(self._transport) if self._transport is not None else None,
        )
        return acting

    def acting_user_id(self) -> str:
        return self._parse(_Created, self.http.json("GET", "/me"), "GET /me").id

    def audit_entries(self, kind: RecordKind, record_id: str, since: datetime) -> list[AuditEntryView]:
        params = {"record_type": AUDIT_TYPES.get(kind, kind.value), "record_id": record_id}
        answer = self.http.json("GET", "/audit", params={**params, "since": since.isoformat()})
        return self._parse_list(AuditEntryView, answer, "GET /audit")

    def audit_settings(self) -> AuditSettingsView:
        return self._parse(AuditSettingsView, self.http.json("GET", "/settings/audit"), "GET /settings/audit")

    # --- the access-control matrix and the unauthenticated probe ---------------------------------------
    def read_record(self, kind: AccessKind, vendor_id: str) -> RecordView | None:
        collection = ACCESS_COLLECTIONS[kind]
        try:
            data = self.http.json("GET", f"/{collection}/{vendor_id}")
        except AccessDenied:
            raise
        except VendorError as exc:
            if "HTTP 404" in str(exc):
                return None
            raise
        view = self._parse(_Created, data, f"GET /{collection}/{{id}}")
        label = data.get(LABEL_FIELDS[collection]) if isinstance(data, dict) else None
        return RecordView(vendor_id=view.id, label=label)

    def list_records(self, kind: AccessKind, tag: str) -> list[str]:
        collection = ACCESS_COLLECTIONS[kind]
        params = {} if kind is AccessKind.TASK else {"tag": tag}  # its tasks carry no tag: every one seen
        answer = self.http.json("GET", f"/{collection}", params=params)
        return [record.id for record in self._parse_list(_Created, answer, f"GET /{collection}")]

    def update_record(self, kind: AccessKind, vendor_id: str, label: str) -> None:
        if kind is AccessKind.LEAD:  # a lead's own PATCH takes its fields by name
            self.update_lead(vendor_id, LeadChanges(title=label))
            return
        path = f"/{ACCESS_COLLECTIONS[kind]}/{vendor_id}"
        write_once(  # in doubt: applied when the API user reads the new label
            lambda: self.http.json("PATCH", path, json={"label": label}),
            lambda: True if self._labelled(kind, vendor_id) == label else None,
        )

    def _labelled(self, kind: AccessKind, vendor_id: str) -> str | None:
        found = self._api_user.read_record(kind, vendor_id)
        return found.label if found is not None else None

    def delete_record(self, kind: AccessKind, vendor_id: str) -> None:
        """A DELETE is sent again after a 503 or a lost answer (``http.IDEMPOTENT``): a 404 to the repeat
        is the first one's work when the API user no longer finds the record, not a refusal."""
        retries = self.http.stats.retries
        try:
            self.http.request("DELETE", f"/{ACCESS_COLLECTIONS[kind]}/{vendor_id}")
        except VendorError as exc:
            repeated = self.http.stats.retries > retries and "HTTP 404" in str(exc)
            if not (repeated and self._api_user.read_record(kind, vendor_id) is None):
                raise

    def api_endpoints(self, ids: Mapping[str, str]) -> list[Endpoint]:
        """Every route of the reference CRM, read from its OpenAPI document."""
        document = self.http.json("GET", "/openapi.json")
        paths = document.get("paths") if isinstance(document, dict) else None
        if not isinstance(paths, dict):
            raise VendorError("sandbox: GET /openapi.json: no paths in the answer")
        values = {name: ids.get(kind, MISSING_ID) for name, kind in PLACEHOLDERS.items()}
        values["collection"] = "leads"
        endpoints = []
        for route, methods in paths.items():
            path = re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), MISSING_ID), route)
            for method in methods:
                method = method.upper()
                endpoints.append(Endpoint(method, route, path, (method, route) in PUBLIC_ROUTES))
        return endpoints

    ANONYMOUS_ATTEMPTS: ClassVar[int] = 3

    def _anonymous(self, method: str, path: str, token: str | None, body: Any) -> httpx.Response:
        """One request without the adapter's token (``token``: a made-up one), sent again on 429/503 or a
        lost answer, as the retrying client would; never with the adapter's credentials."""
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        transport = _Borrowed(self._transport) if self._transport is not None else None
        with httpx.Client(base_url=self._base_url, timeout=self._timeout, transport=transport) as client:
            attempts = 0
            while True:
                attempts += 1
                last = attempts >= self.ANONYMOUS_ATTEMPTS
                try:
                    answer = client.request(method, path, headers=headers, json=body)
                except httpx.HTTPError as exc:
                    if last:
                        raise VendorError(f"sandbox: {method} {path} without credentials: {exc}") from None
                    continue
                if last or answer.status_code not in (429, 503):
                    return answer

    def call_anonymously(self, method: str, path: str, token: str | None) -> int:
        body: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
        return self._anonymous(method, path, token, body).status_code

    def self_register(self, name: str, email: str, role: str, tag: str) -> str | None:
        body = {"name": name, "email": email, "role": role, "tag": tag, "external_ref": email}
        answer = self._anonymous("POST", "/signup", None, body)
        if answer.status_code in (401, 403, 404):
            return None
        if answer.status_code >= 300:
            raise VendorError(f"sandbox: POST /signup: HTTP {answer.status_code}")
        try:
            data = answer.json()
        except ValueError:
            raise VendorError("sandbox: POST /signup: the answer is not JSON") from None
        REDACTOR.add(self._parse(_Token, data, "POST /signup").token)
        return self._parse(_Created, data, "POST /signup").id

    def user_role(self, user_id: str) -> str:
        return self._parse(_Role, self.http.json("GET", f"/users/{user_id}"), "GET /users/{id}").role

    def saml_sp_metadata(self) -> bytes:
        return self.http.request("GET", "/saml/metadata").content

    def identity_standards(self) -> list[str]:
        return self._parse(_Standards, self.http.json("GET", "/auth/methods"), "GET /auth/methods").standards


def _body(item: BatchItem) -> dict[str, Any]:
    """The reference CRM's create body of an account, contact or lead (single or batch)."""
    record = item.record
    body: dict[str, Any] = {
        **record.model_dump(mode="json", exclude={"key", "account_key"}),
        "external_ref": record.key,
    }
    if item.parent_id is not None:
        body["account_id"] = item.parent_id
    if item.at is not None:
        body["created_at"] = item.at.isoformat()
    return body


def _with_vendor_id(data: Any) -> Any:
    """The reference CRM calls its id ``id``; the views call it ``vendor_id``."""
    return {**data, "vendor_id": data.get("id")} if isinstance(data, dict) else data
