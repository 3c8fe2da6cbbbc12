"""Adapter for Microsoft Dynamics 365 (Sales and Customer Service) through the Dataverse Web API v9.2.

Authentication
--------------
OAuth 2.0 client credentials against Microsoft Entra ID: ``POST <authority>/<tenant_id>/oauth2/v2.0/token``
with ``client_id``, the client secret read from the environment variable named in ``client_secret_env``
and the scope ``https://<org>.crm.dynamics.com/.default``.  The access token is renewed five minutes
before it expires; the token and the secret are registered for redaction.  The application user needs
a security role that can read and write the tables below, read audit history (``prvReadAuditSummary``
and ``prvReadRecordAuditHistory``) and run ``QualifyLead``, ``WinOpportunity``, ``LoseOpportunity``
and ``CloseIncident``.

What the harness's records become in Dataverse
----------------------------------------------
- account -> ``accounts``; contact -> ``contacts`` (``parentcustomerid_account``).
- lead -> ``leads`` (``subject``, ``companyname``, first and last name, ``leadsourcecode``,
  ``estimatedamount``).  The adapter never sets ``ownerid``: Dataverse makes the calling application
  user the owner, so a lead owned by a sales rep was assigned by the CRM's own assignment rules,
  routing or workflows (``AUTO_ASSIGN`` is observed, never performed).  Reps are the enabled,
  interactive, non-application ``systemusers`` (``rep_filter``).
- activity -> ``phonecalls``, ``appointments`` or ``emails`` regarding the lead, a note ->
  ``annotations``; the vendor id is ``<entity set>:<guid>``.  Follow-ups are the ``tasks`` regarding the
  lead, due at ``scheduledend``; the adapter itself creates no task, so every such task is the CRM's.
- deal -> the ``opportunities`` record the ``QualifyLead`` action creates (``originatingleadid`` links it
  to the lead).  Open stages map both ways through ``sales_stages`` (``salesstage`` option value and
  ``stepname``); won and lost are ``WinOpportunity`` / ``LoseOpportunity``.  The stage history is the
  audit log (``RetrieveRecordChangeHistory``): audit must be on for the organisation and the
  opportunity table, otherwise the history is incomplete and the check fails, which is the finding.
- ticket -> ``incidents`` (``customerid_contact``, ``prioritycode`` through ``priority_codes``).  A reply
  is an outgoing e-mail activity regarding the case plus ``firstresponsesent = true`` (the field the stock
  first-response SLA KPI watches); closing is ``CloseIncident``.  Breach flags and the first-response
  time come from the case's SLA KPI instances (``firstresponsebykpiid``, ``resolvebykpiid``): status 1
  is noncompliant, ``succeededon`` the moment the KPI succeeded.
- Every record carries ``poc-harness <tag> <key>`` in its ``description`` (activities: the tag is in the
  subject the harness writes), which ``find_tagged`` searches with ``contains``.

Capabilities, and why
---------------------
Declared: ``AUTO_ASSIGN`` (observed as above), ``FOLLOWUP_TASKS``, ``DEALS``, ``TICKETS``, ``SLA`` (KPI
instances, and a compliance figure the CRM counts: ``$count`` of resolved tagged cases, and of those whose
KPIs are not noncompliant), ``BACKDATING`` (``overriddencreatedon``, Dataverse's documented way to create
a record in the past: the record's ``createdon`` is backdated; automation still runs at the real time)
and ``BATCH_CREATE`` (``create_batch``: ``$batch``, one change set per record, at most 1000 requests per
batch, ``Prefer: odata.continue-on-error``).  Not declared (``vendor_lacks`` cites the
documentation of what the vendor lacks, a finding; the rest is not measured):
``SILENCE_ALERT`` (no such record in Dataverse), ``NPS_SURVEY`` (Customer Voice responses cannot be
submitted through the Web API), ``REPORTS`` and ``FORECAST`` (dashboards and forecasts are not readable
as figures; a median first-response time cannot be aggregated), ``USER_ADMIN`` (users come from Entra ID
with licences), ``CLOCK_CONTROL``, ``WEBHOOKS``, ``AUDIT_LOG``, ``RBAC``.

Rate limits: a 429's ``Retry-After`` is honoured by ``VendorHTTP``; when
``x-ms-ratelimit-burst-remaining-xrm-requests`` falls to ``burst_floor`` the adapter pauses
``burst_pause_seconds`` (Microsoft calls the header informational, so the pause is modest).

Documentation used (pages found with the search tool):
- create and the ``OData-EntityId`` header:
  https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-entity-web-api
- ``$batch``, change sets, ``odata.continue-on-error``, the 1000-request limit:
  https://learn.microsoft.com/en-us/powerapps/developer/data-platform/webapi/execute-batch-operations-using-web-api
- service protection limits, 429, ``Retry-After`` and the ``x-ms-ratelimit-*`` headers:
  https://learn.microsoft.com/power-apps/developer/data-platform/api-limits
- ``QualifyLead``: https://learn.microsoft.com/en-us/previous-versions/dynamicscrm-2016/developers-guide/mt491164(v=crm.8)
- audit history, ``RetrieveRecordChangeHistory`` and its ``AttributeAuditDetail`` answer:
  https://learn.microsoft.com/en-us/power-apps/developer/data-platform/retrieve-and-delete-the-history-of-audited-data-changes
- SLA KPI instances: https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/reference/slakpiinstance
- real payloads (KPI status values 0-5, the ``firstresponseslastatus`` option set, 429 bodies and
  rate-limit headers): public code found with the search tool's code corpus.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from poc_harness.config import secret_from_env
from poc_harness.contract.adapter import AdapterOptions, Capability, RecordKind
from poc_harness.contract.batches import BatchItem, BatchResult, parent_of, record_of
from poc_harness.contract.http_adapter import HTTPAdapter
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
    SlaComplianceFigure,
    StageChange,
    TaskView,
    Ticket,
    TicketPriority,
    TicketView,
)
from poc_harness.errors import ConfigError, HarnessError, VendorError
from poc_harness.redaction import REDACTOR
from poc_harness.transport.answers import dedupe_history, reading
from poc_harness.transport.http import VendorHTTP

OpenStage = Literal["qualification", "proposal", "negotiation"]
Priority = Literal["low", "normal", "high", "urgent"]

TOKEN_MARGIN_S = 300.0
BURST_HEADER = "x-ms-ratelimit-burst-remaining-xrm-requests"
ENTITY_ID = re.compile(r"\(([0-9a-fA-F-]{36})\)\s*$")
HTTP_STATUS = re.compile(r": HTTP (\d{3})\b")
ENTITY_SETS = {
    RecordKind.ACCOUNT: "accounts",
    RecordKind.CONTACT: "contacts",
    RecordKind.LEAD: "leads",
    RecordKind.TICKET: "incidents",
    RecordKind.DEAL: "opportunities",
}
ENTITY_SETS_KEYS = {
    "accounts": "accountid",
    "contacts": "contactid",
    "leads": "leadid",
    "incidents": "incidentid",
    "opportunities": "opportunityid",
}
ACTIVITY_SETS = {
    ActivityKind.CALL: "phonecalls",
    ActivityKind.MEETING: "appointments",
    ActivityKind.EMAIL: "emails",
}
TYPE_CODE_SETS = {
    "phonecall": "phonecalls",
    "appointment": "appointments",
    "email": "emails",
    "task": "tasks",
}
LEAD_SOURCE_CODES = {
    LeadSource.CAMPAIGN: 1,  # Advertisement
    LeadSource.REFERRAL: 3,  # External Referral
    LeadSource.PARTNER: 4,
    LeadSource.EXHIBITION: 7,  # Trade Show
    LeadSource.WEBSITE: 8,  # Web
    LeadSource.COLD_CALL: 10,  # Other
}
LEAD_STATES = {0: "open", 1: "qualified", 2: "disqualified"}
INCIDENT_STATES = {0: "active", 1: "resolved", 2: "cancelled"}
CLOSED_STATES = {1: DealStage.WON, 2: DealStage.LOST}
WON_STATUS, LOST_STATUS = 3, 4  # opportunity statuscode Won, Canceled
QUALIFIED_STATUS = 3  # lead statuscode Qualified
PROBLEM_SOLVED = 5  # incident statuscode
TASK_COMPLETED = {"statecode": 1, "statuscode": 5}
KPI_NONCOMPLIANT, KPI_SUCCEEDED = 1, 4
PRIORITY_ORDER = ("urgent", "high", "normal", "low")


class SalesStage(BaseModel):
    """One open deal stage in Dynamics: the ``salesstage`` option value and the ``stepname`` text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    salesstage: int
    stepname: str


