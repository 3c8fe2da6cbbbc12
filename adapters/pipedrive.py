"""Adapter for Pipedrive (API v2 where it exists, v1 for leads, notes, users and fields), with an API token.

The token is read from the environment variable named by ``token_env`` and sent only in the
``x-api-token`` header, never as the ``api_token`` query parameter (which would end up in URLs and logs).

What the harness's records become in Pipedrive
----------------------------------------------
- account -> organization (v2; the city as its address); contact -> person (v2) in that organization.
  Pipedrive has no standard field for an organization's industry or phone: they are not written.
- lead -> a v1 lead linked to a person the adapter creates from the lead's person data, with the
  estimated value as the lead's value (in ``currency``).
- conversion -> ``POST /api/v2/leads/{id}/convert/deal`` (beta): Pipedrive moves the lead's activities
  and notes to the new deal and deletes the lead; the adapter polls the conversion status for the deal
  id, then sets the amount and expected close date.  Reading a converted lead asks Pipedrive's
  conversion status (kept a few days) whether the conversion completed, and the deal's lead link is the
  lead id that status reports: Pipedrive keeps no lead reference on the deal itself.
- deal stages: qualification / proposal / negotiation map to stages of one pipeline (names or ids in
  ``deal_stages``, resolved with the v2 stages API); won and lost are the deal's *status*, not stages.
  The stage history comes from the deal's changelog (``GET /v1/deals/{id}/changelog``: ``stage_id`` and
  ``status`` changes with their times), starting with the deal's creation.
- activity -> a v2 activity (call, meeting, email) marked done, or a v1 note (vendor id ``note:<id>``),
  linked to the lead, or to its deal once converted.
- The run tag goes in a custom text field named ``tag_field`` on persons, organizations and deals (leads
  use the deal fields); create it before the PoC (``check_connection`` says so).  Tagged records are
  found with the v2 search API on custom fields.

Capabilities, and why
---------------------
Declared: ``AUTO_ASSIGN`` and ``FOLLOWUP_TASKS``, as far as the API lets the harness observe them.
Pipedrive makes the API token's user the owner of what the token creates, so the sales reps exclude
that user: an owner among the reps proves an automation (re)assigned the lead.  Likewise a follow-up
task is *automatic* when another user than the token's created it: run the harness with a dedicated
integration user who owns no automations.  ``DEALS`` (conversion, stages, changelog history).
Not declared (``vendor_lacks`` cites the documentation of what the vendor lacks, a finding; the rest
is not measured): ``TICKETS``, ``SLA``, ``NPS_SURVEY`` (Pipedrive has no tickets), ``SILENCE_ALERT``
(deal "rotting" exists, but nothing for leads), ``REPORTS`` and
``FORECAST`` (Insights reports have no API; the v1 deal timeline and summary endpoints exist but cannot
be filtered to the run's records without a saved filter: not implemented), ``BATCH_CREATE`` (no batch
create endpoint), ``BACKDATING`` (leads have no writable creation time), ``CLOCK_CONTROL``,
``USER_ADMIN`` (adding users takes paid seats).  The default clock is ``wall``.

Pagination: v2 lists and v1 changelogs follow ``additional_data.next_cursor``; v1 lists (fields,
notes) use ``start``/``limit`` and ``additional_data.pagination.next_start``.  Rate limits:
``x-ratelimit-remaining`` at 0 pauses for ``x-ratelimit-reset`` seconds; ``Retry-After`` on a 429 is
honoured by ``VendorHTTP``.

Documentation used (pages found with the search tool):
- API v2 overview: https://pipedrive.readme.io/docs/pipedrive-api-v2 and reference
  https://developers.pipedrive.com/docs/api/v1
- authentication (``x-api-token`` header): https://pipedrive.readme.io/docs/core-api-concepts-authentication
- pagination: https://pipedrive.readme.io/docs/core-api-concepts-pagination
- rate limits and headers: https://pipedrive.readme.io/docs/core-api-concepts-rate-limiting
- leads: https://developers.pipedrive.com/changelog/post/introducing-leads-api
- cursor endpoints: https://developers.pipedrive.com/changelog/post/introducing-2-new-cursor-paginated-codegetcode-endpoints-for-activities-and-deals-api
- payload shapes (v2 DealItem, ActivityItem, AddPersonRequest, convertLeadToDeal and its status,
  deal changelog): the OpenAPI-generated docs of public Pipedrive clients (pipedrive/client-nodejs,
  Himmelschmidt/pipedrive) found with the search tool's code corpus.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, Field

from poc_harness.config import secret_from_env
from poc_harness.contract.adapter import AdapterOptions, Capability, RecordKind
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
)
from poc_harness.errors import ConfigError, VendorError
from poc_harness.transport.answers import parse_answer
from poc_harness.transport.http import VendorHTTP

V = TypeVar("V", bound=BaseModel)

V2 = "/api/v2"
PAGE = 100
DEFAULT_RESET_SECONDS = 2.0
STATUS_STAGES = {"won": DealStage.WON, "lost": DealStage.LOST}
FIELD_LISTS = {"persons": "personFields", "organizations": "organizationFields", "deals": "dealFields"}
SEARCHABLE = {
    RecordKind.ACCOUNT: "organizations",
    RecordKind.CONTACT: "persons",
    RecordKind.LEAD: "leads",
    RecordKind.DEAL: "deals",
}
V2_COLLECTIONS = {RecordKind.ACCOUNT: "organizations", RecordKind.CONTACT: "persons"}
CONVERSION_DONE = "completed"
CONVERSION_FAILED = frozenset({"failed", "rejected"})


class PipedriveOptions(AdapterOptions):
    token_env: str = Field(description="environment variable holding the API token")
    base_url: str = "https://api.pipedrive.com"
    company_domain: str | None = Field(default=None, description="use https://<domain>.pipedrive.com")
    timeout: float = 30.0
    tag_field: str = Field(default="PoC tag", description="custom text field (persons, orgs, deals)")
    currency: str = "USD"
    pipeline_id: int | None = Field(default=None, description="deal pipeline; default: the first one")
    deal_stages: dict[DealStage, str] = Field(
        default_factory=lambda: {
            DealStage.QUALIFICATION: "Qualified",
            DealStage.PROPOSAL: "Proposal Made",
            DealStage.NEGOTIATION: "Negotiations Started",
        },
        description="open harness stages -> stage name or id; won and lost are deal statuses",
    )
    rep_user_ids: list[int] | None = Field(default=None, description="only these users are sales reps")
    conversion_poll_seconds: float = 1.0
    conversion_poll_attempts: int = 30


@dataclass(frozen=True)
class _Conversion:
    conversion_id: str
    deal_id: str
    lead: LeadView


def rate_limit_pause(response: httpx.Response) -> float | None:
    """Seconds to wait after ``response``: until the window resets when Pipedrive says none is left."""
    try:
        remaining = int(response.headers["x-ratelimit-remaining"])
    except (KeyError, ValueError):
        return None
    if remaining > 0:
        return None
    try:
        return max(float(response.headers["x-ratelimit-reset"]), 0.0)
    except (KeyError, ValueError):
        return DEFAULT_RESET_SECONDS


def _utc(value: Any) -> datetime | None:
    """Pipedrive times: v2 RFC 3339 (``...Z``), v1 ``YYYY-MM-DD HH:MM:SS`` in UTC."""
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace(" ", "T"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _primary(value: str) -> list[dict[str, Any]]:
    return [{"value": value, "primary": True, "label": "work"}]


NO_TICKETS = (
    "Pipedrive is a sales CRM (https://pipedrive.readme.io/docs/core-api-concepts-about-pipedrive-api): "
    "its API (https://developers.pipedrive.com/docs/api/v1/openapi.yaml) has deals, leads, persons, "
    "organizations, activities, notes and call logs, no ticket or case"
)


class PipedriveAdapter(HTTPAdapter[PipedriveOptions]):
    name: ClassVar[str] = "pipedrive"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.AUTO_ASSIGN, Capability.FOLLOWUP_TASKS, Capability.DEALS}
    )
    vendor_lacks: ClassVar[Mapping[Capability, str]] = {
        Capability.TICKETS: NO_TICKETS,
        Capability.SLA: f"no tickets to keep an SLA on: {NO_TICKETS}",
        Capability.NPS_SURVEY: f"no ticket to survey on closing: {NO_TICKETS}",
        Capability.TICKET_REOPEN: f"no ticket to reopen: {NO_TICKETS}",
        Capability.TICKET_NOTES: f"no ticket to note: {NO_TICKETS}",
    }
    """Not implemented by the adapter (not measured): webhooks and call logs (the API has both), silence
    alerts, reports, forecast, backdating, batch create, users, RBAC, the audit log, SSO, export."""
    observes_task_owner: ClassVar[bool] = True

    def __init__(self, options: PipedriveOptions) -> None:
        super().__init__(options)
        base_url = (
            f"https://{options.company_domain}.pipedrive.com" if options.company_domain else options.base_url
        )
        self.v1 = "/v1" if urlsplit(base_url).hostname == "api.pipedrive.com" else "/api/v1"
        token = secret_from_env(options.token_env, "the Pipedrive API token").get_secret_value()
        self.http = VendorHTTP(
            "pipedrive",
            base_url,
            headers={"x-api-token": token},
            timeout=options.timeout,
            pause_after=rate_limit_pause,
            credential=f"the API token in {options.token_env}",
        )
        self._sleep: Callable[[float], None] = time.sleep
        self._conversions: dict[str, _Conversion] = {}

    # --- helpers ----------------------------------------------------------------------
    def _envelope(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        answer = self.http.json(method, path, **kwargs)
        if not isinstance(answer, dict) or answer.get("success") is not True:  # every answer says success
            raise VendorError(f"pipedrive: {method} {path}: answer is not a successful envelope")
        return answer

    def _data(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._envelope(method, path, **kwargs).get("data")

    def _parse(self, model: type[V], data: Any, where: str) -> V:
        return parse_answer(model, data, "pipedrive", where)

    def _id(self, method: str, path: str, body: dict[str, Any]) -> str:
        data = self._data(method, path, json=body)
        if not isinstance(data, dict) or data.get("id") is None:
            raise VendorError(f"pipedrive: {method} {path}: no id in the answer")
        return str(data["id"])

    def _cursor_pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[Any]:
        """Items of a cursor-paginated list (v2 lists, v1 changelogs)."""
        cursor: str | None = None
        while True:
            query = {**(params or {}), "limit": PAGE, **({"cursor": cursor} if cursor else {})}
            answer = self._envelope("GET", path, params=query)
            data = answer.get("data") or []
            yield from data.get("items", []) if isinstance(data, dict) else data
            cursor = (answer.get("additional_data") or {}).get("next_cursor")
            if not cursor:
                return

    def _offset_pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[Any]:
        """Items of a v1 list paginated with ``start`` and ``limit``."""
        start = 0
        while True:
            answer = self._envelope("GET", path, params={**(params or {}), "start": start, "limit": PAGE})
            yield from answer.get("data") or []
            pagination = (answer.get("additional_data") or {}).get("pagination") or {}
            if not pagination.get("more_items_in_collection"):
                return
            start = int(pagination.get("next_start", start + PAGE))

    def _delete(self, path: str) -> bool:
        try:
            self.http.request("DELETE", path)
        except VendorError as exc:
            if "HTTP 404" in str(exc) or "HTTP 410" in str(exc):
                return False
            raise
        return True

    @cached_property
    def _me(self) -> str:
        data = self._data("GET", f"{self.v1}/users/me")
        return str(data["id"])

    @cached_property
    def _tag_keys(self) -> dict[str, str]:
        """The tag field's key in the person, organization and deal fields (leads use the deal fields)."""
        keys: dict[str, str] = {}
        for entity, listing in FIELD_LISTS.items():
            match = next(
                (
                    f
                    for f in self._offset_pages(f"{self.v1}/{listing}")
                    if f.get("name") == self.options.tag_field
                ),
                None,
            )
            if match is None:
                raise ConfigError(
                    f"pipedrive: no custom field named '{self.options.tag_field}' in {listing}: "
                    "create a text field of that name for persons, organizations and deals"
                )
            keys[entity] = str(match["key"])
        keys["leads"] = keys["deals"]
        return keys

    def _custom(self, entity: str, tag: str) -> dict[str, Any]:
        return {"custom_fields": {self._tag_keys[entity]: tag}}

    @cached_property
    def _stage_ids(self) -> dict[DealStage, int]:
        pipeline = self.options.pipeline_id
        if pipeline is None:
            pipelines = sorted(self._cursor_pages(f"{V2}/pipelines"), key=lambda p: p.get("order_nr", 0))
            if not pipelines:
                raise ConfigError("pipedrive: the company has no deal pipeline: create one")
            pipeline = int(pipelines[0]["id"])
        stages = list(self._cursor_pages(f"{V2}/stages", {"pipeline_id": pipeline}))
        found: dict[DealStage, int] = {}
        for harness_stage, wanted in self.options.deal_stages.items():
            match = next(
                (s for s in stages if wanted.lower() in (str(s["id"]), str(s.get("name", "")).lower())), None
            )
            if match is None:
                known = ", ".join(f"{s['id']} ({s.get('name')})" for s in stages)
                raise ConfigError(
                    f"pipedrive: deal_stages.{harness_stage.value} = '{wanted}' is not a stage of pipeline "
                    f"{pipeline}: choose one of {known}"
                )
            found[harness_stage] = int(match["id"])
        return found

    def _harness_stage(self, stage_id: Any, deal_id: str) -> DealStage:
        by_id = {stage_id: stage for stage, stage_id in self._stage_ids.items()}
        try:
            return by_id[int(stage_id)]
        except (KeyError, TypeError, ValueError):
            raise VendorError(
                f"pipedrive: deal {deal_id} is in stage {stage_id!r}, which no harness stage maps to"
            ) from None

    def _link(self, lead_id: str) -> dict[str, Any]:
        """Where a lead's activities live: the lead, or its deal once this adapter converted it."""
        conversion = self._conversions.get(lead_id)
        return {"deal_id": int(conversion.deal_id)} if conversion else {"lead_id": lead_id}

    # --- contract ---------------------------------------------------------------------
    def check_connection(self) -> str:
        me = self._data("GET", f"{self.v1}/users/me")
        self._tag_keys  # noqa: B018 - fails with a ConfigError naming the missing field
        return f"Pipedrive company {me.get('company_name')!r} as user {me.get('id')}, tag field present"

    def now(self) -> datetime:
        return datetime.now(UTC)

    def list_sales_reps(self) -> list[str]:
        users = self._data("GET", f"{self.v1}/users") or []
        wanted = set(self.options.rep_user_ids or [])
        return [
            str(user["id"])
            for user in users
            if user.get("active_flag", True)
            and str(user["id"]) != self._me
            and (not wanted or int(user["id"]) in wanted)
        ]

    def create_account(self, account: Account) -> str:
        body = {
            "name": account.name,
            "address": {"value": account.city},
            **self._custom("organizations", account.tag),
        }
        return self._id("POST", f"{V2}/organizations", body)

    def _person(self, name: str, email: str, phone: str, tag: str, org_id: str | None = None) -> str:
        body: dict[str, Any] = {
            "name": name,
            "emails": _primary(email),
            "phones": _primary(phone),
            **self._custom("persons", tag),
        }
        if org_id is not None:
            body["org_id"] = int(org_id)
        return self._id("POST", f"{V2}/persons", body)

    def create_contact(self, contact: Contact, account_id: str) -> str:
        name = f"{contact.first_name} {contact.last_name}"
        return self._person(name, contact.email, contact.phone, contact.tag, account_id)

    def create_lead(self, lead: Lead, arrived_at: datetime | None = None) -> str:
        if arrived_at is not None:
            raise self._lacks(Capability.BACKDATING)
        person_id = self._person(lead.contact_name, lead.email, lead.phone, lead.tag)
        body = {
            "title": lead.title,
            "person_id": int(person_id),
            "value": {"amount": lead.estimated_value, "currency": self.options.currency},
            self._tag_keys["leads"]: lead.tag,
        }
        return self._id("POST", f"{self.v1}/leads", body)

    def log_activity(self, lead_id: str, activity: Activity) -> str:
        link = self._link(lead_id)
        if activity.kind is ActivityKind.NOTE:
            return "note:" + self._id("POST", f"{self.v1}/notes", {"content": activity.subject, **link})
        at = (activity.at or self.now()).astimezone(UTC)
        body: dict[str, Any] = {
            "subject": activity.subject,
            "type": activity.kind.value,
            "done": True,
            "due_date": at.strftime("%Y-%m-%d"),
            "due_time": at.strftime("%H:%M"),
            **link,
        }
        if activity.user_id:
            body["owner_id"] = int(activity.user_id)
        return self._id("POST", f"{V2}/activities", body)

    def delete(self, kind: RecordKind, vendor_id: str) -> bool:
        if kind is RecordKind.REP:
            return False  # reps are the company's existing users: never created, never deleted
        if kind is RecordKind.TICKET:
            raise self._lacks(Capability.TICKETS)
        if kind is RecordKind.ACTIVITY:
            note, _, note_id = vendor_id.partition(":")
            return self._delete(
                f"{self.v1}/notes/{note_id}" if note == "note" else f"{V2}/activities/{vendor_id}"
            )
        if kind is RecordKind.LEAD:
            return self._delete_with_person(f"{self.v1}/leads/{vendor_id}")
        if kind is RecordKind.DEAL:
            return self._delete_with_person(f"{V2}/deals/{vendor_id}")
        return self._delete(f"{V2}/{V2_COLLECTIONS[kind]}/{vendor_id}")

    def _delete_with_person(self, path: str) -> bool:
        """A lead or deal, and the person this adapter created behind its lead (tagged, so known ours)."""
        try:
            record = self._data("GET", path) or {}
        except VendorError as exc:
            if "HTTP 404" in str(exc) or "HTTP 410" in str(exc):
                return False
            raise
        existed = self._delete(path)
        person_id = record.get("person_id")
        if person_id and self._is_tagged_person(str(person_id)):
            self._delete(f"{V2}/persons/{person_id}")
        return existed

    def _is_tagged_person(self, person_id: str) -> bool:
        try:
            person = self._data("GET", f"{V2}/persons/{person_id}") or {}
        except VendorError as exc:
            if "HTTP 404" in str(exc) or "HTTP 410" in str(exc):
                return False
            raise
        return bool((person.get("custom_fields") or {}).get(self._tag_keys["persons"]))

    def find_tagged(self, kind: RecordKind, tag: str) -> list[str]:
        if kind in (RecordKind.REP, RecordKind.TICKET):
            return []
        if kind is RecordKind.ACTIVITY:
            links: list[dict[str, Any]] = [{"lead_id": lead} for lead in self._search("leads", tag)]
            links += [{"deal_id": int(deal)} for deal in self._search("deals", tag)]
            return [found for link in links for found in self._activities_and_notes(link)]
        return self._search(SEARCHABLE[kind], tag)

    def _search(self, entity: str, tag: str) -> list[str]:
        params = {"term": tag, "fields": "custom_fields", "exact_match": "true"}
        return [str(hit["item"]["id"]) for hit in self._cursor_pages(f"{V2}/{entity}/search", params)]

    def _activities_and_notes(self, link: dict[str, Any]) -> list[str]:
        activities = [str(a["id"]) for a in self._cursor_pages(f"{V2}/activities", link)]
        notes = [f"note:{n['id']}" for n in self._offset_pages(f"{self.v1}/notes", link)]
        return activities + notes

    # --- lead -> contract -------------------------------------------------------------
    def get_lead(self, lead_id: str) -> LeadView:
        conversion = self._conversions.get(lead_id)
        if (
            conversion is not None
            and self._conversion_status(lead_id, conversion.conversion_id)[0] == CONVERSION_DONE
        ):
            return conversion.lead.model_copy(update={"status": "converted"})
        return self._lead_view(self._data("GET", f"{self.v1}/leads/{lead_id}") or {})

    def _lead_view(self, data: dict[str, Any]) -> LeadView:
        view = {
            "vendor_id": str(data.get("id")),
            "owner_id": str(data["owner_id"]) if data.get("owner_id") else None,
            "status": "archived" if data.get("is_archived") else "open",
            "created_at": _utc(data.get("add_time")),
        }
        return self._parse(LeadView, view, f"GET {self.v1}/leads/{{id}}")

    def lead_tasks(self, lead_id: str) -> list[TaskView]:
        return [
            self._task_view(item, lead_id)
            for item in self._cursor_pages(f"{V2}/activities", self._link(lead_id))
        ]

    def _task_view(self, item: dict[str, Any], lead_id: str) -> TaskView:
        due = f"{item.get('due_date')}T{item.get('due_time') or '00:00'}"
        view = {
            "vendor_id": str(item.get("id")),
            "lead_id": lead_id,
            "subject": item.get("subject") or "",
            "due_at": _utc(due) if item.get("due_date") else None,
            "automatic": str(item.get("creator_user_id")) != self._me,
            "owner_id": str(item["owner_id"]) if item.get("owner_id") else None,
        }
        return self._parse(TaskView, view, f"GET {V2}/activities")

    def complete_task(self, task_id: str, user_id: str | None) -> None:
        self._data("PATCH", f"{V2}/activities/{task_id}", json={"done": True})

    def convert_lead(self, lead_id: str, amount: int, expected_close: datetime | None = None) -> str:
        data = self._data("GET", f"{self.v1}/leads/{lead_id}") or {}
        lead, tag = self._lead_view(data), data.get(self._tag_keys["leads"])
        body = {"stage_id": self._stage_ids[DealStage.QUALIFICATION]}
        started = self._data("POST", f"{V2}/leads/{lead_id}/convert/deal", json=body) or {}
        conversion_id = str(started.get("conversion_id") or "")
        if not conversion_id:
            raise VendorError(
                f"pipedrive: POST {V2}/leads/{{id}}/convert/deal: no conversion_id in the answer"
            )
        deal_id = self._await_conversion(lead_id, conversion_id)
        update: dict[str, Any] = {"value": amount, "currency": self.options.currency}
        if expected_close is not None:
            update["expected_close_date"] = expected_close.astimezone(UTC).strftime("%Y-%m-%d")
        if tag:
            update.update(self._custom("deals", str(tag)))
        self._data("PATCH", f"{V2}/deals/{deal_id}", json=update)
        self._conversions[lead_id] = _Conversion(conversion_id, deal_id, lead)
        return deal_id

    def _conversion_status(self, lead_id: str, conversion_id: str) -> tuple[str, dict[str, Any]]:
        data = self._data("GET", f"{V2}/leads/{lead_id}/convert/status/{conversion_id}") or {}
        return str(data.get("status")), data

    def _await_conversion(self, lead_id: str, conversion_id: str) -> str:
        for attempt in range(self.options.conversion_poll_attempts):
            status, data = self._conversion_status(lead_id, conversion_id)
            if status == CONVERSION_DONE and data.get("deal_id"):
                return str(data["deal_id"])
            if status in CONVERSION_FAILED:
                raise VendorError(f"pipedrive: converting lead {lead_id} to a deal {status}")
            if attempt + 1 < self.options.conversion_poll_attempts:
                self._sleep(self.options.conversion_poll_seconds)
        raise VendorError(
            f"pipedrive: converting lead {lead_id} to a deal not completed after "
            f"{self.options.conversion_poll_attempts} status checks"
        )

    def move_deal(self, deal_id: str, stage: DealStage) -> None:
        if stage in (DealStage.WON, DealStage.LOST):
            body: dict[str, Any] = {"status": stage.value}
        else:
            body = {"stage_id": self._stage_ids[stage]}
        self._data("PATCH", f"{V2}/deals/{deal_id}", json=body)

    def get_deal(self, deal_id: str) -> DealView:
        deal = self._data("GET", f"{V2}/deals/{deal_id}") or {}
        changes = sorted(
            (
                c
                for c in self._cursor_pages(f"{self.v1}/deals/{deal_id}/changelog")
                if c.get("field_key") in ("stage_id", "status")
            ),
            key=lambda c: _utc(c.get("time")) or datetime.min.replace(tzinfo=UTC),
        )
        first_stage = next(
            (c["old_value"] for c in changes if c["field_key"] == "stage_id" and c.get("old_value")), None
        )
        history = [
            StageChange(
                stage=self._harness_stage(first_stage or deal.get("stage_id"), deal_id),
                at=_utc(deal.get("add_time")),
            )
        ]
        for change in changes:
            moved = self._changed_stage(change, deal_id)
            if moved is not None:
                history.append(StageChange(stage=moved, at=_utc(change.get("time"))))
        status = str(deal.get("status") or "open")
        view = {
            "vendor_id": str(deal.get("id")),
            "lead_id": self._lead_of(deal_id),
            "stage": STATUS_STAGES.get(status) or self._harness_stage(deal.get("stage_id"), deal_id),
            "amount": int(float(deal.get("value") or 0)),
            "history": history,
        }
        return self._parse(DealView, view, f"GET {V2}/deals/{{id}}")

    def _changed_stage(self, change: dict[str, Any], deal_id: str) -> DealStage | None:
        if change["field_key"] == "stage_id":
            return self._harness_stage(change.get("new_value"), deal_id)
        return STATUS_STAGES.get(str(change.get("new_value")))  # "open" again is no stage move

    def _lead_of(self, deal_id: str) -> str | None:
        """The lead a deal came from, as Pipedrive's conversion status reports it (conversions made here)."""
        for lead_id, conversion in self._conversions.items():
            if conversion.deal_id == deal_id:
                status, data = self._conversion_status(lead_id, conversion.conversion_id)
                return str(data.get("lead_id") or lead_id) if status == CONVERSION_DONE else None
        return None
