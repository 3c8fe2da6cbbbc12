"""Adapter for Zoho CRM through its REST API, version 8.

Vendor documentation this adapter follows (zoho.com):

- Refreshing an access token (POST ``{accounts server}/oauth/v2/token``, ``grant_type=refresh_token``; the
  answer carries ``access_token``, ``api_domain``, ``expires_in``; one accounts server per data centre):
  https://zoho.com/accounts/protocol/oauth/web-apps/access-token-expiry.html and
  https://www.zoho.com/crm/developer/docs/api/v7/refresh.html
- Insert records (``POST /crm/v8/{module}``, at most 100 records a call, one status per record, the
  ``lar_id`` lead assignment rule, automation runs when ``trigger`` is absent):
  https://zoho.com/crm/developer/docs/api/v8/insert-records.html
- Update records (``PUT /crm/v8/{module}/{id}``, ``{"data": [...]}``):
  https://www.zoho.com/crm/developer/docs/api/v7/update-records.html
- Get records and related records (``info.more_records``, ``page``/``per_page``, ``page_token``; 204 when
  nothing matches): https://www.zoho.com/crm/developer/docs/api/v7/get-records.html and
  https://zoho.com/crm/developer/docs/api/v8/get-related-records.html
- Convert lead (``POST /crm/v8/Leads/{id}/actions/convert``, a ``Deals`` object, ``details.Deals.id``):
  https://www.zoho.com/crm/developer/docs/api/v7/convert-lead.html
- Notes of a record (``POST /crm/v8/{module}/{id}/Notes``):
  https://www.zoho.com/crm/developer/docs/api/v7/create-notes.html
- API limits (credits in a rolling 24 h window, concurrency limits answered with HTTP 429; convert costs 5
  credits): https://www.zoho.com/crm/developer/docs/api/v4/api-limits.html
- Users (``GET /crm/v8/users?type=ActiveUsers``, ``users`` + ``info``) and the org (``GET /crm/v8/org``):
  https://www.zoho.com/crm/developer/docs/api/v7/get-users.html and
  https://www.zoho.com/crm/developer/docs/api/v7/get-org-data.html
- Search records (``GET /crm/v8/{module}/search?word=``):
  https://www.zoho.com/crm/developer/docs/api/v7/search-records.html

How the PoC behaviours map, and what is honestly missing:

- Auto-assignment: leads are inserted with ``lar_id`` (option ``lead_assignment_rule``); without it Zoho keeps
  the API user as owner.  Sales reps are the active users, optionally of one profile.
- Follow-ups: the Tasks related to the lead (created by the org's workflow rule).  Zoho Tasks have a due
  *date*, no time: a task is due at 00:00 of that date in ``time_zone``; match them with ``tolerance_minutes``
  of a day.  The harness logs Calls, Events (meetings), Notes and, since Zoho CRM has no e-mail activity
  record an API can create without a real message (Associate Email needs the message id), e-mails as
  completed Tasks marked in their Description; those marked tasks are not follow-ups.
- Conversion: the documented convert action, creating the Deal at the qualification stage.  Stage history is
  the Deal's ``Stage_History`` related list (its time field is ``stage_history_time_field``; check it with the
  related-lists metadata API).  A Zoho Deal keeps no link back to its lead: ``lead_id`` is None.
- Tickets are Cases; a reply is a Note on the case (a Zoho CRM case has no reply record; e-mail would go to
  the seeded contact).  Zoho CRM Cases keep no first-response time and no SLA breach flags (SLAs belong to
  Zoho Desk), so ``get_ticket`` cannot answer and ``SLA`` is not declared (not implemented: not measured).
- Rate limits: a 429 is retried by the client (``Retry-After`` honoured).  The API-limits page documents
  credits, not headers; if an answer carries ``X-RATELIMIT-REMAINING`` (reported by third parties), the client
  pauses when it falls to ``pause_when_remaining``.
- No silence alert, NPS survey, management report, forecast, backdating (``Created_Time`` is read-only) or
  clock control: not implemented by the adapter, so those methods raise ``NotImplementedByAdapter`` (not
  measured, never the vendor's finding: no documentation says Zoho lacks them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar, Literal, TypeVar
from zoneinfo import ZoneInfo

import httpx
from pydantic import AwareDatetime, BaseModel, Field

from poc_harness.config import secret_from_env
from poc_harness.contract.adapter import AdapterOptions, Capability, RecordKind
from poc_harness.contract.adapter_options import defaults_option, picklist_option, time_zone_option
from poc_harness.contract.batches import BatchItem, BatchResult, partly_batched
from poc_harness.contract.http_adapter import HTTPAdapter
from poc_harness.contract.marks import described, key_in
from poc_harness.contract.model import (
    Account,
    Activity,
    ActivityKind,
    Contact,
    DealStage,
    DealView,
    Lead,
    LeadSource,
    LeadView,
    Record,
    StageChange,
    TaskView,
    Ticket,
    TicketPriority,
    TicketView,
)
from poc_harness.errors import ConfigError, HarnessError, VendorError
from poc_harness.redaction import REDACTOR
from poc_harness.transport.answers import decode_json, parse_answer
from poc_harness.transport.http import VendorHTTP, renewing_once

V = TypeVar("V", bound=BaseModel)
BATCH_SIZE = 100
PAGE_SIZE = 200
MEETING_LENGTH = timedelta(minutes=30)
DEFAULT_CLOSE = timedelta(days=30)
EMAIL_MARKER = "poc-harness activity: email"
DataCentre = Literal["com", "eu", "in", "com.au", "jp", "ca", "sa", "com.cn"]
SERVERS: dict[str, tuple[str, str]] = {
    "com": ("https://accounts.zoho.com", "https://www.zohoapis.com"),
    "eu": ("https://accounts.zoho.eu", "https://www.zohoapis.eu"),
    "in": ("https://accounts.zoho.in", "https://www.zohoapis.in"),
    "com.au": ("https://accounts.zoho.com.au", "https://www.zohoapis.com.au"),
    "jp": ("https://accounts.zoho.jp", "https://www.zohoapis.jp"),
    "ca": ("https://accounts.zohocloud.ca", "https://www.zohoapis.ca"),
    "sa": ("https://accounts.zoho.sa", "https://www.zohoapis.sa"),
    "com.cn": ("https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn"),
}
MODULES = {
    RecordKind.ACCOUNT: "Accounts",
    RecordKind.CONTACT: "Contacts",
    RecordKind.LEAD: "Leads",
    RecordKind.TICKET: "Cases",
    RecordKind.DEAL: "Deals",
}
ACTIVITY_MODULES = ("Tasks", "Calls", "Events", "Notes")
RECORD_ID = re.compile(r"^\d{1,25}$")
TOKEN_EXPIRED = ("HTTP 401",)
DEFAULT_STAGES = {
    DealStage.QUALIFICATION: "Qualification",
    DealStage.PROPOSAL: "Proposal/Price Quote",
    DealStage.NEGOTIATION: "Negotiation/Review",
    DealStage.WON: "Closed Won",
    DealStage.LOST: "Closed Lost",
}
DEFAULT_PRIORITIES = {
    TicketPriority.LOW: "Low",
    TicketPriority.NORMAL: "Medium",
    TicketPriority.HIGH: "High",
    TicketPriority.URGENT: "Urgent",
}
DEFAULT_SOURCES = {
    LeadSource.WEBSITE: "Web Download",
    LeadSource.REFERRAL: "External Referral",
    LeadSource.EXHIBITION: "Trade Show",
    LeadSource.COLD_CALL: "Cold Call",
    LeadSource.CAMPAIGN: "Advertisement",
    LeadSource.PARTNER: "Partner",
}


class ZohoOptions(AdapterOptions):
    data_centre: DataCentre = Field(default="com", description="where the org lives: com, eu, in, com.au...")
    client_id: str = Field(min_length=1, description="client id of the self client or server-based app")
    client_secret_env: str = Field(min_length=1, description="environment variable holding the client secret")
    refresh_token_env: str = Field(min_length=1, description="environment variable holding the refresh token")
    api_version: str = Field(default="v8", pattern=r"^v\d+$")
    timeout: float = Field(default=30.0, gt=0)
    lead_assignment_rule: str | None = Field(
        default=None, pattern=r"^\d+$", description="lar_id for new leads"
    )
    rep_profile: str | None = Field(default=None, description="profile name of the sales reps; all if unset")
    stages: dict[DealStage, str] = Field(default_factory=lambda: dict(DEFAULT_STAGES))
    pipeline: str | None = Field(default=None, description='e.g. "Standard (Standard)" when pipelines are on')
    priorities: dict[TicketPriority, str] = Field(default_factory=lambda: dict(DEFAULT_PRIORITIES))
    lead_sources: dict[LeadSource, str] = Field(default_factory=lambda: dict(DEFAULT_SOURCES))
    case_origin: str = "Web"
    case_status: str = "New"
    closed_status: str = "Closed"
    case_contact_field: str = Field(default="Related_To", description="the Cases lookup to Contacts")
    stage_history_time_field: str = "Modified_Time"
    time_zone: str = Field(default="UTC", description="the org's time zone, for date-only due dates")
    pause_when_remaining: int = Field(default=0, ge=0)
    pause_seconds: float = Field(default=30.0, ge=0)

    _stages = picklist_option("stages", DEFAULT_STAGES)
    _priorities = picklist_option("priorities", DEFAULT_PRIORITIES)
    _sources = defaults_option("lead_sources", DEFAULT_SOURCES)

    _zone = time_zone_option("time_zone")


class ZohoAdapter(HTTPAdapter[ZohoOptions]):
    name: ClassVar[str] = "zoho"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.AUTO_ASSIGN,
            Capability.FOLLOWUP_TASKS,
            Capability.DEALS,
            Capability.TICKETS,
            Capability.BATCH_CREATE,
        }
    )
    observes_task_owner: ClassVar[bool] = True

    def __init__(self, options: ZohoOptions) -> None:
        super().__init__(options)
        self._secret = secret_from_env(options.client_secret_env, "the Zoho client secret")
        self._refresh = secret_from_env(options.refresh_token_env, "the Zoho refresh token")
        self._accounts_url, self._api_domain = SERVERS[options.data_centre]
        self.http = VendorHTTP(
            "zoho",
            self._api_domain,
            timeout=options.timeout,
            pause_after=self._pause_after,
            credential=f"the refresh token in {options.refresh_token_env} and the secret in "
            f"{options.client_secret_env}",
        )
        self._token = ""
        self._crm = f"/crm/{options.api_version}"
        self._stage_of = {value: stage for stage, value in options.stages.items()}
        self._zone = ZoneInfo(options.time_zone)

    # --- authentication and transport ---------------------------------------------------
    def _authenticate(self) -> None:
        """A new access token from the refresh token, at the data centre's accounts server."""
        form = {
            "grant_type": "refresh_token",
            "client_id": self.options.client_id,
            "client_secret": self._secret.get_secret_value(),
            "refresh_token": self._refresh.get_secret_value(),
        }
        try:
            answer = self.http.json("POST", f"{self._accounts_url}/oauth/v2/token", data=form)
        except VendorError as exc:
            if "HTTP 400" not in str(exc) and "HTTP 401" not in str(exc):
                raise
            answer = {"error": str(exc)}
        if not isinstance(answer, dict) or "error" in answer or not answer.get("access_token"):
            reason = answer.get("error") if isinstance(answer, dict) else "no access_token"
            raise ConfigError(
                f"zoho: {self._accounts_url} refused the refresh token ({reason}): check client_id, "
                f"{self.options.client_secret_env}, {self.options.refresh_token_env} and the data_centre"
            )
        self._token = str(answer["access_token"])
        REDACTOR.add(self._token)
        self._api_domain = str(answer.get("api_domain") or self._api_domain).rstrip("/")

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One API call with ``Authorization: Zoho-oauthtoken``; an expired token is refreshed once."""

        def call() -> httpx.Response:
            auth = {"Authorization": f"Zoho-oauthtoken {self._token}"}
            return self.http.request(method, f"{self._api_domain}{self._crm}{path}", headers=auth, **kwargs)

        if not self._token:
            self._authenticate()
        return renewing_once(call, self._authenticate, TOKEN_EXPIRED)

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any] | None:
        """The JSON object Zoho answers, or None for 204 (Zoho's "nothing found")."""
        response = self._send(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        answer = decode_json(response, "zoho", f"{method} {path}")
        if not isinstance(answer, dict):
            raise VendorError(f"zoho: {method} {path}: expected a JSON object, got {type(answer).__name__}")
        return answer

    def _pause_after(self, response: httpx.Response) -> float | None:
        remaining = response.headers.get("X-RATELIMIT-REMAINING", "").strip()
        if not remaining.isdigit():
            return None
        return self.options.pause_seconds if int(remaining) <= self.options.pause_when_remaining else None

    # --- records building blocks --------------------------------------------------------------
    def _entries(
        self, method: str, path: str, payload: dict[str, Any] | None, expected: int
    ) -> list[dict[str, Any]]:
        """The per-record statuses of a write: ``data``, one ``{code, details, message, status}`` a record."""
        answer = self._json(method, path, **({"json": payload} if payload is not None else {})) or {}
        entries = answer.get("data")
        if not isinstance(entries, list) or len(entries) != expected:
            raise VendorError(f"zoho: {method} {path}: expected {expected} record statuses")
        return [entry if isinstance(entry, dict) else {} for entry in entries]

    def _insert_one(self, module: str, body: dict[str, Any], extra: dict[str, Any] | None = None) -> str:
        entry = self._entries("POST", f"/{module}", {"data": [body], **(extra or {})}, 1)[0]
        return _entry_id(entry, module)

    def _update(self, module: str, record_id: str, body: dict[str, Any]) -> None:
        entry = self._entries("PUT", f"/{module}/{_zoho_id(record_id)}", {"data": [body]}, 1)[0]
        _entry_id(entry, module)

    def _record(self, module: str, record_id: str) -> dict[str, Any]:
        answer = self._json("GET", f"/{module}/{_zoho_id(record_id)}")
        rows = answer.get("data") if answer else None
        if not isinstance(rows, list) or not rows or not isinstance(rows[0], dict):
            raise VendorError(f"zoho: {module} record {record_id} not found")
        return rows[0]

    def _pages(self, path: str, params: dict[str, Any], key: str = "data") -> Iterator[dict[str, Any]]:
        """Every row of a listing: ``page`` by ``page``, or ``page_token`` once Zoho gives one."""
        page, token = 1, None
        while True:
            cursor = {"page_token": token} if token else {"page": page}
            answer = self._json("GET", path, params={**params, **cursor, "per_page": PAGE_SIZE})
            if answer is None:
                return
            rows = answer.get(key) if isinstance(answer, dict) else None
            if not isinstance(rows, list):  # a listing with rows always holds them under ``key``
                raise VendorError(f"zoho: GET {path}: unexpected answer: no {key} list")
            yield from (row for row in rows if isinstance(row, dict))
            info = answer.get("info") or {}
            if not info.get("more_records"):
                return
            page, token = page + 1, info.get("next_page_token")

    @staticmethod
    def _owner(user_id: str | None) -> dict[str, Any]:
        return {"Owner": {"id": _zoho_id(user_id)}} if user_id else {}

    @staticmethod
    def _related_to_lead(lead_id: str) -> dict[str, Any]:
        return {"What_Id": {"id": _zoho_id(lead_id)}, "$se_module": "Leads"}

    # --- record bodies --------------------------------------------------------------------
    def _account_body(self, account: Account, _: str | None = None) -> dict[str, Any]:
        return {
            "Account_Name": account.name,
            "Industry": account.industry,
            "Billing_City": account.city,
            "Phone": account.phone,
            "Description": described(account, account.name),
        }

    def _contact_body(self, contact: Contact, account_id: str | None) -> dict[str, Any]:
        return {
            "First_Name": contact.first_name,
            "Last_Name": contact.last_name,
            "Email": contact.email,
            "Phone": contact.phone,
            "Account_Name": {"id": _zoho_id(account_id)},
            "Description": described(contact, f"{contact.first_name} {contact.last_name}"),
        }

    def _lead_body(self, lead: Lead, _: str | None = None) -> dict[str, Any]:
        first, _space, last = lead.contact_name.strip().rpartition(" ")
        return {
            **({"First_Name": first} if first else {}),
            "Last_Name": last,
            "Company": lead.company,
            "Email": lead.email,
            "Phone": lead.phone,
            "City": lead.city,
            "Lead_Source": self.options.lead_sources[lead.source],
            "Description": described(lead, lead.title, f"estimated value {lead.estimated_value}"),
        }

    def _case_body(self, ticket: Ticket, contact_id: str | None) -> dict[str, Any]:
        return {
            "Subject": ticket.subject,
            "Description": described(ticket, ticket.description),
            "Priority": self.options.priorities[ticket.priority],
            "Status": self.options.case_status,
            "Case_Origin": self.options.case_origin,
            self.options.case_contact_field: {"id": _zoho_id(contact_id)},
        }

    def _body(self, kind: RecordKind, record: Record, parent_id: str | None) -> dict[str, Any]:
        builders: dict[RecordKind, Callable[[Any, str | None], dict[str, Any]]] = {
            RecordKind.ACCOUNT: self._account_body,
            RecordKind.CONTACT: self._contact_body,
            RecordKind.LEAD: self._lead_body,
            RecordKind.TICKET: self._case_body,
        }
        if kind not in builders:
            raise HarnessError(f"zoho: create_batch does not create {kind.value} records")
        return builders[kind](record, parent_id)

    def _insert_extra(self, kind: RecordKind) -> dict[str, Any]:
        rule = self.options.lead_assignment_rule
        return {"lar_id": rule} if kind is RecordKind.LEAD and rule else {}

    # --- lifecycle and time -----------------------------------------------------------------
    def check_connection(self) -> str:
        orgs = (self._json("GET", "/org") or {}).get("org") or [{}]
        org = orgs[0] if isinstance(orgs[0], dict) else {}
        return (
            f"Zoho CRM {org.get('company_name', '?')} (org {org.get('id', '?')}, data centre "
            f"{self.options.data_centre}, API {self.options.api_version}, {self._api_domain})"
        )

    def now(self) -> datetime:
        return datetime.now(UTC)

    # --- seeding ------------------------------------------------------------------------------
    def list_sales_reps(self) -> list[str]:
        users = self._pages("/users", {"type": "ActiveUsers"}, key="users")
        profile = self.options.rep_profile
        return [
            str(user["id"])
            for user in users
            if user.get("id") and (profile is None or (user.get("profile") or {}).get("name") == profile)
        ]

    def create_account(self, account: Account) -> str:
        return self._insert_one("Accounts", self._account_body(account))

    def create_contact(self, contact: Contact, account_id: str) -> str:
        return self._insert_one("Contacts", self._contact_body(contact, account_id))

    def create_lead(self, lead: Lead, arrived_at: datetime | None = None) -> str:
        if arrived_at is not None:
            raise self._lacks(Capability.BACKDATING)
        return self._insert_one("Leads", self._lead_body(lead), self._insert_extra(RecordKind.LEAD))

    max_batch_size: ClassVar[int] = BATCH_SIZE

    def create_batch(self, kind: RecordKind, items: list[BatchItem]) -> list[BatchResult]:
        """One insert of up to 100 records, a status per record (a refused record is not created).  Zoho
        cannot backdate: a lead given an arrival goes alone, where ``create_lead`` says so."""
        return partly_batched(
            items,
            lambda item: item.at is None,
            lambda sent: self._insert_batch(kind, sent),
            lambda rest: super(ZohoAdapter, self).create_batch(kind, rest),
        )

    def _insert_batch(self, kind: RecordKind, items: list[BatchItem]) -> list[BatchResult]:
        bodies = [self._body(kind, item.record, item.parent_id) for item in items]
        payload = {"data": bodies, **self._insert_extra(kind)}
        entries = self._entries("POST", f"/{MODULES[kind]}", payload, len(bodies))
        return [
            BatchResult(str(entry["details"]["id"]))
            if entry.get("status") == "success" and (entry.get("details") or {}).get("id")
            else BatchResult(None, f"zoho: {MODULES[kind]} {item.record.key}: {_reason(entry)}")
            for item, entry in zip(items, entries, strict=True)
        ]

    def log_activity(self, lead_id: str, activity: Activity) -> str:
        """Returns ``Module:id`` (Calls, Events, Tasks or Notes), since Zoho ids do not tell the module."""
        at = (activity.at or self.now()).astimezone(self._zone)
        if activity.kind is ActivityKind.NOTE:
            body = {"Note_Title": activity.subject[:120], "Note_Content": activity.subject}
            entry = self._entries("POST", f"/Leads/{_zoho_id(lead_id)}/Notes", {"data": [body]}, 1)[0]
            return f"Notes:{_entry_id(entry, 'Notes')}"
        module, body = self._activity_body(activity, at)
        return f"{module}:{self._insert_one(module, {**body, **self._related_to_lead(lead_id)})}"

    def _activity_body(self, activity: Activity, at: datetime) -> tuple[str, dict[str, Any]]:
        owner = self._owner(activity.user_id)
        if activity.kind is ActivityKind.CALL:
            call = {
                "Subject": activity.subject,
                "Call_Type": "Outbound",
                "Outbound_Call_Status": "Completed",
                "Call_Start_Time": at.isoformat(timespec="seconds"),
                "Call_Duration": "00:05",
            }
            return "Calls", {**call, **owner}
        if activity.kind is ActivityKind.MEETING:
            meeting = {
                "Event_Title": activity.subject,
                "Start_DateTime": at.isoformat(timespec="seconds"),
                "End_DateTime": (at + MEETING_LENGTH).isoformat(timespec="seconds"),
            }
            return "Events", {**meeting, **owner}
        email = {
            "Subject": activity.subject,
            "Status": "Completed",
            "Due_Date": at.date().isoformat(),
            "Description": EMAIL_MARKER,
        }
        return "Tasks", {**email, **owner}

    def delete(self, kind: RecordKind, vendor_id: str) -> bool:
        module, record_id = self._locate(kind, vendor_id)
        try:
            entry = self._entries("DELETE", f"/{module}/{record_id}", None, 1)[0]
        except VendorError as exc:
            if "INVALID_DATA" in str(exc) or "HTTP 404" in str(exc):
                return False
            raise
        if entry.get("status") == "success":
            return True
        if entry.get("code") == "INVALID_DATA":
            return False
        raise VendorError(f"zoho: {module} {record_id} not deleted: {_reason(entry)}")

    def _locate(self, kind: RecordKind, vendor_id: str) -> tuple[str, str]:
        if kind is RecordKind.REP:
            raise self._lacks(Capability.USER_ADMIN)
        if kind is not RecordKind.ACTIVITY:
            return MODULES[kind], _zoho_id(vendor_id)
        module, _, record_id = vendor_id.partition(":")
        if module not in ACTIVITY_MODULES:
            raise HarnessError(f"zoho: {vendor_id!r} is not a Module:id activity id")
        return module, _zoho_id(record_id)

    def find_tagged(self, kind: RecordKind, tag: str) -> list[str]:
        """Zoho's word search for the run tag (in each record's Description or name); the search index may
        lag record creation."""
        if kind is RecordKind.REP:
            return []
        if kind is RecordKind.ACTIVITY:
            return [
                f"{module}:{found}" for module in ACTIVITY_MODULES[:3] for found in self._search(module, tag)
            ]
        return self._search(MODULES[kind], tag)

    def find_tagged_refs(self, kind: RecordKind, tag: str) -> dict[str, str | None] | None:
        """The harness key of each tagged record, from its Description (``poc-harness <key> [<tag>]``)."""
        if kind not in (RecordKind.ACCOUNT, RecordKind.CONTACT, RecordKind.LEAD, RecordKind.TICKET):
            return None
        rows = self._pages(f"/{MODULES[kind]}/search", {"word": tag})
        return {str(row["id"]): key_in(row.get("Description"), tag) for row in rows if row.get("id")}

    def _search(self, module: str, word: str) -> list[str]:
        return [str(row["id"]) for row in self._pages(f"/{module}/search", {"word": word}) if row.get("id")]

    # --- lead -> contract ---------------------------------------------------------------------
    def get_lead(self, lead_id: str) -> LeadView:
        row = self._record("Leads", lead_id)
        data = {
            "vendor_id": str(row.get("id")),
            "owner_id": (row.get("Owner") or {}).get("id"),
            "status": "converted" if row.get("$converted") else str(row.get("Lead_Status") or "none"),
            "created_at": row.get("Created_Time"),
        }
        return _parse(LeadView, data, "lead")

    def lead_tasks(self, lead_id: str) -> list[TaskView]:
        """The lead's Tasks related list.  Conversion moves a lead's open activities to its contact, so a
        converted lead shows none here (the follow-up check is judged at arrival, before conversion)."""
        rows = self._pages(
            f"/Leads/{_zoho_id(lead_id)}/Tasks", {"fields": "Subject,Due_Date,Status,Description,Owner"}
        )
        views = (self._task_view(row, lead_id) for row in rows if row.get("Description") != EMAIL_MARKER)
        return [view for view in views if view is not None]

    def _task_view(self, row: dict[str, Any], lead_id: str) -> TaskView | None:
        """A follow-up task, due at 00:00 of its due date in the org's time zone; undated tasks: None."""
        if not row.get("Due_Date"):
            return None
        try:
            due = datetime.combine(date.fromisoformat(str(row["Due_Date"])), time(0), tzinfo=self._zone)
        except ValueError:
            raise VendorError(f"zoho: task {row.get('id')} has due date {row['Due_Date']!r}") from None
        data = {
            "vendor_id": str(row.get("id")),
            "lead_id": lead_id,
            "subject": row.get("Subject") or "",
            "due_at": due,
            "automatic": True,
            "owner_id": (row.get("Owner") or {}).get("id"),
        }
        return _parse(TaskView, data, "task")

    def complete_task(self, task_id: str, user_id: str | None) -> None:
        """Zoho keeps no "completed by": the rep who completes the task becomes its owner."""
        self._update("Tasks", task_id, {"Status": "Completed", **self._owner(user_id)})

    def convert_lead(self, lead_id: str, amount: int, expected_close: datetime | None = None) -> str:
        lead = self._record("Leads", lead_id)
        closing = (expected_close or self.now() + DEFAULT_CLOSE).astimezone(self._zone).date()
        deal = {
            "Deal_Name": _first_line(lead.get("Description"), str(lead.get("Company") or lead_id))[:120],
            "Closing_Date": closing.isoformat(),
            "Stage": self.options.stages[DealStage.QUALIFICATION],
            "Amount": amount,
            **({"Pipeline": self.options.pipeline} if self.options.pipeline else {}),
        }
        path = f"/Leads/{_zoho_id(lead_id)}/actions/convert"
        entry = self._entries("POST", path, {"data": [{"Deals": deal}]}, 1)[0]
        if entry.get("status") != "success":
            raise VendorError(f"zoho: lead {lead_id} not converted: {_reason(entry)}")
        found = (entry.get("details") or {}).get("Deals") or entry.get("Deals")
        deal_id = found.get("id") if isinstance(found, dict) else found
        if not deal_id:
            raise VendorError(f"zoho: converting lead {lead_id} created no deal")
        return str(deal_id)

    def move_deal(self, deal_id: str, stage: DealStage) -> None:
        pipeline = {"Pipeline": self.options.pipeline} if self.options.pipeline else {}
        self._update("Deals", deal_id, {"Stage": self.options.stages[stage], **pipeline})

    def get_deal(self, deal_id: str) -> DealView:
        row = self._record("Deals", deal_id)
        when = self.options.stage_history_time_field
        rows = self._pages(f"/Deals/{_zoho_id(deal_id)}/Stage_History", {"fields": f"Stage,{when}"})
        if row.get("Stage") not in self._stage_of:
            raise VendorError(f"zoho: deal stage {row.get('Stage')!r} is not in the stages option")
        data = {
            "vendor_id": str(row.get("id")),
            "lead_id": None,
            "stage": self._stage_of[row["Stage"]],
            "amount": int(row.get("Amount") or 0),
            "history": self._stage_history(rows, when),
        }
        return _parse(DealView, data, "deal")

    def _stage_history(self, rows: Iterable[dict[str, Any]], when: str) -> list[StageChange]:
        """Oldest first, one change per stage reached: repeats (amount edits) and unmapped stages skipped."""
        dated = [
            _parse(_HistoryRow, {"stage": row.get("Stage"), "at": row.get(when)}, "history") for row in rows
        ]
        changes: list[StageChange] = []
        for item in sorted(dated, key=lambda entry: entry.at):
            stage = self._stage_of.get(item.stage) if item.stage is not None else None
            if stage is not None and (not changes or changes[-1].stage is not stage):
                changes.append(StageChange(stage=stage, at=item.at))
        return changes

    # --- ticket -> resolution ---------------------------------------------------------------
    def create_ticket(self, ticket: Ticket, contact_id: str, opened_at: datetime | None = None) -> str:
        if opened_at is not None:
            raise self._lacks(Capability.BACKDATING)
        return self._insert_one("Cases", self._case_body(ticket, contact_id))

    def get_ticket(self, ticket_id: str) -> TicketView:
        raise self._lacks(Capability.SLA)  # a ticket's view is its SLA flags: not read from Zoho CRM Cases

    def reply_ticket(self, ticket_id: str, message: str, user_id: str | None = None) -> None:
        body = {"Note_Title": "Reply", "Note_Content": message}
        entry = self._entries("POST", f"/Cases/{_zoho_id(ticket_id)}/Notes", {"data": [body]}, 1)[0]
        _entry_id(entry, "Notes")

    def close_ticket(self, ticket_id: str) -> None:
        self._update("Cases", ticket_id, {"Status": self.options.closed_status})


class _HistoryRow(BaseModel):
    stage: str | None
    at: AwareDatetime


# --- helpers ------------------------------------------------------------------------------------
def _zoho_id(value: str | None) -> str:
    """A Zoho record id, checked before it goes into a URL."""
    if not value or not RECORD_ID.match(value):
        raise HarnessError(f"zoho: {value!r} is not a Zoho record id")
    return value


def _first_line(text: Any, fallback: str) -> str:
    lines = str(text or "").splitlines()
    return lines[0] if lines else fallback


def _reason(entry: dict[str, Any]) -> str:
    """A per-record status in one line: ``CODE: message (field)``."""
    details = entry.get("details") or {}
    field = details.get("api_name") if isinstance(details, dict) else None
    reason = f"{entry.get('code', 'ERROR')}: {entry.get('message', 'no message')}"
    return f"{reason} ({field})" if field else reason


def _entry_id(entry: dict[str, Any], module: str) -> str:
    record_id = (entry.get("details") or {}).get("id") if entry.get("status") == "success" else None
    if not record_id:
        raise VendorError(f"zoho: {module}: {_reason(entry)}")
    return str(record_id)


def _parse(model: type[V], data: dict[str, Any], where: str) -> V:
    return parse_answer(model, data, "zoho", where)