DEFAULT_SALES_STAGES: dict[OpenStage, SalesStage] = {
    "qualification": SalesStage(salesstage=0, stepname="1-Qualify"),
    "proposal": SalesStage(salesstage=2, stepname="3-Propose"),
    "negotiation": SalesStage(salesstage=3, stepname="4-Close"),
}
DEFAULT_PRIORITY_CODES: dict[Priority, int] = {"urgent": 1, "high": 1, "normal": 2, "low": 3}


class DynamicsOptions(AdapterOptions):
    org: str | None = Field(default=None, description="the org's subdomain in https://<org>.crm.dynamics.com")
    org_url: str | None = Field(default=None, description="the org's URL, for other regions (crm4...)")
    tenant_id: str
    client_id: str
    client_secret_env: str
    authority: str = "https://login.microsoftonline.com"
    base_url: str | None = Field(default=None, description="Web API base; default <org url>/api/data/v9.2/")
    timeout: float = 30.0
    page_size: int = Field(default=500, ge=1, le=5000)
    batch_size: int = Field(default=1000, ge=1, le=1000)
    rep_filter: str = "isdisabled eq false and accessmode eq 0 and applicationid eq null"
    sales_stages: dict[OpenStage, SalesStage] = Field(default_factory=lambda: dict(DEFAULT_SALES_STAGES))
    priority_codes: dict[Priority, int] = Field(default_factory=lambda: dict(DEFAULT_PRIORITY_CODES))
    burst_floor: int = Field(default=20, ge=0)
    burst_pause_seconds: float = Field(default=5.0, ge=0)

    @model_validator(mode="after")
    def _org_given(self) -> DynamicsOptions:
        if not (self.org or self.org_url):
            raise ValueError("give org (https://<org>.crm.dynamics.com) or org_url")
        missing = [
            stage for stage in ("qualification", "proposal", "negotiation") if stage not in self.sales_stages
        ]
        if missing:
            raise ValueError(f"sales_stages misses {', '.join(missing)}")
        return self

    @property
    def root(self) -> str:
        return (self.org_url or f"https://{self.org}.crm.dynamics.com").rstrip("/")

    @property
    def web_api(self) -> str:
        return (self.base_url or f"{self.root}/api/data/v9.2").rstrip("/") + "/"


