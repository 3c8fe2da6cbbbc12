"""Adapter for Salesforce (Sales Cloud and Service Cloud) through its REST API, plus one SOAP call.

Vendor documentation this adapter follows (developer.salesforce.com / help.salesforce.com):

- OAuth endpoints on the org's My Domain:
  https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_endpoints.htm&language=en_US&type=5
- Client credentials flow (``grant_type=client_credentials``, answer with ``access_token``, ``instance_url``):
  https://developer.salesforce.com/docs/atlas.en-us.262.0.chatterapi.meta/chatterapi/quickstart_connecting.htm
- Status codes and error bodies (``[{"message": ..., "errorCode": ...}]``; 403 ``REQUEST_LIMIT_EXCEEDED``):
  https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm
- ``Sforce-Limit-Info: api-usage=N/M`` on every answer:
  https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_api_usage.htm
- ``Sforce-Auto-Assign`` (active assignment rules on Lead creation):
  https://developer.salesforce.com/docs/platform/api-rest/guide/headers-autoassign.md
- sObject Collections create (up to 200 records, ``allOrNone``, SaveResults in request order):
  https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-create.html
- SOQL query and ``nextRecordsUrl`` pagination:
  https://developer.salesforce.com/docs/platform/api-rest/guide/resources-query.md
- SOSL search (``/search/?q=FIND {...}``): https://developer.salesforce.com/docs/platform/api-rest/guide/dome-search.md
- ``convertLead()`` is a SOAP call (REST has no lead-conversion resource; Apex has ``Database.convertLead``):
  https://developer.salesforce.com/docs/atlas.en-us.api.meta/object_ref/sforce_api_calls_convertlead.htm and
  https://developer.salesforce.com/docs/atlas.en-us.apexref.meta/apex/apex_dml_convertLead.htm
- OpportunityHistory (stage history, read-only, queryable):
  https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_objects_opportunityhistory.htm
- CaseMilestone (``IsViolated``, ``CompletionDate`` per milestone of a case's entitlement process):
  https://developer.salesforce.com/docs/atlas.en-us.264.0.object_reference.meta/object_reference/sforce_api_objects_casemilestone.htm
- Task (``WhoId``, ``ActivityDate`` is a date, ``TaskSubtype``, ``ReminderDateTime``):
  https://developer.salesforce.com/docs/platform/object-reference/references/standard-objects/object-task.html
- Audit fields (``CreatedDate`` read-only unless "Set Audit Fields upon Record Creation" is granted):
  https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/system_fields.htm and
  https://help.salesforce.com/s/articleView?id=000213290&language=en_US&type=1

How the PoC behaviours map, and what is honestly missing:

- Auto-assignment: leads are created with ``Sforce-Auto-Assign: TRUE``; the org's active lead assignment rule
  sets ``OwnerId``.  Sales reps are the active standard users (optionally of one profile), read with SOQL.
- Follow-ups: every plain Task (``TaskSubtype = 'Task'``) on the lead; the harness itself only logs Calls and
  E-mails (Task subtypes), Meetings (Event) and Notes, so plain tasks come from the org's automation (a
  record-triggered Flow).  ``ActivityDate`` has no time of day: a task's due time is its ``ReminderDateTime``
  when a reminder is set, else midnight UTC of ``ActivityDate``; have the Flow set the reminder, or widen
  ``tolerance_minutes``.
- Conversion: through the SOAP ``convertLead()`` call with the OAuth access token as session id, then the new
  Opportunity gets the amount, close date and the qualification stage.  Stage history is OpportunityHistory
  (stages not in the ``stages`` map, such as the org's default conversion stage, are skipped).
- SLA: first response and resolution are CaseMilestones of the entitlement process (``entitlement_id`` or the
  org's entitlement rules); the flags are the milestones' own ``IsViolated``, the first response time is the
  first-response milestone's ``CompletionDate``, which the org's automation must complete on the first public
  reply (the harness posts a public CaseComment).  SLA compliance is two ``COUNT()`` queries over those flags.
- No silence alert, NPS survey, management report, forecast or clock control: not implemented by the adapter,
  so those methods raise ``NotImplementedByAdapter`` (not measured, never the vendor's finding).
  ``BACKDATING`` is opt-in (``set_audit_fields = true``): writing ``CreatedDate``
  needs the "Set Audit Fields upon Record Creation" permission on the integration user.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import httpx
from pydantic import BaseModel, Field

from poc_harness.config import secret_from_env
from poc_harness.contract.adapter import AdapterOptions, Capability, RecordKind
from poc_harness.contract.adapter_options import defaults_option, picklist_option
from poc_harness.contract.batches import BatchItem, BatchResult
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
    SlaComplianceFigure,
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
T = TypeVar("T")
BATCH_SIZE = 200
MEETING_LENGTH = timedelta(minutes=30)
SOBJECTS = {
    RecordKind.ACCOUNT: "Account",
    RecordKind.CONTACT: "Contact",
    RecordKind.LEAD: "Lead",
    RecordKind.TICKET: "Case",
    RecordKind.DEAL: "Opportunity",
}
ACTIVITY_PREFIXES = {"00T": "Task", "00U": "Event", "002": "Note"}
TASK_SUBTYPES = {ActivityKind.CALL: "Call", ActivityKind.EMAIL: "Email"}
RECORD_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
API_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")
SOSL_RESERVED = re.compile(r"([?&|!{}\[\]()^~*:\\\"'+-])")
SESSION_EXPIRED = ("HTTP 401", "INVALID_SESSION_ID")
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
    LeadSource.WEBSITE: "Web",
    LeadSource.REFERRAL: "Other",
    LeadSource.EXHIBITION: "Other",
    LeadSource.COLD_CALL: "Phone Inquiry",
    LeadSource.CAMPAIGN: "Purchased List",
    LeadSource.PARTNER: "Partner Referral",
}


class SalesforceOptions(AdapterOptions):
    domain: str = Field(
        pattern=r"^https://[A-Za-z0-9.-]+$", description="the org's My Domain, https://acme.my.salesforce.com"
    )
    client_id: str = Field(
        min_length=1, description="consumer key of the app with the client credentials flow"
    )
    client_secret_env: str = Field(
        min_length=1, description="environment variable holding the consumer secret"
    )
    api_version: str = Field(default="v62.0", pattern=r"^v\d+\.0$")
    timeout: float = Field(default=30.0, gt=0)
    rep_profile: str | None = Field(
        default=None, description="Profile.Name of the sales reps; all users if unset"
    )
    stages: dict[DealStage, str] = Field(default_factory=lambda: dict(DEFAULT_STAGES))
    priorities: dict[TicketPriority, str] = Field(default_factory=lambda: dict(DEFAULT_PRIORITIES))
    lead_sources: dict[LeadSource, str] = Field(default_factory=lambda: dict(DEFAULT_SOURCES))
    case_origin: str = "Web"
    closed_status: str = "Closed"
    converted_status: str | None = Field(
        default=None, description="LeadStatus for convertLead; queried if unset"
    )
    entitlement_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9]{15,18}$")
    first_response_milestone: str = "First Response"
    resolution_milestone: str = "Resolution Time"
    set_audit_fields: bool = Field(
        default=False, description="the user may write CreatedDate: enables backdating"
    )
    usage_pause_ratio: float = Field(
        default=0.95, gt=0, le=1, description="pause when api-usage reaches this"
    )
    usage_pause_seconds: float = Field(default=30.0, ge=0)

    _stages = picklist_option("stages", DEFAULT_STAGES)
    _priorities = picklist_option("priorities", DEFAULT_PRIORITIES)
    _sources = defaults_option("lead_sources", DEFAULT_SOURCES)


class SalesforceAdapter(HTTPAdapter[SalesforceOptions]):
    name: ClassVar[str] = "salesforce"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.AUTO_ASSIGN,
            Capability.FOLLOWUP_TASKS,
            Capability.DEALS,
            Capability.TICKETS,
            Capability.SLA,
            Capability.BATCH_CREATE,
        }
    )
    conditional_capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.BACKDATING})
    observes_task_owner: ClassVar[bool] = True

    def __init__(self, options: SalesforceOptions) -> None:
        super().__init__(options)
        self._secret = secret_from_env(options.client_secret_env, "the Salesforce app's consumer secret")
        self.http = VendorHTTP(
            "salesforce",
            options.domain,
            timeout=options.timeout,
            pause_after=self._pause_after,
            credential=f"client_id and the secret in {options.client_secret_env}",
        )
        self._token = ""
        self._instance_url = ""
        self._data = f"/services/data/{options.api_version}"
        self._stage_of = {value: stage for stage, value in options.stages.items()}
        self._priority_of = {value: priority for priority, value in options.priorities.items()}
        self._converted_status = options.converted_status

    def has(self, capability: Capability) -> bool:
        """``BACKDATING`` is declared per org: with ``set_audit_fields`` (a permission the org grants)."""
        backdating = capability is Capability.BACKDATING and self.options.set_audit_fields
        return super().has(capability) or backdating

    # --- authentication and transport ---------------------------------------------------
    def _authenticate(self) -> None:
        """Client credentials flow at the My Domain token endpoint: a new access token, the instance URL."""
        form = {
            "grant_type": "client_credentials",
            "client_id": self.options.client_id,
            "client_secret": self._secret.get_secret_value(),
        }
        try:
            answer = self.http.json("POST", "/services/oauth2/token", data=form)
        except VendorError as exc:
            if "HTTP 400" in str(exc) or "HTTP 401" in str(exc):
                raise ConfigError(
                    f"salesforce: {self.options.domain} refused the client credentials ({exc}): check "
                    f"client_id, the secret in {self.options.client_secret_env} and that the app allows the "
                    "client credentials flow with a run-as user"
                ) from None
            raise
        token, instance = _field(answer, "access_token"), _field(answer, "instance_url")
        REDACTOR.add(token)
        self._token, self._instance_url = token, instance.rstrip("/")

    def _with_session(self, call: Callable[[], T]) -> T:
        """Run ``call`` with a live session; an expired one (401, INVALID_SESSION_ID) is renewed once."""
        if not self._token:
            self._authenticate()
        return renewing_once(call, self._authenticate, SESSION_EXPIRED)

    def _send(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        def call() -> httpx.Response:
            auth = {"Authorization": f"Bearer {self._token}", **(headers or {})}
            return self.http.request(method, f"{self._instance_url}{path}", headers=auth, **kwargs)

        return self._with_session(call)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        return decode_json(response, "salesforce", f"{method} {path}")

    def _object(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        answer = self._json(method, path, **kwargs)
        if not isinstance(answer, dict):
            raise VendorError(
                f"salesforce: {method} {path}: expected a JSON object, got {type(answer).__name__}"
            )
        return answer

    def _pause_after(self, response: httpx.Response) -> float | None:
        """Pause when ``Sforce-Limit-Info: api-usage=N/M`` says the daily API allowance is nearly spent."""
        match = API_USAGE.search(response.headers.get("Sforce-Limit-Info", ""))
        if match is None or int(match[2]) == 0:
            return None
        near = int(match[1]) / int(match[2]) >= self.options.usage_pause_ratio
        return self.options.usage_pause_seconds if near else None

    # --- REST building blocks -----------------------------------------------------------
    def _query(self, soql: str) -> Iterator[dict[str, Any]]:
        """Every record a SOQL query returns, following ``nextRecordsUrl`` page after page."""
        return self._follow(self._json("GET", f"{self._data}/query", params={"q": soql}))

    def _follow(self, page: Any) -> Iterator[dict[str, Any]]:
        while isinstance(page, dict):
            yield from _rows(_listed(page, "records"))
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                return
            page = self._json("GET", str(next_url))

    def _row(self, sobject: str, record_id: str, fields: str) -> dict[str, Any]:
        """The ``fields`` (sub-queries allowed) of the one ``sobject`` record with this checked id."""
        soql = f"SELECT {fields} FROM {sobject} WHERE Id = '{record_id}'"
        return _only(self._query(soql), f"{sobject.lower()} {record_id}")

    def _count(self, soql: str) -> int:
        total = self._object("GET", f"{self._data}/query", params={"q": soql}).get("totalSize")
        if not isinstance(total, int):
            raise VendorError(f"salesforce: a COUNT() query answered no totalSize: {soql[:80]}")
        return total

    def _create(self, sobject: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> str:
        answer = self._json("POST", f"{self._data}/sobjects/{sobject}", json=body, headers=headers)
        if not isinstance(answer, dict) or not answer.get("success") or not answer.get("id"):
            raise VendorError(f"salesforce: {sobject} not created: {_errors(answer)}")
        return str(answer["id"])

    def _update(self, sobject: str, record_id: str, body: dict[str, Any]) -> None:
        self._send("PATCH", f"{self._data}/sobjects/{sobject}/{_sf_id(record_id)}", json=body)

    @staticmethod
    def _assign_rules(kind: RecordKind) -> dict[str, str] | None:
        return {"Sforce-Auto-Assign": "TRUE"} if kind is RecordKind.LEAD else None

    # --- record bodies --------------------------------------------------------------------
    def _created_date(self, moment: datetime | None) -> dict[str, Any]:
        if moment is None:
            return {}
        if not self.has(Capability.BACKDATING):
            raise self._lacks(Capability.BACKDATING)
        return {"CreatedDate": _sf_time(moment)}

    def _account_body(self, account: Account, _: str | None = None) -> dict[str, Any]:
        return {
            "Name": account.name,
            "Industry": account.industry,
            "BillingCity": account.city,
            "Phone": account.phone,
            "Description": described(account, account.name),
        }

    def _contact_body(self, contact: Contact, account_id: str | None) -> dict[str, Any]:
        return {
            "FirstName": contact.first_name,
            "LastName": contact.last_name,
            "Email": contact.email,
            "Phone": contact.phone,
            "AccountId": _sf_id(account_id or ""),
            "Description": described(contact, f"{contact.first_name} {contact.last_name}"),
        }

    def _lead_body(self, lead: Lead, _: str | None = None) -> dict[str, Any]:
        first, last = _split_name(lead.contact_name)
        return {
            **({"FirstName": first} if first else {}),
            "LastName": last,
            "Company": lead.company,
            "Email": lead.email,
            "Phone": lead.phone,
            "City": lead.city,
            "LeadSource": self.options.lead_sources[lead.source],
            "Description": described(lead, lead.title, f"estimated value {lead.estimated_value}"),
        }

    def _case_body(self, ticket: Ticket, contact_id: str | None) -> dict[str, Any]:
        entitlement = {"EntitlementId": self.options.entitlement_id} if self.options.entitlement_id else {}
        return {
            "Subject": ticket.subject,
            "Description": described(ticket, ticket.description),
            "Priority": self.options.priorities[ticket.priority],
            "Origin": self.options.case_origin,
            "ContactId": _sf_id(contact_id or ""),
            **entitlement,
        }

    def _body(self, kind: RecordKind, record: Record, parent_id: str | None) -> dict[str, Any]:
        builders: dict[RecordKind, Callable[[Any, str | None], dict[str, Any]]] = {
            RecordKind.ACCOUNT: self._account_body,
            RecordKind.CONTACT: self._contact_body,
            RecordKind.LEAD: self._lead_body,
            RecordKind.TICKET: self._case_body,
        }
        if kind not in builders:
            raise HarnessError(f"salesforce: create_batch does not create {kind.value} records")
        return builders[kind](record, parent_id)

    # --- lifecycle and time -----------------------------------------------------------------
    def check_connection(self) -> str:
        daily = self._object("GET", f"{self._data}/limits").get("DailyApiRequests") or {}
        return (
            f"Salesforce {self._instance_url} (API {self.options.api_version}): "
            f"{daily.get('Remaining', '?')} of {daily.get('Max', '?')} daily API requests left"
        )

    def now(self) -> datetime:
        return datetime.now(UTC)

    # --- seeding ------------------------------------------------------------------------------
    def list_sales_reps(self) -> list[str]:
        where = "IsActive = true AND UserType = 'Standard'"
        if self.options.rep_profile:
            where += f" AND Profile.Name = '{_soql_text(self.options.rep_profile)}'"
        return [str(row["Id"]) for row in self._query(f"SELECT Id FROM User WHERE {where} ORDER BY Id")]

    def create_account(self, account: Account) -> str:
        return self._create("Account", self._account_body(account))

    def create_contact(self, contact: Contact, account_id: str) -> str:
        return self._create("Contact", self._contact_body(contact, account_id))

    def create_lead(self, lead: Lead, arrived_at: datetime | None = None) -> str:
        body = {**self._lead_body(lead), **self._created_date(arrived_at)}
        return self._create("Lead", body, headers=self._assign_rules(RecordKind.LEAD))

    max_batch_size: ClassVar[int] = BATCH_SIZE

    def create_batch(self, kind: RecordKind, items: list[BatchItem]) -> list[BatchResult]:
        """One sObject Collections request (``allOrNone`` false: a refused record is not created, the others
        are); a lead's arrival goes in its ``CreatedDate`` where the org lets the adapter backdate."""
        bodies = []
        for item in items:
            created = self._created_date(item.at) if kind is RecordKind.LEAD else {}
            bodies.append({**self._body(kind, item.record, item.parent_id), **created})
        return [
            BatchResult(str(result["id"]))
            if isinstance(result, dict) and result.get("success") and result.get("id")
            else BatchResult(None, f"salesforce: {SOBJECTS[kind]} {item.record.key}: {_errors(result)}")
            for item, result in zip(items, self._create_chunk(kind, bodies), strict=True)
        ]

    def _create_chunk(self, kind: RecordKind, bodies: list[dict[str, Any]]) -> list[Any]:
        sobject = SOBJECTS[kind]
        payload = {
            "allOrNone": False,
            "records": [{"attributes": {"type": sobject}, **body} for body in bodies],
        }
        answer = self._json(
            "POST", f"{self._data}/composite/sobjects", json=payload, headers=self._assign_rules(kind)
        )
        if not isinstance(answer, list) or len(answer) != len(bodies):
            raise VendorError(
                f"salesforce: sObject Collections answered {type(answer).__name__} for {len(bodies)} records"
            )
        return answer

    def log_activity(self, lead_id: str, activity: Activity) -> str:
        at = activity.at or self.now()
        owner = {"OwnerId": _sf_id(activity.user_id)} if activity.user_id else {}
        lead = _sf_id(lead_id)
        if activity.kind is ActivityKind.NOTE:
            return self._create(
                "Note", {"ParentId": lead, "Title": activity.subject[:80], "Body": activity.subject}
            )
        if activity.kind is ActivityKind.MEETING:
            event = {"StartDateTime": _sf_time(at), "EndDateTime": _sf_time(at + MEETING_LENGTH)}
            return self._create("Event", {"WhoId": lead, "Subject": activity.subject, **event, **owner})
        task = {
            "WhoId": lead,
            "Subject": activity.subject,
            "TaskSubtype": TASK_SUBTYPES[activity.kind],
            "Status": "Completed",
            "ActivityDate": at.astimezone(UTC).date().isoformat(),
        }
        return self._create("Task", {**task, **owner})

    def delete(self, kind: RecordKind, vendor_id: str) -> bool:
        path = f"{self._data}/sobjects/{self._sobject_of(kind, vendor_id)}/{_sf_id(vendor_id)}"
        try:
            self._send("DELETE", path)
        except VendorError as exc:
            if "HTTP 404" in str(exc) or "ENTITY_IS_DELETED" in str(exc):
                return False
            raise
        return True

    def _sobject_of(self, kind: RecordKind, vendor_id: str) -> str:
        if kind is RecordKind.REP:
            raise self._lacks(Capability.USER_ADMIN)
        if kind is not RecordKind.ACTIVITY:
            return SOBJECTS[kind]
        sobject = ACTIVITY_PREFIXES.get(vendor_id[:3])
        if sobject is None:
            raise HarnessError(f"salesforce: {vendor_id} is not a Task, Event or Note id")
        return sobject

    def find_tagged(self, kind: RecordKind, tag: str) -> list[str]:
        """SOSL over all fields (the tag is in each record's Description or name); SOSL sees new records only
        once Salesforce has indexed them, and returns at most 2,000."""
        if kind is RecordKind.REP:
            return []
        sobjects = ["Task", "Event"] if kind is RecordKind.ACTIVITY else [SOBJECTS[kind]]
        return [str(row["Id"]) for row in self._sosl(tag, [f"{sobject}(Id)" for sobject in sobjects])]

    def find_tagged_refs(self, kind: RecordKind, tag: str) -> dict[str, str | None] | None:
        """The harness key of each tagged record, from its Description (``poc-harness <key> [<tag>]``)."""
        if kind not in (RecordKind.ACCOUNT, RecordKind.CONTACT, RecordKind.LEAD, RecordKind.TICKET):
            return None
        rows = self._sosl(tag, [f"{SOBJECTS[kind]}(Id, Description)"])
        return {str(row["Id"]): key_in(row.get("Description"), tag) for row in rows}

    def _sosl(self, tag: str, returning: list[str]) -> list[dict[str, Any]]:
        term = SOSL_RESERVED.sub(r"\\\1", tag)
        sosl = f"FIND {{{term}}} IN ALL FIELDS RETURNING {', '.join(returning)}"
        answer = self._object("GET", f"{self._data}/search", params={"q": sosl})
        return _rows(_listed(answer, "searchRecords"))

    # --- lead -> contract ---------------------------------------------------------------------
    def get_lead(self, lead_id: str) -> LeadView:
        fields = "Id,OwnerId,Status,IsConverted,CreatedDate"
        row = self._object("GET", f"{self._data}/sobjects/Lead/{_sf_id(lead_id)}", params={"fields": fields})
        data = {
            "vendor_id": row.get("Id"),
            "owner_id": row.get("OwnerId"),
            "status": "converted" if row.get("IsConverted") else row.get("Status"),
            "created_at": row.get("CreatedDate"),
        }
        return _parse(LeadView, data, "Lead")

    def lead_tasks(self, lead_id: str) -> list[TaskView]:
        """Plain tasks whose WhoId is the lead.  Conversion moves a lead's open activities to its contact,
        so a converted lead shows none here (the follow-up check is judged at arrival, before conversion)."""
        soql = (
            "SELECT Id, WhoId, OwnerId, Subject, ActivityDate, IsReminderSet, ReminderDateTime FROM Task "
            f"WHERE WhoId = '{_sf_id(lead_id)}' AND TaskSubtype = 'Task' ORDER BY CreatedDate, Id"
        )
        views = (self._task_view(row) for row in self._query(soql))
        return [view for view in views if view is not None]

    @staticmethod
    def _task_view(row: dict[str, Any]) -> TaskView | None:
        """A plain task, due at its reminder time, else at midnight UTC of its date; undated: None."""
        due = row.get("ReminderDateTime") if row.get("IsReminderSet") else None
        if not due and row.get("ActivityDate"):
            due = f"{row['ActivityDate']}T00:00:00+00:00"
        if not due:
            return None
        data = {
            "vendor_id": row.get("Id"),
            "lead_id": row.get("WhoId"),
            "subject": row.get("Subject") or "",
            "due_at": due,
            "automatic": True,
            "owner_id": row.get("OwnerId"),
        }
        return _parse(TaskView, data, "Task")

    def complete_task(self, task_id: str, user_id: str | None) -> None:
        """Salesforce keeps no "completed by": the rep who completes the task becomes its owner."""
        owner = {"OwnerId": _sf_id(user_id)} if user_id else {}
        self._update("Task", task_id, {"Status": "Completed", **owner})

    def convert_lead(self, lead_id: str, amount: int, expected_close: datetime | None = None) -> str:
        lead = _sf_id(lead_id)
        opportunity = self._convert(lead, self._opportunity_name(lead))
        body: dict[str, Any] = {"Amount": amount, "StageName": self.options.stages[DealStage.QUALIFICATION]}
        if expected_close is not None:
            body["CloseDate"] = expected_close.astimezone(UTC).date().isoformat()
        self._update("Opportunity", opportunity, body)
        return opportunity

    def _opportunity_name(self, lead_id: str) -> str:
        """The lead's title (first line of its Description, tagged with the run) names the opportunity."""
        row = self._object(
            "GET", f"{self._data}/sobjects/Lead/{lead_id}", params={"fields": "Company,Description"}
        )
        lines = str(row.get("Description") or "").splitlines()
        return (lines[0] if lines else str(row.get("Company") or lead_id))[:120]

    def _convert(self, lead_id: str, opportunity_name: str) -> str:
        """SOAP ``convertLead()`` on the partner endpoint, with the OAuth access token as session id."""
        status = self._lead_converted_status()
        headers = {"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": '""'}
        endpoint = f"/services/Soap/u/{self.options.api_version.removeprefix('v')}"

        def call() -> httpx.Response:
            envelope = _convert_envelope(self._token, lead_id, status, opportunity_name).encode()
            return self.http.request(
                "POST", f"{self._instance_url}{endpoint}", content=envelope, headers=headers
            )

        return _convert_result(self._with_session(call).text, lead_id)

    def _lead_converted_status(self) -> str:
        if self._converted_status is None:
            soql = "SELECT MasterLabel FROM LeadStatus WHERE IsConverted = true ORDER BY SortOrder LIMIT 1"
            rows = list(self._query(soql))
            if not rows:
                raise VendorError("salesforce: no lead status is marked converted (LeadStatus.IsConverted)")
            self._converted_status = str(rows[0]["MasterLabel"])
        return self._converted_status

    def move_deal(self, deal_id: str, stage: DealStage) -> None:
        self._update("Opportunity", deal_id, {"StageName": self.options.stages[stage]})

    def get_deal(self, deal_id: str) -> DealView:
        deal = _sf_id(deal_id)
        history_rows = "SELECT StageName, CreatedDate FROM OpportunityHistories ORDER BY CreatedDate, Id"
        row = self._row("Opportunity", deal, f"Id, StageName, Amount, ({history_rows})")
        history = self._stage_history(self._follow(row.get("OpportunityHistories")))
        leads = list(self._query(f"SELECT Id FROM Lead WHERE ConvertedOpportunityId = '{deal}' LIMIT 1"))
        data = {
            "vendor_id": deal,
            "lead_id": leads[0]["Id"] if leads else None,
            "stage": self._deal_stage(row.get("StageName")),
            "amount": int(row.get("Amount") or 0),
            "history": history,
        }
        return _parse(DealView, data, "Opportunity")

    def _deal_stage(self, name: Any) -> DealStage:
        if name not in self._stage_of:
            raise VendorError(f"salesforce: opportunity stage {name!r} is not in the stages option")
        return self._stage_of[name]

    def _stage_history(self, rows: Iterable[dict[str, Any]]) -> list[StageChange]:
        """One change per stage reached: repeated stages (an amount edit) and unmapped stages are skipped."""
        changes: list[StageChange] = []
        for row in rows:
            name = row.get("StageName")
            stage = self._stage_of.get(name) if isinstance(name, str) else None
            if stage is not None and (not changes or changes[-1].stage is not stage):
                changes.append(_parse(StageChange, {"stage": stage, "at": row.get("CreatedDate")}, "history"))
        return changes

    # --- ticket -> resolution ---------------------------------------------------------------
    def create_ticket(self, ticket: Ticket, contact_id: str, opened_at: datetime | None = None) -> str:
        return self._create("Case", {**self._case_body(ticket, contact_id), **self._created_date(opened_at)})

    def get_ticket(self, ticket_id: str) -> TicketView:
        case = _sf_id(ticket_id)
        milestone_rows = "SELECT MilestoneType.Name, IsViolated, CompletionDate FROM CaseMilestones"
        row = self._row("Case", case, f"Id, Priority, Status, CreatedDate, ClosedDate, ({milestone_rows})")
        milestones = {
            (milestone.get("MilestoneType") or {}).get("Name"): milestone
            for milestone in self._follow(row.get("CaseMilestones"))
        }
        first = self._milestone(milestones, self.options.first_response_milestone, case)
        resolution = self._milestone(milestones, self.options.resolution_milestone, case)
        if row.get("Priority") not in self._priority_of:
            raise VendorError(
                f"salesforce: case {case} has priority {row.get('Priority')!r}, not in priorities"
            )
        data = {
            "vendor_id": case,
            "priority": self._priority_of[row["Priority"]],
            "status": row.get("Status"),
            "created_at": row.get("CreatedDate"),
            "first_response_at": first.get("CompletionDate"),
            "closed_at": row.get("ClosedDate"),
            "first_response_breached": bool(first.get("IsViolated")),
            "resolution_breached": bool(resolution.get("IsViolated")),
        }
        return _parse(TicketView, data, "Case")

    @staticmethod
    def _milestone(milestones: dict[Any, dict[str, Any]], name: str, case: str) -> dict[str, Any]:
        if name not in milestones:
            raise VendorError(
                f"salesforce: case {case} has no {name!r} milestone: apply an entitlement process with the "
                "first-response and resolution milestones to the PoC cases"
            )
        return milestones[name]

    def reply_ticket(self, ticket_id: str, message: str, user_id: str | None = None) -> None:
        """A public CaseComment (its author is the integration user: Salesforce sets CreatedById)."""
        self._create(
            "CaseComment", {"ParentId": _sf_id(ticket_id), "CommentBody": message, "IsPublished": True}
        )

    def close_ticket(self, ticket_id: str) -> None:
        self._update("Case", ticket_id, {"Status": self.options.closed_status})

    def report_sla_compliance(self, start: datetime, end: datetime, tag: str) -> SlaComplianceFigure:
        """Closed cases of the run in the period, counted by Salesforce, and those with a violated SLA
        milestone (a semi-join on CaseMilestone.IsViolated)."""
        closed = (
            f"IsClosed = true AND ClosedDate >= {_sf_time(start)} AND ClosedDate < {_sf_time(end)} "
            f"AND Subject LIKE '%[{_soql_like(tag)}]%'"
        )
        names = ", ".join(
            f"'{_soql_text(name)}'"
            for name in (self.options.first_response_milestone, self.options.resolution_milestone)
        )
        tickets = self._count(f"SELECT COUNT() FROM Case WHERE {closed}")
        breached = self._count(
            f"SELECT COUNT() FROM Case WHERE {closed} AND Id IN (SELECT CaseId FROM CaseMilestone "
            f"WHERE IsViolated = true AND MilestoneType.Name IN ({names}))"
        )
        met = tickets - breached
        return SlaComplianceFigure(
            tickets=tickets, met=met, rate_pct=round(100.0 * met / tickets, 2) if tickets else 0.0
        )


