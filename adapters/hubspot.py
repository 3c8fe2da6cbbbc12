"""Adapter for HubSpot (CRM API v3 objects, v4 associations), with a private-app token.

What the harness's records become in HubSpot
--------------------------------------------
- account -> ``companies``; contact -> ``contacts`` (primary company association 1).
- lead -> the v3 ``leads`` object, linked (association type 578, which HubSpot requires at creation)
  to a contact the adapter creates from the lead's person data.  We chose the leads object over
  "a contact with ``lifecyclestage=lead``" because it is what HubSpot's own lead workflow works on:
  lead routing and workflows set its owner, its stage (``hs_pipeline_stage``) says new / qualified,
  and a deal can be associated with it, so ownership, conversion and the lead-deal link are all
  observable on the record the committee means by "lead".  Leads must be enabled in the portal and
  their owners need a sales seat.  The lead's source and estimated value have no standard lead
  property; the value becomes the deal's amount at conversion.
- deal -> ``deals`` in one pipeline; each ``DealStage`` maps to one of that pipeline's stages (ids
  or labels in ``deal_stages``, checked against the pipelines API).  The stage history is HubSpot's
  own: ``propertiesWithHistory=dealstage``.  Conversion moves the lead to ``lead_qualified_stage``
  and creates a deal associated with the lead and its contact (HubSpot has no convert endpoint).
- activity -> ``calls``, ``meetings``, ``emails`` or ``notes`` associated with the lead; its vendor
  id is ``<object type>:<id>`` so it can be deleted later.  ticket -> ``tickets`` (association 16 to
  the contact); a reply is a logged outgoing e-mail associated with the ticket.
- Every record carries the run tag in the custom single-line text property ``tag_property``: create
  it on contacts, companies, leads, deals and tickets before the PoC (``check_connection`` says so).

Capabilities, and why
---------------------
Declared: ``AUTO_ASSIGN`` (the adapter never sets an owner, so an owner on a lead was set by a
workflow or lead routing; reps are the portal's owners, optionally one team), ``FOLLOWUP_TASKS``
(tasks associated with the lead whose ``hs_object_source`` is in ``automation_sources``, i.e. made by
a workflow; due time ``hs_timestamp``), ``DEALS``, ``TICKETS``, ``BATCH_CREATE`` (``create_batch``,
100 inputs a call).  Not declared (``vendor_lacks`` cites the
documentation of what the vendor lacks, a finding; the rest is not measured):
- ``SILENCE_ALERT``: a workflow can notify a user after 7 quiet days, but no API shows that alert.
- ``NPS_SURVEY``: feedback submissions are readable but cannot be created by API and the survey
  invitation is not an object, so the harness can neither see "one survey sent" nor answer it.
- ``SLA``, ``REPORTS``, ``FORECAST``: HubSpot's reports and forecast have no public API.  (Breach flags
  still come from the tickets' SLA status properties in ``get_ticket``; without SLAs configured,
  a Service Hub Professional feature, that read is pending (``NotConfigured``, with the setup step).)
- ``BACKDATING``: records cannot be created in the past in a way automation honours (workflows enrol
  at the real creation time), so ``arrived_at`` / ``opened_at`` raise; ``CLOCK_CONTROL`` and
  ``USER_ADMIN`` (adding users takes paid seats) are not offered.  The default clock is ``wall``.

Rate limits: ``X-HubSpot-RateLimit-Remaining`` at 0 pauses for ``X-HubSpot-RateLimit-Interval-
Milliseconds``; ``X-HubSpot-RateLimit-Secondly-Remaining`` at 0 pauses a second; ``Retry-After`` on a
429 is honoured by ``VendorHTTP``.

Documentation used (pages found with the search tool):
- objects, batch create, search: https://developers.hubspot.com/docs/guides/crm/using-object-apis,
  https://developers.hubspot.com/docs/api-reference/2026-03/crm/objects/contacts/batch/create-contacts.md
- leads: https://developers.hubspot.com/docs/api-reference/crm-leads-v3/guide
- pipelines and stages: https://developers.hubspot.com/docs/api-reference/latest/crm/pipelines/guide.md
- owners: https://developers.hubspot.com/docs/api-reference/crm-crm-owners-v3/guide
- rate limits and their headers: https://developers.hubspot.com/docs/api/usage-details,
  https://developers.hubspot.com/changelog/rate-limit-headers-will-now-appear-for-oauth-authenticated-calls
- error bodies: https://developers.hubspot.com/docs/faq/api-error-responses
- real payloads (ticket SLA status codes 0-4, lead association 578, rate-limit headers): public code
  found with the search tool's code corpus.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, ClassVar, TypeVar

import httpx
from pydantic import AwareDatetime, BaseModel, Field

from poc_harness.config import secret_from_env
from poc_harness.contract.adapter import AdapterOptions, Capability, RecordKind
from poc_harness.contract.batches import BatchItem, BatchResult, parent_of, partly_batched, record_of
from poc_harness.contract.http_adapter import HTTPAdapter
from poc_harness.contract.model import (
    Account,
    Activity,
    ActivityKind,
    Contact,
    DealStage,
    DealView,
    Lead,
    LeadView,
    StageChange,
    TaskView,
    Ticket,
    TicketPriority,
    TicketView,
    View,
)
from poc_harness.errors import ConfigError, NotConfigured, VendorError
from poc_harness.transport.answers import parse_answer
from poc_harness.transport.http import VendorHTTP

V = TypeVar("V", bound=BaseModel)

BATCH_LIMIT = 100
SEARCH_PAGE = 100
LIST_PAGE = 100
ASSOCIATION_PAGE = 500
DEFAULT_INTERVAL_MS = 10_000

OBJECTS = {
    RecordKind.ACCOUNT: "companies",
    RecordKind.CONTACT: "contacts",
    RecordKind.LEAD: "leads",
    RecordKind.TICKET: "tickets",
    RecordKind.DEAL: "deals",
}
TAGGED_OBJECTS = tuple(OBJECTS.values())
ACTIVITY_OBJECTS = {
    ActivityKind.CALL: "calls",
    ActivityKind.MEETING: "meetings",
    ActivityKind.EMAIL: "emails",
    ActivityKind.NOTE: "notes",
}
# HubSpot-defined association type ids (https://developers.hubspot.com/docs/guides/api/crm/associations)
CONTACT_TO_PRIMARY_COMPANY = 1
DEAL_TO_CONTACT = 3
TICKET_TO_CONTACT = 16
LEAD_TO_PRIMARY_CONTACT = 578
PRIORITIES = {
    TicketPriority.LOW: "LOW",
    TicketPriority.NORMAL: "MEDIUM",
    TicketPriority.HIGH: "HIGH",
    TicketPriority.URGENT: "URGENT",
}
# hs_time_to_first_response_sla_status / hs_time_to_close_sla_status: 0 active, 1 overdue, 2 due soon,
# 3 completed on time, 4 completed late.
SLA_BREACHED = {"1": True, "4": True, "0": False, "2": False, "3": False}
TASK_PROPERTIES = [
    "hs_task_subject",
    "hs_timestamp",
    "hs_object_source",
    "hs_task_status",
    "hubspot_owner_id",
]
TICKET_PROPERTIES = [
    "hs_ticket_priority",
    "hs_pipeline_stage",
    "first_agent_reply_date",
    "closed_date",
    "hs_time_to_first_response_sla_status",
    "hs_time_to_close_sla_status",
]


class HubSpotOptions(AdapterOptions):
    token_env: str = Field(description="environment variable holding the private-app access token")
    base_url: str = "https://api.hubapi.com"
    timeout: float = 30.0
    tag_property: str = Field(
        default="poc_harness_tag", description="custom single-line text property holding the run tag"
    )
    deal_pipeline: str = "default"
    deal_stages: dict[DealStage, str] = Field(
        default_factory=lambda: {
            DealStage.QUALIFICATION: "qualifiedtobuy",
            DealStage.PROPOSAL: "presentationscheduled",
            DealStage.NEGOTIATION: "contractsent",
            DealStage.WON: "closedwon",
            DealStage.LOST: "closedlost",
        },
        description="each harness stage -> a stage id or label of deal_pipeline",
    )
    lead_qualified_stage: str = "qualified-stage-id"
    ticket_pipeline: str = "0"
    owner_team_id: str | None = Field(default=None, description="only owners of this team are sales reps")
    automation_sources: tuple[str, ...] = Field(
        default=("AUTOMATION_PLATFORM",),
        description="hs_object_source values of records created by workflows",
    )


class _Version(View):
    value: str | None = None
    timestamp: AwareDatetime


class _Record(View):
    id: str
    properties: dict[str, Any] = Field(default_factory=dict)
    created_at: AwareDatetime | None = Field(default=None, alias="createdAt")
    history: dict[str, list[_Version]] = Field(default_factory=dict, alias="propertiesWithHistory")


class _Stage(View):
    id: str
    label: str
    display_order: int = Field(default=0, alias="displayOrder")
    metadata: dict[str, Any] = Field(default_factory=dict)


class _Pipeline(View):
    id: str
    stages: list[_Stage]


def rate_limit_pause(response: httpx.Response) -> float | None:
    """Seconds to wait after ``response``: the rolling window when HubSpot says none is left in it."""
    headers = response.headers
    if _header_int(headers, "X-HubSpot-RateLimit-Remaining") == 0:
        interval = _header_int(headers, "X-HubSpot-RateLimit-Interval-Milliseconds") or DEFAULT_INTERVAL_MS
        return interval / 1000
    if _header_int(headers, "X-HubSpot-RateLimit-Secondly-Remaining") == 0:
        return 1.0
    return None


def _header_int(headers: httpx.Headers, name: str) -> int | None:
    try:
        return int(headers[name])
    except (KeyError, ValueError):
        return None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _split_name(full: str) -> dict[str, str]:
    first, _, last = full.strip().partition(" ")
    return {"firstname": first, "lastname": last} if last else {"firstname": first}


def _association(to_id: str, type_id: int) -> dict[str, Any]:
    return {
        "to": {"id": to_id},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
    }


def _results(answer: Any, where: str) -> list[dict[str, Any]]:
    """The ``results`` list of a HubSpot collection or batch answer."""
    if not isinstance(answer, dict) or not isinstance(answer.get("results"), list):
        raise VendorError(f"hubspot: {where}: expected an object with a results list")
    return answer["results"]


def _traces(error: dict[str, Any]) -> list[str]:
    """The ``objectWriteTraceId`` values a batch error names in its ``context`` (a list or one value)."""
    context = error.get("context")
    named = context.get("objectWriteTraceId") if isinstance(context, dict) else None
    traces = named or error.get("objectWriteTraceId") or []
    return [str(trace) for trace in (traces if isinstance(traces, list) else [traces])]


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class HubSpotAdapter(HTTPAdapter[HubSpotOptions]):
    name: ClassVar[str] = "hubspot"
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

    def __init__(self, options: HubSpotOptions) -> None:
        super().__init__(options)
        token = secret_from_env(options.token_env, "the HubSpot private-app token").get_secret_value()
        self.http = VendorHTTP(
            "hubspot",
            options.base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=options.timeout,
            pause_after=rate_limit_pause,
            credential=f"the private-app token in {options.token_env}",
        )

    # --- helpers ----------------------------------------------------------------------
    def _parse(self, model: type[V], data: Any, where: str) -> V:
        return parse_answer(model, data, "hubspot", where)

    def _pages(self, fetch: Callable[[str | None], Any], where: str) -> Iterator[dict[str, Any]]:
        """Every result of a listing, following ``paging.next.after`` until HubSpot gives none."""
        after: str | None = None
        while True:
            page = fetch(after)
            yield from _results(page, where)
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return

    def _create(
        self, object_type: str, properties: dict[str, Any], associations: list[Any] | None = None
    ) -> str:
        body: dict[str, Any] = {"properties": properties}
        if associations:
            body["associations"] = associations
        path = f"/crm/v3/objects/{object_type}"
        return self._parse(_Record, self.http.json("POST", path, json=body), f"POST {path}").id

    def _update(self, object_type: str, record_id: str, properties: dict[str, Any]) -> None:
        self.http.json("PATCH", f"/crm/v3/objects/{object_type}/{record_id}", json={"properties": properties})

    def _read(self, object_type: str, record_id: str, properties: list[str], **params: str) -> _Record:
        path = f"/crm/v3/objects/{object_type}/{record_id}"
        data = self.http.json("GET", path, params={"properties": ",".join(properties), **params})
        return self._parse(_Record, data, f"GET /crm/v3/objects/{object_type}/{{id}}")

    def _associate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        self.http.request(
            "PUT", f"/crm/v4/objects/{from_type}/{from_id}/associations/default/{to_type}/{to_id}"
        )

    def _associated(self, from_type: str, from_id: str, to_type: str) -> list[str]:
        path = f"/crm/v4/objects/{from_type}/{from_id}/associations/{to_type}"

        def fetch(after: str | None) -> Any:
            params = {"limit": ASSOCIATION_PAGE, **({"after": after} if after else {})}
            return self.http.json("GET", path, params=params)

        return [str(item["toObjectId"]) for item in self._pages(fetch, f"GET {path}")]

    def _search_tagged(self, object_type: str, tag: str) -> list[str]:
        path = f"/crm/v3/objects/{object_type}/search"
        query = {
            "filterGroups": [
                {"filters": [{"propertyName": self.options.tag_property, "operator": "EQ", "value": tag}]}
            ],
            "properties": ["hs_object_id"],
            "limit": SEARCH_PAGE,
        }

        def fetch(after: str | None) -> Any:
            return self.http.json("POST", path, json={**query, **({"after": after} if after else {})})

        return [str(item["id"]) for item in self._pages(fetch, f"POST {path}")]

    def _archive(self, object_type: str, record_id: str) -> bool:
        try:
            self.http.request("DELETE", f"/crm/v3/objects/{object_type}/{record_id}")
        except VendorError as exc:
            if "HTTP 404" in str(exc):
                return False
            raise
        return True

    def _pipeline(self, object_type: str, pipeline_id: str) -> _Pipeline:
        path = f"/crm/v3/pipelines/{object_type}/{pipeline_id}"
        return self._parse(_Pipeline, self.http.json("GET", path), f"GET {path}")

    @cached_property
    def _deal_stage_ids(self) -> dict[DealStage, str]:
        """Each harness stage's stage id in the deal pipeline, configured by id or label."""
        stages = self._pipeline("deals", self.options.deal_pipeline).stages
        found: dict[DealStage, str] = {}
        for harness_stage, wanted in self.options.deal_stages.items():
            match = next((s for s in stages if wanted == s.id or wanted.lower() == s.label.lower()), None)
            if match is None:
                known = ", ".join(f"{s.id} ({s.label})" for s in stages)
                raise ConfigError(
                    f"hubspot: deal_stages.{harness_stage.value} = '{wanted}' is not a stage of pipeline "
                    f"'{self.options.deal_pipeline}': choose one of {known}"
                )
            found[harness_stage] = match.id
        missing = [s.value for s in DealStage if s not in found]
        if missing:
            raise ConfigError(f"hubspot: deal_stages misses {', '.join(missing)}: map every harness stage")
        return found

    @cached_property
    def _lead_stage_labels(self) -> dict[str, str]:
        path = "/crm/v3/pipelines/leads"
        pipelines = [
            self._parse(_Pipeline, item, f"GET {path}")
            for item in self._pages(lambda _: self.http.json("GET", path), path)
        ]
        return {stage.id: stage.label.lower() for pipeline in pipelines for stage in pipeline.stages}

    @cached_property
    def _ticket_stages(self) -> _Pipeline:
        return self._pipeline("tickets", self.options.ticket_pipeline)

    def _ticket_stage(self, state: str) -> str:
        stages = sorted(self._ticket_stages.stages, key=lambda s: s.display_order)
        match = next((s for s in stages if s.metadata.get("ticketState") == state), None)
        if match is None:
            raise ConfigError(
                f"hubspot: ticket pipeline '{self.options.ticket_pipeline}' has no {state} stage: "
                "pick another"
            )
        return match.id

    # --- contract ---------------------------------------------------------------------
    def check_connection(self) -> str:
        self.http.json("GET", "/crm/v3/owners", params={"limit": 1})  # proves the token is accepted
        missing = [obj for obj in TAGGED_OBJECTS if not self._has_tag_property(obj)]
        if missing:
            raise ConfigError(
                f"hubspot: the tag property '{self.options.tag_property}' is missing on "
                f"{', '.join(missing)}: "
                "create it (single-line text) on contacts, companies, leads, deals and tickets"
            )
        tag = self.options.tag_property
        return f"HubSpot at {self.options.base_url}: token accepted, tag property '{tag}' present"

    def _has_tag_property(self, object_type: str) -> bool:
        try:
            self.http.json("GET", f"/crm/v3/properties/{object_type}/{self.options.tag_property}")
        except VendorError as exc:
            if "HTTP 404" in str(exc):
                return False
            raise
        return True

    def now(self) -> datetime:
        return datetime.now(UTC)

    def list_sales_reps(self) -> list[str]:
        def fetch(after: str | None) -> Any:
            params = {"limit": LIST_PAGE, **({"after": after} if after else {})}
            return self.http.json("GET", "/crm/v3/owners", params=params)

        team = self.options.owner_team_id
        return [
            str(owner["id"])
            for owner in self._pages(fetch, "GET /crm/v3/owners")
            if team is None or any(str(t.get("id")) == team for t in owner.get("teams") or [])
        ]

    def _tagged(self, tag: str, **properties: Any) -> dict[str, Any]:
        return {**{k: v for k, v in properties.items() if v is not None}, self.options.tag_property: tag}

    def _account_properties(self, account: Account) -> dict[str, Any]:
        return self._tagged(
            account.tag,
            name=account.name,
            phone=account.phone,
            city=account.city,
            description=f"Industry: {account.industry}",  # HubSpot's industry is a fixed enumeration
        )

    def create_account(self, account: Account) -> str:
        return self._create("companies", self._account_properties(account))

    def _contact_properties(self, contact: Contact) -> dict[str, Any]:
        return self._tagged(
            contact.tag,
            firstname=contact.first_name,
            lastname=contact.last_name,
            email=contact.email,
            phone=contact.phone,
        )

    def create_contact(self, contact: Contact, account_id: str) -> str:
        association = _association(account_id, CONTACT_TO_PRIMARY_COMPANY)
        return self._create("contacts", self._contact_properties(contact), [association])

    def create_lead(self, lead: Lead, arrived_at: datetime | None = None) -> str:
        if arrived_at is not None:
            raise self._lacks(Capability.BACKDATING)
        contact_id = self._create("contacts", self._person_properties(lead))
        properties = self._tagged(lead.tag, hs_lead_name=lead.title)
        return self._create("leads", properties, [_association(contact_id, LEAD_TO_PRIMARY_CONTACT)])

    def _person_properties(self, lead: Lead) -> dict[str, Any]:
        """The contact a lead is associated with (HubSpot requires one at the lead's creation)."""
        return self._tagged(
            lead.tag,
            **_split_name(lead.contact_name),
            email=lead.email,
            phone=lead.phone,
            city=lead.city,
            company=lead.company,
            lifecyclestage="lead",
        )

    def log_activity(self, lead_id: str, activity: Activity) -> str:
        object_type = ACTIVITY_OBJECTS[activity.kind]
        properties = _activity_properties(activity, activity.at or self.now())
        if activity.user_id:
            properties["hubspot_owner_id"] = activity.user_id
        record_id = self._create(object_type, properties)
        self._associate(object_type, record_id, "leads", lead_id)
        return f"{object_type}:{record_id}"

    def delete(self, kind: RecordKind, vendor_id: str) -> bool:
        if kind is RecordKind.REP:
            return False  # reps are the portal's existing owners: never created, never deleted
        if kind is RecordKind.ACTIVITY:
            object_type, _, record_id = vendor_id.partition(":")
            return self._archive(object_type, record_id)
        if kind is RecordKind.LEAD:
            return self._delete_lead(vendor_id)
        return self._archive(OBJECTS[kind], vendor_id)

    def _delete_lead(self, lead_id: str) -> bool:
        """The lead and the contact this adapter created for it (HubSpot archives, as in the UI)."""
        try:
            contacts = self._associated("leads", lead_id, "contacts")
        except VendorError as exc:
            if "HTTP 404" in str(exc):
                return False
            raise
        existed = self._archive("leads", lead_id)
        for contact_id in contacts:
            self._archive("contacts", contact_id)
        return existed

    def find_tagged(self, kind: RecordKind, tag: str) -> list[str]:
        if kind is RecordKind.REP:
            return []
        if kind is RecordKind.ACTIVITY:
            return [
                f"{object_type}:{record_id}"
                for lead_id in self._search_tagged("leads", tag)
                for object_type in ACTIVITY_OBJECTS.values()
                for record_id in self._associated("leads", lead_id, object_type)
            ]
        return self._search_tagged(OBJECTS[kind], tag)

    # --- lead -> contract -------------------------------------------------------------
    def get_lead(self, lead_id: str) -> LeadView:
        record = self._read("leads", lead_id, ["hubspot_owner_id", "hs_pipeline_stage"])
        stage = str(record.properties.get("hs_pipeline_stage") or "")
        view = {
            "vendor_id": record.id,
            "owner_id": record.properties.get("hubspot_owner_id") or None,
            "status": self._lead_stage_labels.get(stage, stage) or "unknown",
            "created_at": record.created_at,
        }
        return self._parse(LeadView, view, "GET /crm/v3/objects/leads/{id}")

    def lead_tasks(self, lead_id: str) -> list[TaskView]:
        task_ids = self._associated("leads", lead_id, "tasks")
        path = "/crm/v3/objects/tasks/batch/read"
        tasks: list[TaskView] = []
        for chunk in _chunks(task_ids, BATCH_LIMIT):
            body = {"properties": TASK_PROPERTIES, "inputs": [{"id": task_id} for task_id in chunk]}
            for item in _results(self.http.json("POST", path, json=body), f"POST {path}"):
                tasks.append(self._task_view(self._parse(_Record, item, f"POST {path}"), lead_id))
        return tasks

    def _task_view(self, record: _Record, lead_id: str) -> TaskView:
        props = record.properties
        view = {
            "vendor_id": record.id,
            "lead_id": lead_id,
            "subject": props.get("hs_task_subject") or "",
            "due_at": props.get("hs_timestamp"),
            "automatic": props.get("hs_object_source") in self.options.automation_sources,
            "owner_id": props.get("hubspot_owner_id") or None,
        }
        return self._parse(TaskView, view, "tasks batch read")

    def complete_task(self, task_id: str, user_id: str | None) -> None:
        self._update("tasks", task_id, {"hs_task_status": "COMPLETED"})

    def convert_lead(self, lead_id: str, amount: int, expected_close: datetime | None = None) -> str:
        stage_ids = self._deal_stage_ids
        lead = self._read("leads", lead_id, ["hs_lead_name", self.options.tag_property])
        contacts = self._associated("leads", lead_id, "contacts")
        properties = {
            "dealname": lead.properties.get("hs_lead_name") or f"Lead {lead_id}",
            "amount": str(amount),
            "pipeline": self.options.deal_pipeline,
            "dealstage": stage_ids[DealStage.QUALIFICATION],
            self.options.tag_property: lead.properties.get(self.options.tag_property),
        }
        if expected_close is not None:
            properties["closedate"] = _iso(expected_close)
        deal_id = self._create("deals", properties, [_association(c, DEAL_TO_CONTACT) for c in contacts])
        self._associate("deals", deal_id, "leads", lead_id)
        self._update("leads", lead_id, {"hs_pipeline_stage": self.options.lead_qualified_stage})
        return deal_id

    def move_deal(self, deal_id: str, stage: DealStage) -> None:
        self._update("deals", deal_id, {"dealstage": self._deal_stage_ids[stage]})

    def get_deal(self, deal_id: str) -> DealView:
        record = self._read("deals", deal_id, ["dealstage", "amount"], propertiesWithHistory="dealstage")
        by_id = {stage_id: stage for stage, stage_id in self._deal_stage_ids.items()}
        versions = sorted(record.history.get("dealstage", []), key=lambda v: v.timestamp)
        history = [
            StageChange(stage=self._harness_stage(by_id, v.value, deal_id), at=v.timestamp) for v in versions
        ]
        leads = self._associated("deals", deal_id, "leads")
        view = {
            "vendor_id": record.id,
            "lead_id": leads[0] if leads else None,
            "stage": self._harness_stage(by_id, record.properties.get("dealstage"), deal_id),
            "amount": int(float(record.properties.get("amount") or 0)),
            "history": history,
        }
        return self._parse(DealView, view, "GET /crm/v3/objects/deals/{id}")

    @staticmethod
    def _harness_stage(by_id: dict[str, DealStage], stage_id: str | None, deal_id: str) -> DealStage:
        if stage_id not in by_id:
            raise VendorError(
                f"hubspot: deal {deal_id} is in stage '{stage_id}', which no harness stage maps to"
            )
        return by_id[stage_id]

    # --- ticket -> resolution -----------------------------------------------------------
    def create_ticket(self, ticket: Ticket, contact_id: str, opened_at: datetime | None = None) -> str:
        if opened_at is not None:
            raise self._lacks(Capability.BACKDATING)
        properties = self._tagged(
            ticket.tag,
            subject=ticket.subject,
            content=ticket.description,
            hs_pipeline=self.options.ticket_pipeline,
            hs_pipeline_stage=self._ticket_stage("OPEN"),
            hs_ticket_priority=PRIORITIES[ticket.priority],
        )
        return self._create("tickets", properties, [_association(contact_id, TICKET_TO_CONTACT)])

    def get_ticket(self, ticket_id: str) -> TicketView:
        record = self._read("tickets", ticket_id, TICKET_PROPERTIES)
        props = record.properties
        by_value = {value: priority for priority, value in PRIORITIES.items()}
        stage = str(props.get("hs_pipeline_stage") or "")
        labels = {s.id: s.label.lower() for s in self._ticket_stages.stages}
        view = {
            "vendor_id": record.id,
            "priority": by_value.get(str(props.get("hs_ticket_priority")), props.get("hs_ticket_priority")),
            "status": labels.get(stage, stage) or "unknown",
            "created_at": record.created_at,
            "first_response_at": props.get("first_agent_reply_date") or None,
            "closed_at": props.get("closed_date") or None,
            "first_response_breached": self._breached(
                props, "hs_time_to_first_response_sla_status", ticket_id
            ),
            "resolution_breached": self._breached(props, "hs_time_to_close_sla_status", ticket_id),
        }
        return self._parse(TicketView, view, "GET /crm/v3/objects/tickets/{id}")

    def _breached(self, props: dict[str, Any], name: str, ticket_id: str) -> bool:
        value = props.get(name)
        if value in (None, ""):
            raise NotConfigured(
                f"hubspot computed no {name} for ticket {ticket_id}: configure SLAs for the PoC's "
                "priorities (Service Hub Professional) to have breaches tracked"
            )
        if str(value) not in SLA_BREACHED:
            raise VendorError(f"hubspot: ticket {ticket_id}: unknown {name} value {value!r}")
        return SLA_BREACHED[str(value)]

    def reply_ticket(self, ticket_id: str, message: str, user_id: str | None = None) -> None:
        properties: dict[str, Any] = {
            "hs_timestamp": _iso(self.now()),
            "hs_email_direction": "EMAIL",
            "hs_email_status": "SENT",
            "hs_email_subject": "Re: your ticket",
            "hs_email_text": message,
        }
        if user_id:
            properties["hubspot_owner_id"] = user_id
        email_id = self._create("emails", properties)
        self._associate("emails", email_id, "tickets", ticket_id)

    def close_ticket(self, ticket_id: str) -> None:
        self._update("tickets", ticket_id, {"hs_pipeline_stage": self._ticket_stage("CLOSED")})

    # --- batch (BATCH_CREATE) -------------------------------------------------------------
    max_batch_size: ClassVar[int] = BATCH_LIMIT

    def create_batch(self, kind: RecordKind, items: list[BatchItem]) -> list[BatchResult]:
        """Batch create (``/crm/v3/objects/<type>/batch/create``), each input traced by its harness key
        (``objectWriteTraceId``, which HubSpot echoes in the input's result or error: it does not promise
        the results' order).  A lead takes two batch calls, its person (a contact) then the lead associated
        with it.  HubSpot cannot backdate: a lead given an arrival goes alone, where ``create_lead`` says
        so."""
        if kind is RecordKind.ACCOUNT:
            companies = [{"properties": self._account_properties(record_of(i, Account))} for i in items]
            return self._traced("companies", items, companies)
        if kind is RecordKind.CONTACT:
            return self._traced("contacts", items, [self._contact_input(i) for i in items])
        return partly_batched(
            items,
            lambda item: kind is RecordKind.LEAD and item.at is None,
            self._batch_leads,
            lambda rest: super(HubSpotAdapter, self).create_batch(kind, rest),
        )

    def _contact_input(self, item: BatchItem) -> dict[str, Any]:
        properties = self._contact_properties(record_of(item, Contact))
        association = _association(parent_of(item), CONTACT_TO_PRIMARY_COMPANY)
        return {"properties": properties, "associations": [association]}

    def _batch_leads(self, items: list[BatchItem]) -> list[BatchResult]:
        """Persons first; a lead whose person was not created (or is in doubt) is not sent, so it is not
        created and is sent again alone: its person may then exist twice (tagged, so cleanup finds it),
        never the lead."""
        leads = [record_of(item, Lead) for item in items]
        people = [{"properties": self._person_properties(lead)} for lead in leads]
        persons = self._traced("contacts", items, people)
        ready = [(i, le, p.vendor_id) for i, le, p in zip(items, leads, persons, strict=True) if p.vendor_id]
        inputs = [
            {
                "properties": self._tagged(lead.tag, hs_lead_name=lead.title),
                "associations": [_association(person_id, LEAD_TO_PRIMARY_CONTACT)],
            }
            for _, lead, person_id in ready
        ]
        sent = [item for item, _, _ in ready]
        created = dict(zip((i.record.key for i in sent), self._traced("leads", sent, inputs), strict=True))
        return [
            created.get(item.record.key) or BatchResult(None, f"its person was not created: {person.error}")
            for item, person in zip(items, persons, strict=True)
        ]

    def _traced(
        self, object_type: str, items: list[BatchItem], inputs: list[dict[str, Any]]
    ) -> list[BatchResult]:
        """One batch create call (none for no inputs); each input's result found by its
        ``objectWriteTraceId``.  An input neither in the results nor named by an error may have been
        created: its result says so."""
        if not inputs:
            return []
        path = f"/crm/v3/objects/{object_type}/batch/create"
        keys = [item.record.key for item in items]
        traced = [{**fields, "objectWriteTraceId": key} for key, fields in zip(keys, inputs, strict=True)]
        data = self.http.json("POST", path, json={"inputs": traced})
        created = {
            str(result.get("objectWriteTraceId")): str(result["id"])
            for result in _results(data, f"POST {path}")
            if result.get("objectWriteTraceId") and result.get("id")
        }
        refused = {
            trace: str(error.get("message") or "no message")
            for error in data.get("errors") or []
            if isinstance(error, dict)
            for trace in _traces(error)
        }
        return [
            BatchResult(created[key])
            if key in created
            else BatchResult(None, f"hubspot: POST {path}: {key}: {refused[key]}")
            if key in refused
            else BatchResult(None, f"hubspot: POST {path}: no result for {key}", maybe_applied=True)
            for key in keys
        ]


def _activity_properties(activity: Activity, at: datetime) -> dict[str, Any]:
    """The HubSpot properties of a logged call, meeting, e-mail or note."""
    when = _iso(at)
    if activity.kind is ActivityKind.CALL:
        return {
            "hs_timestamp": when,
            "hs_call_title": activity.subject,
            "hs_call_direction": "OUTBOUND",
            "hs_call_status": "COMPLETED",
        }
    if activity.kind is ActivityKind.MEETING:
        return {
            "hs_timestamp": when,
            "hs_meeting_title": activity.subject,
            "hs_meeting_start_time": when,
            "hs_meeting_end_time": when,
            "hs_meeting_outcome": "COMPLETED",
        }
    if activity.kind is ActivityKind.EMAIL:
        return {
            "hs_timestamp": when,
            "hs_email_direction": "EMAIL",
            "hs_email_status": "SENT",
            "hs_email_subject": activity.subject,
        }
    return {"hs_timestamp": when, "hs_note_body": activity.subject}