@dataclass(frozen=True)
class BatchPart:
    """One response inside a ``$batch`` answer."""

    status: int
    headers: dict[str, str]
    body: str


# --- pure helpers -------------------------------------------------------------------------------


def error_detail(response: httpx.Response) -> str:
    """The readable part of a Dataverse (``{"error": {"code", "message"}}``) or Entra ID
    (``{"error", "error_description"}``) error body."""
    try:
        body = response.json()
    except ValueError:
        return response.text
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return f"{error.get('code')}: {error.get('message')}"
    if isinstance(error, str):
        description = str(body.get("error_description") or "").strip().splitlines()
        return f"{error}: {description[0]}" if description else error
    return response.text


def entity_id(response: httpx.Response | BatchPart, where: str) -> str:
    """The id in a create answer's ``OData-EntityId`` header (``.../leads(<guid>)``)."""
    header = response.headers.get("OData-EntityId") or response.headers.get("odata-entityid") or ""
    match = ENTITY_ID.search(header)
    if not match:
        raise VendorError(f"dynamics: {where}: no record id in the OData-EntityId header ({header!r})")
    return match.group(1).lower()


def odata_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def odata_literal(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def quoted(text: str) -> str:
    """An OData string literal."""
    return "'" + text.replace("'", "''") + "'"


def tag_text(tag: str, key: str) -> str:
    return f"poc-harness {tag} {key}"


def burst_pause(response: httpx.Response, floor: int, seconds: float) -> float | None:
    """Seconds to wait when the burst budget for this connection is down to ``floor``."""
    raw = response.headers.get(BURST_HEADER, "").replace(",", "").strip()
    try:
        remaining = int(float(raw))
    except ValueError:
        return None
    return seconds if remaining <= floor else None


def build_batch(boundary: str, requests: Sequence[tuple[str, str, dict[str, Any]]]) -> str:
    """A ``multipart/mixed`` ``$batch`` body: one change set (one atomic unit) per request."""
    lines: list[str] = []
    for index, (method, url, body) in enumerate(requests, start=1):
        changeset = f"changeset_{boundary}_{index}"
        lines += [
            f"--batch_{boundary}",
            f'Content-Type: multipart/mixed; boundary="{changeset}"',
            "",
            f"--{changeset}",
            "Content-Type: application/http",
            "Content-Transfer-Encoding: binary",
            f"Content-ID: {index}",
            "",
            f"{method} {url} HTTP/1.1",
            "Content-Type: application/json; type=entry",
            "",
            json.dumps(body, ensure_ascii=False),
            f"--{changeset}--",
            "",
        ]
    lines.append(f"--batch_{boundary}--")
    return "\r\n".join(lines) + "\r\n"


def parse_batch(content_type: str, body: bytes) -> list[BatchPart]:
    """The responses of a ``$batch`` answer, in request order (change set responses flattened)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.default).parsebytes(head + body)
    if not message.is_multipart():
        raise VendorError(f"dynamics: $batch answer is not multipart ({content_type!r})")
    return [_http_part(leaf) for part in message.iter_parts() for leaf in _leaves(part)]


def _leaves(part: Any) -> Iterator[Any]:
    if part.is_multipart():
        for inner in part.iter_parts():
            yield from _leaves(inner)
    else:
        yield part


def _http_part(part: Any) -> BatchPart:
    raw = part.get_payload(decode=True) or b""
    text = raw.decode("utf-8", errors="replace").replace("\r\n", "\n")
    head, _, body = text.partition("\n\n")
    status_line, *header_lines = head.strip().split("\n")
    try:
        status = int(status_line.split()[1])
    except (IndexError, ValueError):
        raise VendorError(f"dynamics: $batch part has no HTTP status line: {status_line[:80]!r}") from None
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return BatchPart(status, headers, body.strip())


def _part_error(part: BatchPart) -> str:
    try:
        error = json.loads(part.body).get("error", {})
        return f"{error.get('code')}: {error.get('message')}"
    except (ValueError, AttributeError):
        return " ".join(part.body.split())[:200] or "no detail"


def _split_name(full: str) -> tuple[str, str]:
    first, _, last = full.strip().rpartition(" ")
    return (first, last) if first else ("", last)


def _bind(entity_set: str, record_id: str) -> str:
    return f"/{entity_set}({record_id})"


class DynamicsAdapter(HTTPAdapter[DynamicsOptions]):
    name: ClassVar[str] = "dynamics"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.AUTO_ASSIGN,
            Capability.FOLLOWUP_TASKS,
            Capability.DEALS,
            Capability.TICKETS,
            Capability.SLA,
            Capability.BACKDATING,
            Capability.BATCH_CREATE,
        }
    )
    observes_task_owner: ClassVar[bool] = True

    def __init__(self, options: DynamicsOptions) -> None:
        super().__init__(options)
        self.max_batch_size = options.batch_size  # type: ignore[misc]  # per instance: a poc.toml option
        self._secret = secret_from_env(
            options.client_secret_env, "the Entra ID client secret of the app user"
        )
        self._token: str | None = None
        self._token_expiry = 0.0
        self.login = VendorHTTP(
            "dynamics (Microsoft Entra ID)",
            options.authority.rstrip("/") + "/",
            timeout=options.timeout,
            error_detail=error_detail,
        )
        self.http = VendorHTTP(
            "dynamics",
            options.web_api,
            headers={"OData-MaxVersion": "4.0", "OData-Version": "4.0", "Accept": "application/json"},
            timeout=options.timeout,
            error_detail=error_detail,
            pause_after=lambda r: burst_pause(r, options.burst_floor, options.burst_pause_seconds),
            credential=f"the app user's roles, client_id and the secret in {options.client_secret_env}",
        )

    def close(self) -> None:
        super().close()
        self.login.close()

    # --- authentication and calls --------------------------------------------------------------
    def _bearer(self) -> dict[str, str]:
        if self._token is None or time.monotonic() >= self._token_expiry - TOKEN_MARGIN_S:
            self._fetch_token()
        return {"Authorization": f"Bearer {self._token}"}

    def _fetch_token(self) -> None:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.options.client_id,
            "client_secret": self._secret.get_secret_value(),
            "scope": f"{self.options.root}/.default",
        }
        try:
            answer = self.login.json("POST", f"{self.options.tenant_id}/oauth2/v2.0/token", data=form)
        except VendorError as exc:
            if _status_of(exc) in (400, 401):
                raise ConfigError(
                    f"{exc} (check tenant_id, client_id and the secret in {self.options.client_secret_env})"
                ) from None
            raise
        with reading("dynamics", "token answer"):
            token, lifetime = str(answer["access_token"]), float(answer.get("expires_in", 3600))
        REDACTOR.add(token)
        self._token, self._token_expiry = token, time.monotonic() + lifetime

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**kwargs.pop("headers", {}), **self._bearer()}
        return self.http.request(method, path, headers=headers, **kwargs)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**kwargs.pop("headers", {}), **self._bearer()}
        return self.http.json(method, path, headers=headers, **kwargs)

    def _create(self, entity_set: str, body: dict[str, Any]) -> str:
        return entity_id(self._request("POST", entity_set, json=body), f"POST {entity_set}")

    def _patch(self, entity_set: str, record_id: str, body: dict[str, Any]) -> None:
        self._request("PATCH", f"{entity_set}({record_id})", json=body)

    def _rows(self, path: str, params: dict[str, str]) -> Iterator[dict[str, Any]]:
        """Every row of a query, following ``@odata.nextLink``."""
        prefer = {"Prefer": f"odata.maxpagesize={self.options.page_size}"}
        url: str | None = path
        query: dict[str, str] | None = params
        while url:
            page = self._json("GET", url, params=query, headers=prefer)
            with reading("dynamics", f"GET {path}"):
                yield from page["value"]
                url, query = page.get("@odata.nextLink"), None

    def _ids(self, entity_set: str, key: str, odata_filter: str) -> list[str]:
        rows = self._rows(entity_set, {"$select": key, "$filter": odata_filter})
        with reading("dynamics", f"GET {entity_set}"):
            return [str(row[key]) for row in rows]

    def _count(self, entity_set: str, odata_filter: str) -> int:
        params = {"$select": ENTITY_SETS_KEYS[entity_set], "$filter": odata_filter, "$count": "true"}
        page = self._json("GET", entity_set, params=params, headers={"Prefer": "odata.maxpagesize=1"})
        with reading("dynamics", f"GET {entity_set} $count"):
            return int(page["@odata.count"])

    # --- lifecycle and time ---------------------------------------------------------------------
    def check_connection(self) -> str:
        who = self._json("GET", "WhoAmI")
        with reading("dynamics", "WhoAmI"):
            user, organisation = who["UserId"], who["OrganizationId"]
        return f"Dataverse {self.options.web_api} as user {user} (organisation {organisation})"

    def now(self) -> datetime:
        return datetime.now(UTC)

    # --- seeding --------------------------------------------------------------------------------
    def list_sales_reps(self) -> list[str]:
        return self._ids("systemusers", "systemuserid", self.options.rep_filter)

    def create_account(self, account: Account) -> str:
        return self._create("accounts", self._account_body(account))

    @staticmethod
    def _account_body(account: Account) -> dict[str, Any]:
        return {
            "name": account.name,
            "telephone1": account.phone,
            "address1_city": account.city,
            "description": f"{account.industry}\n{tag_text(account.tag, account.key)}",
        }

    def create_contact(self, contact: Contact, account_id: str) -> str:
        return self._create("contacts", self._contact_body(contact, account_id))

    @staticmethod
    def _contact_body(contact: Contact, account_id: str) -> dict[str, Any]:
        return {
            "firstname": contact.first_name,
            "lastname": contact.last_name,
            "emailaddress1": contact.email,
            "telephone1": contact.phone,
            "parentcustomerid_account@odata.bind": _bind("accounts", account_id),
            "description": tag_text(contact.tag, contact.key),
        }

    def _lead_body(self, lead: Lead, arrived_at: datetime | None) -> dict[str, Any]:
        first, last = _split_name(lead.contact_name)
        body: dict[str, Any] = {
            "subject": lead.title,
            "companyname": lead.company,
            "firstname": first,
            "lastname": last,
            "emailaddress1": lead.email,
            "telephone1": lead.phone,
            "address1_city": lead.city,
            "leadsourcecode": LEAD_SOURCE_CODES[lead.source],
            "estimatedamount": lead.estimated_value,
            "description": tag_text(lead.tag, lead.key),
        }
        if arrived_at is not None:
            body["overriddencreatedon"] = odata_literal(arrived_at)
        return body

    def create_lead(self, lead: Lead, arrived_at: datetime | None = None) -> str:
        return self._create("leads", self._lead_body(lead, arrived_at))

    max_batch_size: ClassVar[int] = 1000  # Dataverse's limit of requests per $batch; per instance: batch_size

    def create_batch(self, kind: RecordKind, items: list[BatchItem]) -> list[BatchResult]:
        """One ``$batch``, one change set per record (``odata.continue-on-error``: a refused record is
        rolled back alone; its error names its part in the ``$batch``); a lead's arrival goes in its
        ``overriddencreatedon``.  A part answering a
        server error other than 503 may have been applied: its result says so."""
        bodies = [self._batch_body(kind, item) for item in items]
        url = f"{self.options.web_api}{ENTITY_SETS[kind]}"
        parts = self._batch([("POST", url, body) for body in bodies])
        return [
            BatchResult(entity_id(part, f"$batch part {index}"))
            if part.status < 300
            else BatchResult(
                None,
                f"part {index} ({kind.value} {item.record.key}) HTTP {part.status}: {_part_error(part)}",
                maybe_applied=part.status >= 500 and part.status != 503,
            )
            for index, (item, part) in enumerate(zip(items, parts, strict=True), start=1)
        ]

    def _batch_body(self, kind: RecordKind, item: BatchItem) -> dict[str, Any]:
        if kind is RecordKind.ACCOUNT:
            return self._account_body(record_of(item, Account))
        if kind is RecordKind.CONTACT:
            return self._contact_body(record_of(item, Contact), parent_of(item))
        if kind is RecordKind.LEAD:
            return self._lead_body(record_of(item, Lead), item.at)
        raise HarnessError(f"dynamics: create_batch does not create {kind.value} records")

    def _batch(self, requests: Sequence[tuple[str, str, dict[str, Any]]]) -> list[BatchPart]:
        boundary = secrets.token_hex(8)
        response = self._request(
            "POST",
            "$batch",
            content=build_batch(boundary, requests).encode(),
            headers={
                "Content-Type": f'multipart/mixed; boundary="batch_{boundary}"',
                "Prefer": "odata.continue-on-error",
            },
        )
        parts = parse_batch(response.headers.get("Content-Type", ""), response.content)
        if len(parts) != len(requests):
            raise VendorError(f"dynamics: $batch answered {len(parts)} parts for {len(requests)} requests")
        return parts

    def log_activity(self, lead_id: str, activity: Activity) -> str:
        if activity.kind is ActivityKind.NOTE:
            body: dict[str, Any] = {
                "subject": activity.subject,
                "notetext": activity.subject,
                "objectid_lead@odata.bind": _bind("leads", lead_id),
            }
            return f"annotations:{self._create('annotations', body)}"
        entity_set = ACTIVITY_SETS[activity.kind]
        logical = entity_set[:-1]
        at = activity.at or self.now()
        body = {
            "subject": activity.subject,
            f"regardingobjectid_lead_{logical}@odata.bind": _bind("leads", lead_id),
            "actualstart": odata_literal(at),
            "actualend": odata_literal(at),
        }
        if activity.kind is ActivityKind.MEETING:
            body |= {
                "scheduledstart": odata_literal(at),
                "scheduledend": odata_literal(at + timedelta(minutes=30)),
            }
        else:
            body["directioncode"] = True
        if activity.user_id:
            body["ownerid@odata.bind"] = _bind("systemusers", activity.user_id)
        return f"{entity_set}:{self._create(entity_set, body)}"

    def delete(self, kind: RecordKind, vendor_id: str) -> bool:
        if kind is RecordKind.REP:
            raise self._lacks(Capability.USER_ADMIN)
        if kind is RecordKind.ACTIVITY:
            entity_set, _, record_id = vendor_id.partition(":")
        else:
            entity_set, record_id = ENTITY_SETS[kind], vendor_id
        try:
            self._request("DELETE", f"{entity_set}({record_id})")
        except VendorError as exc:
            if _status_of(exc) == 404:
                return False
            raise
        return True

    def find_tagged(self, kind: RecordKind, tag: str) -> list[str]:
        if kind is RecordKind.REP:
            return []  # the adapter creates no users
        if kind is RecordKind.ACTIVITY:
            return self._tagged_activities(tag)
        if kind is RecordKind.DEAL:
            return self._ids(
                "opportunities", "opportunityid", f"contains(originatingleadid/description,{quoted(tag)})"
            )
        entity_set = ENTITY_SETS[kind]
        return self._ids(entity_set, ENTITY_SETS_KEYS[entity_set], f"contains(description,{quoted(tag)})")

    def find_tagged_refs(self, kind: RecordKind, tag: str) -> dict[str, str | None] | None:
        """The harness key of each tagged record, read from its description (``poc-harness <tag> <key>``)."""
        if kind not in (RecordKind.ACCOUNT, RecordKind.CONTACT, RecordKind.LEAD, RecordKind.TICKET):
            return None
        entity_set = ENTITY_SETS[kind]
        key = ENTITY_SETS_KEYS[entity_set]
        params = {"$select": f"{key},description", "$filter": f"contains(description,{quoted(tag)})"}
        pattern = re.compile(rf"poc-harness {re.escape(tag)} (\S+)")
        refs: dict[str, str | None] = {}
        for row in self._rows(entity_set, params):
            with reading("dynamics", f"GET {entity_set}"):
                found = pattern.search(str(row.get("description") or ""))
                refs[str(row[key])] = found.group(1) if found else None
        return refs

    def _tagged_activities(self, tag: str) -> list[str]:
        rows = self._rows(
            "activitypointers",
            {"$select": "activityid,activitytypecode", "$filter": f"contains(subject,{quoted(tag)})"},
        )
        with reading("dynamics", "GET activitypointers"):
            found = [
                f"{TYPE_CODE_SETS.get(row['activitytypecode'], 'activitypointers')}:{row['activityid']}"
                for row in rows
            ]
        notes = self._ids("annotations", "annotationid", f"contains(subject,{quoted(tag)})")
        return found + [f"annotations:{note}" for note in notes]

    # --- lead -> contract ------------------------------------------------------------------------
    def get_lead(self, lead_id: str) -> LeadView:
        row = self._json("GET", f"leads({lead_id})", params={"$select": "_ownerid_value,statecode,createdon"})
        with reading("dynamics", "GET leads({id})"):
            return LeadView(
                vendor_id=lead_id,
                owner_id=row.get("_ownerid_value"),
                status=LEAD_STATES.get(row["statecode"], str(row["statecode"])),
                created_at=odata_time(row["createdon"]),
            )

    def lead_tasks(self, lead_id: str) -> list[TaskView]:
        rows = self._rows(
            "tasks",
            {
                "$select": "activityid,subject,scheduledend,_ownerid_value",
                "$filter": f"_regardingobjectid_value eq {lead_id}",
            },
        )
        with reading("dynamics", "GET tasks"):
            return [
                TaskView(
                    vendor_id=row["activityid"],
                    lead_id=lead_id,
                    subject=row.get("subject") or "",
                    due_at=odata_time(row["scheduledend"]),
                    automatic=True,  # the adapter creates no tasks: every one regarding the lead is the CRM's
                    owner_id=row.get("_ownerid_value"),
                )
                for row in rows
                if row.get("scheduledend")
            ]

    def complete_task(self, task_id: str, user_id: str | None) -> None:
        if user_id:  # the rep who did it owns it; a completed activity is read-only, so first
            self._patch("tasks", task_id, {"ownerid@odata.bind": _bind("systemusers", user_id)})
        self._patch("tasks", task_id, TASK_COMPLETED)

    def convert_lead(self, lead_id: str, amount: int, expected_close: datetime | None = None) -> str:
        answer = self._json(
            "POST",
            f"leads({lead_id})/Microsoft.Dynamics.CRM.QualifyLead",
            json={
                "CreateAccount": False,
                "CreateContact": False,
                "CreateOpportunity": True,
                "Status": QUALIFIED_STATUS,
            },
        )
        with reading("dynamics", "QualifyLead"):
            deal_id = next(
                (str(row["opportunityid"]) for row in answer["value"] if "opportunityid" in row), None
            )
        if deal_id is None:
            raise VendorError(f"dynamics: QualifyLead on lead {lead_id} created no opportunity")
        stage = self.options.sales_stages["qualification"]
        body: dict[str, Any] = {
            "estimatedvalue": amount,
            "salesstage": stage.salesstage,
            "stepname": stage.stepname,
        }
        if expected_close is not None:
            body["estimatedclosedate"] = expected_close.date().isoformat()
        self._patch("opportunities", deal_id, body)
        return deal_id

    def move_deal(self, deal_id: str, stage: DealStage) -> None:
        if stage in (DealStage.WON, DealStage.LOST):
            won = stage is DealStage.WON
            close = {
                "subject": f"{stage.value} by poc-harness",
                "opportunityid@odata.bind": _bind("opportunities", deal_id),
            }
            action = "WinOpportunity" if won else "LoseOpportunity"
            self._request(
                "POST", action, json={"Status": WON_STATUS if won else LOST_STATUS, "OpportunityClose": close}
            )
            return
        target = self.options.sales_stages[stage.value]  # type: ignore[index]
        self._patch("opportunities", deal_id, {"salesstage": target.salesstage, "stepname": target.stepname})

    def get_deal(self, deal_id: str) -> DealView:
        row = self._json(
            "GET",
            f"opportunities({deal_id})",
            params={"$select": "salesstage,statecode,estimatedvalue,createdon,_originatingleadid_value"},
        )
        details = self._change_history("opportunities", deal_id)
        with reading("dynamics", "GET opportunities({id})"):
            state = row["statecode"]
            stage = CLOSED_STATES.get(state) or self._required_stage(row["salesstage"])
            return DealView(
                vendor_id=deal_id,
                lead_id=row.get("_originatingleadid_value"),
                stage=stage,
                amount=int(row.get("estimatedvalue") or 0),
                history=self._history(odata_time(row["createdon"]), row["salesstage"], details),
            )

    def _change_history(self, entity_set: str, record_id: str) -> list[dict[str, Any]]:
        target = json.dumps({"@odata.id": f"{entity_set}({record_id})"})
        answer = self._json("GET", "RetrieveRecordChangeHistory(Target=@t)", params={"@t": target})
        with reading("dynamics", "RetrieveRecordChangeHistory"):
            return list(answer["AuditDetailCollection"]["AuditDetails"])

    def _stage_of_code(self, code: Any) -> DealStage | None:
        for name, stage in self.options.sales_stages.items():
            if stage.salesstage == code:
                return DealStage(name)
        return None

    def _required_stage(self, code: Any) -> DealStage:
        stage = self._stage_of_code(code)
        if stage is None:
            raise ConfigError(
                f"dynamics: opportunity salesstage {code} is not in sales_stages: map it in poc.toml"
            )
        return stage

    def _history(
        self, created: datetime, current_code: Any, details: list[dict[str, Any]]
    ) -> list[StageChange]:
        """The stage timeline from the audit log: the stage before the first audited stage change (from
        creation), then every audited ``salesstage`` change and the win or loss (``statecode``)."""
        changes: list[tuple[datetime, Any, DealStage | None]] = []
        for detail in details:
            if "NewValue" not in detail:
                continue  # not an attribute change (sharing, user access...)
            at = odata_time(detail["AuditRecord"]["createdon"])
            new, old = detail.get("NewValue") or {}, detail.get("OldValue") or {}
            if "salesstage" in new:
                changes.append((at, old.get("salesstage"), self._stage_of_code(new["salesstage"])))
            if new.get("statecode") in CLOSED_STATES:
                changes.append((at, None, CLOSED_STATES[new["statecode"]]))
        changes.sort(key=lambda change: change[0])
        first = next((old for _, old, _ in changes if old is not None), current_code)
        timeline = [(created, self._stage_of_code(first)), *((at, stage) for at, _, stage in changes)]
        return dedupe_history(
            [StageChange(stage=stage, at=at) for at, stage in timeline if stage is not None]
        )

    # --- ticket -> resolution --------------------------------------------------------------------
    def create_ticket(self, ticket: Ticket, contact_id: str, opened_at: datetime | None = None) -> str:
        body: dict[str, Any] = {
            "title": ticket.subject,
            "description": f"{ticket.description}\n{tag_text(ticket.tag, ticket.key)}",
            "prioritycode": self.options.priority_codes[ticket.priority.value],
            "customerid_contact@odata.bind": _bind("contacts", contact_id),
        }
        if opened_at is not None:
            body["overriddencreatedon"] = odata_literal(opened_at)
        return self._create("incidents", body)

    def get_ticket(self, ticket_id: str) -> TicketView:
        kpi = "($select=status,succeededon)"
        row = self._json(
            "GET",
            f"incidents({ticket_id})",
            params={
                "$select": "prioritycode,statecode,createdon",
                "$expand": f"firstresponsebykpiid{kpi},resolvebykpiid{kpi}",
            },
        )
        with reading("dynamics", "GET incidents({id})"):
            first, resolve = row.get("firstresponsebykpiid"), row.get("resolvebykpiid")
            if first is None and resolve is None:
                raise VendorError(
                    f"dynamics: incident {ticket_id} has no SLA KPI instance: no SLA applies to it"
                )
            state = row["statecode"]
            return TicketView(
                vendor_id=ticket_id,
                priority=self._priority_of(row["prioritycode"]),
                status=INCIDENT_STATES.get(state, str(state)),
                created_at=odata_time(row["createdon"]),
                first_response_at=_succeeded_on(first),
                closed_at=self._resolved_at(ticket_id) if state == 1 else None,
                first_response_breached=_noncompliant(first),
                resolution_breached=_noncompliant(resolve),
            )

    def _priority_of(self, code: Any) -> TicketPriority:
        by_code = {
            self.options.priority_codes[name]: name
            for name in PRIORITY_ORDER
            if name in self.options.priority_codes
        }
        if code not in by_code:
            raise ConfigError(
                f"dynamics: incident prioritycode {code} is not in priority_codes: map it in poc.toml"
            )
        return TicketPriority(by_code[code])

    def _resolved_at(self, ticket_id: str) -> datetime | None:
        rows = self._json(
            "GET",
            "incidentresolutions",
            params={
                "$select": "createdon",
                "$filter": f"_incidentid_value eq {ticket_id}",
                "$orderby": "createdon desc",
                "$top": "1",
            },
        )
        with reading("dynamics", "GET incidentresolutions"):
            return odata_time(rows["value"][0]["createdon"]) if rows["value"] else None

    def reply_ticket(self, ticket_id: str, message: str, user_id: str | None = None) -> None:
        body: dict[str, Any] = {
            "subject": "Re: your case",
            "description": message,
            "directioncode": True,
            "regardingobjectid_incident_email@odata.bind": _bind("incidents", ticket_id),
        }
        if user_id:
            body["ownerid@odata.bind"] = _bind("systemusers", user_id)
        self._create("emails", body)
        self._patch("incidents", ticket_id, {"firstresponsesent": True})

    def close_ticket(self, ticket_id: str) -> None:
        resolution = {
            "subject": "Resolved by poc-harness",
            "incidentid@odata.bind": _bind("incidents", ticket_id),
        }
        self._request(
            "POST", "CloseIncident", json={"IncidentResolution": resolution, "Status": PROBLEM_SOLVED}
        )

    def report_sla_compliance(self, start: datetime, end: datetime, tag: str) -> SlaComplianceFigure:
        """Counted by Dataverse (``$count``): resolved tagged cases opened in the period, and those of them
        whose first-response and resolution KPIs are not noncompliant."""
        closed = (
            f"contains(description,{quoted(tag)}) and statecode eq 1 and "
            f"createdon ge {odata_literal(start)} and createdon lt {odata_literal(end)}"
        )
        met = (
            f"{closed} and firstresponsebykpiid/status ne {KPI_NONCOMPLIANT} "
            f"and resolvebykpiid/status ne {KPI_NONCOMPLIANT}"
        )
        tickets, on_time = self._count("incidents", closed), self._count("incidents", met)
        rate = round(100.0 * on_time / tickets, 2) if tickets else 0.0
        return SlaComplianceFigure(tickets=tickets, met=on_time, rate_pct=rate)


def _succeeded_on(kpi: dict[str, Any] | None) -> datetime | None:
    if kpi is None or kpi.get("status") != KPI_SUCCEEDED or not kpi.get("succeededon"):
        return None
    return odata_time(kpi["succeededon"])


def _noncompliant(kpi: dict[str, Any] | None) -> bool:
    return kpi is not None and kpi.get("status") == KPI_NONCOMPLIANT


def _status_of(exc: VendorError) -> int | None:
    match = HTTP_STATUS.search(str(exc))
    return int(match.group(1)) if match else None