# --- helpers ------------------------------------------------------------------------------------
def _sf_id(value: str | None) -> str:
    """A Salesforce record id, checked before it goes into a URL or a SOQL string."""
    if not value or not RECORD_ID.match(value):
        raise HarnessError(f"salesforce: {value!r} is not a Salesforce record id")
    return value


def _sf_time(moment: datetime) -> str:
    """A dateTime as Salesforce writes and SOQL compares it: UTC, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _soql_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _soql_like(value: str) -> str:
    return _soql_text(value).replace("%", "\\%").replace("_", "\\_")


def _split_name(full_name: str) -> tuple[str, str]:
    first, _, last = full_name.strip().rpartition(" ")
    return first, last


def _field(answer: Any, name: str) -> str:
    value = answer.get(name) if isinstance(answer, dict) else None
    if not isinstance(value, str) or not value:
        raise VendorError(f"salesforce: the token answer has no {name}")
    return value


def _listed(answer: Any, name: str) -> list[Any]:
    """The list under ``name`` that every answer of its kind carries (absent: a malformed answer)."""
    value = answer.get(name) if isinstance(answer, dict) else None
    if not isinstance(value, list):
        raise VendorError(f"salesforce: unexpected answer: no {name} list")
    return value


def _rows(value: Any) -> list[dict[str, Any]]:
    return [row for row in value if isinstance(row, dict)] if isinstance(value, list) else []


def _only(rows: Iterator[dict[str, Any]], what: str) -> dict[str, Any]:
    found = next(rows, None)
    if found is None:
        raise VendorError(f"salesforce: {what} not found")
    return found


def _errors(result: Any) -> str:
    """SaveResult errors as ``CODE: message`` (collections say ``statusCode``, REST ``errorCode``)."""
    errors = _rows(result.get("errors")) if isinstance(result, dict) else []
    described = [
        f"{e.get('statusCode') or e.get('errorCode') or 'ERROR'}: {e.get('message', '')}" for e in errors
    ]
    return "; ".join(described) or "no reason given"


def _parse(model: type[V], data: dict[str, Any], where: str) -> V:
    return parse_answer(model, data, "salesforce", where)


def _convert_envelope(session: str, lead_id: str, status: str, opportunity_name: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:urn="urn:partner.soap.sforce.com">'
        f"<soapenv:Header><urn:SessionHeader><urn:sessionId>{escape(session)}</urn:sessionId>"
        "</urn:SessionHeader></soapenv:Header>"
        "<soapenv:Body><urn:convertLead><urn:leadConverts>"
        f"<urn:convertedStatus>{escape(status)}</urn:convertedStatus>"
        f"<urn:leadId>{escape(lead_id)}</urn:leadId>"
        f"<urn:opportunityName>{escape(opportunity_name)}</urn:opportunityName>"
        "</urn:leadConverts></urn:convertLead></soapenv:Body></soapenv:Envelope>"
    )


def _convert_result(xml_text: str, lead_id: str) -> str:
    """The opportunity id of a ``LeadConvertResult``, or a one-line error with Salesforce's status code."""
    try:
        root = ElementTree.fromstring(xml_text)
    except ElementTree.ParseError:
        raise VendorError(f"salesforce: convertLead answer for {lead_id} is not XML") from None
    result = next((el for el in root.iter() if _local(el.tag) == "result"), None)
    if result is None:
        raise VendorError(f"salesforce: convertLead answer for {lead_id} has no result")
    found = {_local(el.tag): (el.text or "") for el in result.iter()}
    if found.get("success") != "true" or not found.get("opportunityId"):
        reason = (
            f"{found.get('statusCode', 'no status code')}: {found.get('message', 'no opportunity created')}"
        )
        raise VendorError(f"salesforce: convertLead refused lead {lead_id}: {reason}")
    return found["opportunityId"]


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]
