"""Adapter for Odoo 19+ (CRM, optionally Helpdesk) through the external JSON-2 API.

The API
-------
Every call is ``POST <base_url>/json/2/<model>/<method>`` with a JSON object of named arguments (``ids``,
``context`` and the method's parameters), ``Authorization: bearer <api key>`` (the key is read from the
environment variable named in ``api_key_env`` and registered for redaction) and, where one server hosts
several databases, ``X-Odoo-Database: <database>``.  Success is ``200`` with the method's return value;
an error is ``4xx``/``5xx`` with ``{"name", "message", "arguments", "context", "debug"}``, reported as one
line ``<exception name>: <message>`` (the traceback in ``debug`` is left out).  Each call is its own
transaction.  Lists are read with ``search_read`` and ``limit``/``offset`` pages of ``page_size``.  Use a
dedicated bot user with Sales (and Helpdesk) rights; reading the stage history needs the
Administration / Settings right (``mail.tracking.value`` is restricted to it).

What the harness's records become in Odoo
------------------------------------------
- account -> ``res.partner`` company (``is_company``); contact -> ``res.partner`` person with ``parent_id``.
- lead -> ``crm.lead`` of ``type`` lead, created with ``user_id`` false (Odoo would otherwise make the
  bot user the salesperson) and the ``sales_team_id`` team, so an owner on it was set by Odoo's lead
  assignment rules (``AUTO_ASSIGN`` is observed, never performed).  Reps are the members of the sales
  team(s) (``crm.team.member``).  ``create`` takes a list of value dicts, so ``create_leads`` is one call.
- deal -> the same ``crm.lead`` record after ``convert_opportunity`` (Odoo converts in place: the deal id
  is the lead id); open stages are ``crm.stage`` records named in ``stage_names``, won is
  ``action_set_won`` (a stage with ``is_won``), lost is ``action_set_lost`` (archived, probability 0).
  The stage history is Odoo's field tracking (``mail.tracking.value`` on ``stage_id`` and ``active``).
- activity -> a ``mail.activity`` of type call / meeting / e-mail / to-do on the lead, marked done at once
  (``action_feedback``); the vendor id is the chatter message that records it.  Follow-ups are the open
  ``mail.activity`` records on the lead: ``automated`` says whether Odoo's automation created them, and
  ``date_deadline`` is a *date* (midnight in ``timezone``), so a T+2 d check with a 1 h tolerance fails
  unless the automation's day boundary happens to match: a real finding about Odoo's granularity.
- ticket (only with ``helpdesk = true``: Helpdesk is an Enterprise app) -> ``helpdesk.ticket`` with
  ``partner_id`` and ``priority`` 0-3.  Odoo's SLA policies target *reaching a stage*; the PoC's two
  targets are therefore two policies per priority: one reaching ``answered_stage`` (first response) and
  one reaching ``closed_stage`` (resolution).  A reply posts a comment to the customer and moves the ticket
  to ``answered_stage``; closing moves it to ``closed_stage``.  Breach flags are those policies'
  ``helpdesk.sla.status`` (``failed``), the first-response time their ``reached_datetime``.  A ticket no
  policy applies to (the buyer has not set them up yet), or a model whose app is not installed, raises
  ``NotConfigured``: pending with the setup step, never the vendor's finding.
- Every record carries ``poc-harness <tag> <key>`` in its HTML notes (``comment`` / ``description``), which
  ``find_tagged`` searches with ``ilike``; activities through the subject the harness writes.

Capabilities, and why
---------------------
Declared: ``AUTO_ASSIGN``, ``FOLLOWUP_TASKS``, ``DEALS``, ``BATCH_CREATE``; with ``helpdesk = true`` also
``TICKETS`` and ``SLA`` (the compliance figure is counted by Odoo: ``search_count`` of closed tagged
tickets, and of those without a failed SLA).  Not declared (``vendor_lacks`` cites the
documentation of what the vendor lacks, a finding; the rest is not measured):
``SILENCE_ALERT`` (no such record in Odoo), ``NPS_SURVEY`` (Helpdesk ratings are 1-5 smileys answered
from a customer link, not a 0-10 survey the API can answer), ``REPORTS`` and ``FORECAST`` (Odoo's
reporting views are not exposed as figures; a median cannot be aggregated), ``BACKDATING``
(``create_date`` is set by the ORM and cannot be written), ``USER_ADMIN``, ``CLOCK_CONTROL``,
``WEBHOOKS``, ``AUDIT_LOG``, ``RBAC``.  The default clock is ``wall``.

Documentation used (pages found with the search tool):
- the JSON-2 API (request, headers, error body, API keys, transactions, migration from XML-RPC):
  https://www.odoo.com/documentation/19.0/developer/reference/external_api.html
  (source: https://github.com/odoo/documentation, ``content/developer/reference/external_api.rst``)
- ORM methods (``create`` with ``vals_list``, ``search_read``, ``search_count``, ``write``, ``unlink``):
  https://www.odoo.com/documentation/19.0/developer/reference/backend/orm.html
- ``crm.lead`` fields, ``convert_opportunity``, ``action_set_won`` / ``action_set_lost`` and
  ``mail.activity`` (``automated``, ``date_deadline``, ``action_feedback``): the Odoo source
  (https://github.com/odoo/odoo, ``addons/crm/models/crm_lead.py``, ``addons/mail/models/mail_activity.py``)
- ``helpdesk.ticket`` and ``helpdesk.sla.status`` (``status`` failed / reached / ongoing,
  ``reached_datetime``, ``sla_fail``): public copies of the Helpdesk module found with the code corpus.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo

import httpx
from pydantic import Field

from poc_harness.config import secret_from_env
from poc_harness.contract.adapter import AdapterOptions, Capability, RecordKind
from poc_harness.contract.adapter_options import time_zone_option
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
    SlaComplianceFigure,
    StageChange,
    TaskView,
    Ticket,
    TicketPriority,
    TicketView,
)
from poc_harness.errors import ConfigError, NotConfigured, VendorError
from poc_harness.transport.answers import dedupe_history, reading
from poc_harness.transport.http import VendorHTTP

OpenStage = Literal["qualification", "proposal", "negotiation"]
ODOO_TIME = "%Y-%m-%d %H:%M:%S"
HELPDESK_CAPABILITIES = frozenset({Capability.TICKETS, Capability.SLA})
ACTIVITY_TYPES = {
    ActivityKind.CALL: "mail_activity_data_call",
    ActivityKind.MEETING: "mail_activity_data_meeting",
    ActivityKind.EMAIL: "mail_activity_data_email",
    ActivityKind.NOTE: "mail_activity_data_todo",
}
PRIORITIES = {
    TicketPriority.LOW: "0",
    TicketPriority.NORMAL: "1",
    TicketPriority.HIGH: "2",
    TicketPriority.URGENT: "3",
}
PRIORITY_OF = {code: priority for priority, code in PRIORITIES.items()}
MODELS = {
    RecordKind.ACCOUNT: "res.partner",
    RecordKind.CONTACT: "res.partner",
    RecordKind.LEAD: "crm.lead",
    RecordKind.DEAL: "crm.lead",
    RecordKind.TICKET: "helpdesk.ticket",
    RecordKind.ACTIVITY: "mail.message",
}
DEFAULT_STAGE_NAMES: dict[OpenStage, str] = {
    "qualification": "Qualified",
    "proposal": "Proposition",
    "negotiation": "Negotiation",
}


class OdooOptions(AdapterOptions):
    base_url: str = Field(description="the Odoo server, e.g. https://mycompany.odoo.com")
    api_key_env: str
    database: str | None = Field(default=None, description="sent as X-Odoo-Database when set")
    timeout: float = 30.0
    page_size: int = Field(default=200, ge=1, le=5000)
    sales_team_id: int | None = Field(
        default=None, description="crm.team of the PoC: its members are the reps"
    )
    stage_names: dict[OpenStage, str] = Field(default_factory=lambda: dict(DEFAULT_STAGE_NAMES))
    helpdesk: bool = Field(default=False, description="Helpdesk (Enterprise) installed: tickets and SLA")
    helpdesk_team_id: int | None = None
    answered_stage: str = "In Progress"
    closed_stage: str = "Solved"
    timezone: str = "UTC"

    _known_zone = time_zone_option("timezone")


def error_detail(response: httpx.Response) -> str:
    """``<exception name>: <message>`` from a JSON-2 error body (without the ``debug`` traceback)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "name" in body:
        return f"{body['name']}: {body.get('message')}"
    return response.text


def odoo_time(value: str) -> datetime:
    """An Odoo datetime (UTC, no zone in the text)."""
    return datetime.strptime(value[:19], ODOO_TIME).replace(tzinfo=UTC)


def odoo_literal(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(ODOO_TIME)


def tag_html(tag: str, key: str, *lines: str) -> str:
    return "".join(f"<p>{html.escape(line)}</p>" for line in (*lines, f"poc-harness {tag} {key}"))


def _tagged_domain(kind: RecordKind, tag: str) -> list[Any]:
    """The search domain of the records of ``kind`` carrying ``tag`` in their notes."""
    domains: dict[RecordKind, list[Any]] = {
        RecordKind.ACCOUNT: [("is_company", "=", True), ("comment", "ilike", tag)],
        RecordKind.CONTACT: [("is_company", "=", False), ("comment", "ilike", tag)],
        RecordKind.LEAD: [("description", "ilike", tag), ("active", "in", [True, False])],
        RecordKind.DEAL: [
            ("description", "ilike", tag),
            ("type", "=", "opportunity"),
            ("active", "in", [True, False]),
        ],
        RecordKind.TICKET: [("description", "ilike", tag)],
        RecordKind.ACTIVITY: [("model", "=", "crm.lead"), ("body", "ilike", tag)],
    }
    return domains[kind]


def _account_vals(account: Account) -> dict[str, Any]:
    return {
        "name": account.name,
        "is_company": True,
        "phone": account.phone,
        "city": account.city,
        "comment": tag_html(account.tag, account.key, account.industry),
    }


def _contact_vals(contact: Contact, account_id: str) -> dict[str, Any]:
    return {
        "name": f"{contact.first_name} {contact.last_name}",
        "is_company": False,
        "parent_id": int(account_id),
        "email": contact.email,
        "phone": contact.phone,
        "comment": tag_html(contact.tag, contact.key),
    }


def _many2one_id(value: Any) -> int | None:
    """Odoo answers a many2one as ``[id, "display name"]`` or ``false``."""
    return int(value[0]) if value else None


def _str_id(value: int | None) -> str | None:
    return str(value) if value else None


class OdooAdapter(HTTPAdapter[OdooOptions]):
    name: ClassVar[str] = "odoo"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.AUTO_ASSIGN, Capability.FOLLOWUP_TASKS, Capability.DEALS, Capability.BATCH_CREATE}
    )
    conditional_capabilities: ClassVar[frozenset[Capability]] = HELPDESK_CAPABILITIES  # helpdesk = true
    vendor_lacks: ClassVar[Mapping[Capability, str]] = {
        Capability.BACKDATING: "create_date is an automatic field the ORM sets itself "
        "(https://www.odoo.com/documentation/19.0/developer/reference/backend/orm.html, automatic fields)",
    }
    """Without ``helpdesk = true`` tickets and SLA are not implemented (the instance may have another
    helpdesk app): not measured, like everything else the adapter does not implement."""
    observes_task_owner: ClassVar[bool] = True

    def __init__(self, options: OdooOptions) -> None:
        super().__init__(options)
        if options.helpdesk:  # an instance's honest offer: Helpdesk is an Enterprise app, present or not
            self.capabilities = type(self).capabilities | HELPDESK_CAPABILITIES  # type: ignore[misc]
        key = secret_from_env(options.api_key_env, "the Odoo API key of the bot user").get_secret_value()
        headers = {"Authorization": f"bearer {key}", "User-Agent": "poc-harness"}
        if options.database:
            headers["X-Odoo-Database"] = options.database
        self.http = VendorHTTP(
            "odoo",
            options.base_url.rstrip("/"),
            headers=headers,
            timeout=options.timeout,
            error_detail=error_detail,
            credential=f"the API key in {options.api_key_env}",
        )
        self.zone = ZoneInfo(options.timezone)
        self._cache: dict[str, Any] = {}

    # --- JSON-2 calls ------------------------------------------------------------------------------
    def _call(self, model: str, method: str, **params: Any) -> Any:
        return self.http.json("POST", f"/json/2/{model}/{method}", json=params)

    def _search_read(self, model: str, domain: list[Any], fields: list[str]) -> list[dict[str, Any]]:
        """Every matching record, ``page_size`` at a time (``limit``/``offset``, ordered by id)."""
        rows: list[dict[str, Any]] = []
        seen: set[Any] = set()
        size = self.options.page_size
        while True:
            page = self._call(
                model, "search_read", domain=domain, fields=fields, limit=size, offset=len(rows), order="id"
            )
            if not isinstance(page, list):
                raise VendorError(f"odoo: {model}.search_read answered {type(page).__name__}, not a list")
            fresh = {row.get("id") for row in page} - seen
            if page and not fresh:
                raise VendorError(f"odoo: {model}.search_read paging does not advance at offset {len(rows)}")
            seen |= fresh
            rows += page
            if len(page) < size:
                return rows

    def _create_many(self, model: str, vals_list: list[dict[str, Any]]) -> list[str]:
        ids = self._call(model, "create", vals_list=vals_list)
        with reading("odoo", f"{model}.create"):
            created = [str(int(record_id)) for record_id in ids]
        if len(created) != len(vals_list):
            raise VendorError(
                f"odoo: {model}.create answered {len(created)} ids for {len(vals_list)} records"
            )
        return created

    def _create(self, model: str, vals: dict[str, Any]) -> str:
        return self._create_many(model, [vals])[0]

    def _write(self, model: str, record_id: str, vals: dict[str, Any]) -> None:
        self._call(model, "write", ids=[int(record_id)], vals=vals)

    def _read_one(self, model: str, record_id: str, fields: list[str]) -> dict[str, Any]:
        rows = self._call(model, "read", ids=[int(record_id)], fields=fields)
        if not rows:
            raise VendorError(f"odoo: {model} {record_id} not found")
        with reading("odoo", f"{model}.read"):
            return dict(rows[0])

    def _cached(self, name: str, load: Any) -> Any:
        if name not in self._cache:
            self._cache[name] = load()
        return self._cache[name]

    def _need(self, capability: Capability) -> None:
        if not self.has(capability):
            raise self._lacks(capability)

    # --- lifecycle and time ---------------------------------------------------------------------
    def check_connection(self) -> str:
        version = self.http.json("GET", "/web/version")
        context = self._call("res.users", "context_get")
        with reading("odoo", "res.users.context_get"):
            uid, release = context["uid"], version.get("version")
        return f"Odoo {release} at {self.options.base_url} as user {uid}"

    def now(self) -> datetime:
        return datetime.now(UTC)

    # --- seeding --------------------------------------------------------------------------------
    def list_sales_reps(self) -> list[str]:
        team = self.options.sales_team_id
        rows = self._search_read("crm.team.member", [("crm_team_id", "=", team)] if team else [], ["user_id"])
        with reading("odoo", "crm.team.member"):
            return list(dict.fromkeys(str(_many2one_id(row["user_id"])) for row in rows if row["user_id"]))

    def create_account(self, account: Account) -> str:
        return self._create("res.partner", _account_vals(account))

    def create_contact(self, contact: Contact, account_id: str) -> str:
        return self._create("res.partner", _contact_vals(contact, account_id))

    def _lead_vals(self, lead: Lead) -> dict[str, Any]:
        vals: dict[str, Any] = {
            "type": "lead",
            "name": lead.title,
            "partner_name": lead.company,
            "contact_name": lead.contact_name,
            "email_from": lead.email,
            "phone": lead.phone,
            "city": lead.city,
            "expected_revenue": lead.estimated_value,
            "description": tag_html(lead.tag, lead.key, f"source: {lead.source.value}"),
            "user_id": False,
        }
        if self.options.sales_team_id:
            vals["team_id"] = self.options.sales_team_id
        return vals

    def create_lead(self, lead: Lead, arrived_at: datetime | None = None) -> str:
        return self.create_leads([lead], arrived_at)[0]

    def create_leads(self, leads: list[Lead], arrived_at: datetime | None = None) -> list[str]:
        """Create many leads in one ``create`` call (one transaction: all or none)."""
        if arrived_at is not None:
            raise self._lacks(Capability.BACKDATING)
        return self._create_many("crm.lead", [self._lead_vals(lead) for lead in leads])

    max_batch_size: ClassVar[int] = 100  # Odoo documents no limit; one transaction of 100 stays short

    def create_batch(self, kind: RecordKind, items: list[BatchItem]) -> list[BatchResult]:
        """One ``create`` with a ``vals_list``: one transaction, so a refused record fails the whole call
        (raised: the seeder then sends each record alone).  Odoo cannot backdate: a lead given an
        arrival goes alone, where ``create_lead`` says so."""
        if kind is RecordKind.ACCOUNT:
            vals = [_account_vals(record_of(item, Account)) for item in items]
            return [BatchResult(vid) for vid in self._create_many("res.partner", vals)]
        if kind is RecordKind.CONTACT:
            vals = [_contact_vals(record_of(item, Contact), parent_of(item)) for item in items]
            return [BatchResult(vid) for vid in self._create_many("res.partner", vals)]
        return partly_batched(
            items,
            lambda item: kind is RecordKind.LEAD and item.at is None,
            lambda sent: [BatchResult(vid) for vid in self.create_leads([record_of(i, Lead) for i in sent])],
            lambda rest: super(OdooAdapter, self).create_batch(kind, rest),
        )

    def _xmlid(self, module: str, name: str) -> int:
        domain = [("module", "=", module), ("name", "=", name)]
        rows = self._cached(
            f"xmlid:{module}.{name}", lambda: self._search_read("ir.model.data", domain, ["res_id"])
        )
        if not rows:
            raise VendorError(f"odoo: record {module}.{name} not found in ir.model.data")
        return int(rows[0]["res_id"])

    def _model_id(self, model: str) -> int:
        rows = self._cached(
            f"model:{model}", lambda: self._search_read("ir.model", [("model", "=", model)], ["id"])
        )
        if not rows:
            raise NotConfigured(f"odoo: model {model} is not installed: install its app in the database")
        return int(rows[0]["id"])

    def log_activity(self, lead_id: str, activity: Activity) -> str:
        vals: dict[str, Any] = {
            "res_model_id": self._model_id("crm.lead"),
            "res_id": int(lead_id),
            "activity_type_id": self._xmlid("mail", ACTIVITY_TYPES[activity.kind]),
            "summary": activity.subject,
            "date_deadline": (activity.at or self.now()).astimezone(self.zone).date().isoformat(),
        }
        if activity.user_id:
            vals["user_id"] = int(activity.user_id)
        activity_id = self._create("mail.activity", vals)
        message = self._call(
            "mail.activity", "action_feedback", ids=[int(activity_id)], feedback=activity.subject
        )
        if not message:
            raise VendorError(f"odoo: mail.activity {activity_id}: action_feedback logged no message")
        return str(message[0] if isinstance(message, list) else message)

    def delete(self, kind: RecordKind, vendor_id: str) -> bool:
        if kind is RecordKind.REP:
            raise self._lacks(Capability.USER_ADMIN)
        if kind is RecordKind.TICKET:
            self._need(Capability.TICKETS)
        model = MODELS[kind]
        exists = self._call(
            model, "search", domain=[("id", "=", int(vendor_id))], context={"active_test": False}
        )
        if not exists:
            return False
        self._call(model, "unlink", ids=[int(vendor_id)])
        return True

    def find_tagged(self, kind: RecordKind, tag: str) -> list[str]:
        if kind is RecordKind.REP:
            return []  # the adapter creates no users
        if kind is RecordKind.TICKET:
            self._need(Capability.TICKETS)
        rows = self._search_read(MODELS[kind], _tagged_domain(kind, tag), ["id"])
        return [str(row["id"]) for row in rows]

    def find_tagged_refs(self, kind: RecordKind, tag: str) -> dict[str, str | None] | None:
        """The harness key of each tagged account, contact or lead, read from its notes
        (``poc-harness <tag> <key>``)."""
        if kind not in (RecordKind.ACCOUNT, RecordKind.CONTACT, RecordKind.LEAD):
            return None
        field = "description" if kind is RecordKind.LEAD else "comment"
        pattern = re.compile(rf"poc-harness {re.escape(tag)} ([^\s<]+)")
        refs: dict[str, str | None] = {}
        for row in self._search_read(MODELS[kind], _tagged_domain(kind, tag), ["id", field]):
            found = pattern.search(html.unescape(str(row.get(field) or "")))
            refs[str(row["id"])] = found.group(1) if found else None
        return refs

    # --- lead -> contract ------------------------------------------------------------------------
    def get_lead(self, lead_id: str) -> LeadView:
        row = self._read_one("crm.lead", lead_id, ["user_id", "type", "active", "create_date"])
        with reading("odoo", "crm.lead.read"):
            status = "converted" if row["type"] == "opportunity" else ("lost" if not row["active"] else "new")
            owner = _many2one_id(row["user_id"])
            return LeadView(
                vendor_id=lead_id,
                owner_id=str(owner) if owner else None,
                status=status,
                created_at=odoo_time(row["create_date"]),
            )

    def _day_start(self, day: str) -> datetime:
        return datetime.combine(date.fromisoformat(day), time(0), self.zone).astimezone(UTC)

    def lead_tasks(self, lead_id: str) -> list[TaskView]:
        rows = self._search_read(
            "mail.activity",
            [("res_model", "=", "crm.lead"), ("res_id", "=", int(lead_id))],
            ["summary", "date_deadline", "automated", "user_id"],
        )
        with reading("odoo", "mail.activity"):
            return [
                TaskView(
                    vendor_id=str(row["id"]),
                    lead_id=lead_id,
                    subject=row["summary"] or "",
                    due_at=self._day_start(row["date_deadline"]),
                    automatic=bool(row["automated"]),
                    owner_id=_str_id(_many2one_id(row.get("user_id"))),
                )
                for row in rows
            ]

    def complete_task(self, task_id: str, user_id: str | None) -> None:
        """Marked done by the bot user: Odoo records who did it from the API key, not from ``user_id``."""
        self._call("mail.activity", "action_feedback", ids=[int(task_id)], feedback="done (poc-harness)")

    def _crm_stages(self) -> list[dict[str, Any]]:
        return self._cached("crm.stage", lambda: self._search_read("crm.stage", [], ["name", "is_won"]))

    def _stage_id(self, stage: OpenStage) -> int:
        name = self.options.stage_names[stage]
        stages = self._crm_stages()
        found = next((row["id"] for row in stages if row["name"] == name), None)
        if found is None:
            known = ", ".join(row["name"] for row in stages)
            raise ConfigError(
                f"odoo: no crm.stage named {name!r} (stages: {known}): create it or set stage_names"
            )
        return int(found)

    def _deal_stage_of(self, stage_id: int | None) -> DealStage | None:
        row = next((row for row in self._crm_stages() if row["id"] == stage_id), None)
        if row is None:
            return None
        if row["is_won"]:
            return DealStage.WON
        return next(
            (DealStage(key) for key, name in self.options.stage_names.items() if name == row["name"]), None
        )

    def convert_lead(self, lead_id: str, amount: int, expected_close: datetime | None = None) -> str:
        self._call("crm.lead", "convert_opportunity", ids=[int(lead_id)], partner=False)
        vals: dict[str, Any] = {"expected_revenue": amount, "stage_id": self._stage_id("qualification")}
        if expected_close is not None:
            vals["date_deadline"] = expected_close.astimezone(self.zone).date().isoformat()
        self._write("crm.lead", lead_id, vals)
        return lead_id  # Odoo converts in place: the opportunity is the lead record

    def move_deal(self, deal_id: str, stage: DealStage) -> None:
        if stage is DealStage.WON:
            self._call("crm.lead", "action_set_won", ids=[int(deal_id)])
        elif stage is DealStage.LOST:
            self._call("crm.lead", "action_set_lost", ids=[int(deal_id)])
        else:
            self._write("crm.lead", deal_id, {"stage_id": self._stage_id(stage.value)})  # type: ignore[arg-type]

    def get_deal(self, deal_id: str) -> DealView:
        fields = ["active", "probability", "expected_revenue", "stage_id", "create_date", "date_conversion"]
        row = self._read_one("crm.lead", deal_id, fields)
        with reading("odoo", "crm.lead.read"):
            stage_id = _many2one_id(row["stage_id"])
            lost = not row["active"] and not row["probability"]
            stage = DealStage.LOST if lost else self._deal_stage_of(stage_id)
            started = odoo_time(row["date_conversion"] or row["create_date"])
            amount = int(row["expected_revenue"] or 0)
        if stage is None:
            raise ConfigError(f"odoo: the stage of deal {deal_id} is not in stage_names and not a won stage")
        history = self._history(deal_id, started, stage_id)
        return DealView(vendor_id=deal_id, lead_id=deal_id, stage=stage, amount=amount, history=history)

    def _tracking(self, deal_id: str, field: str) -> list[dict[str, Any]]:
        domain = [
            ("mail_message_id.model", "=", "crm.lead"),
            ("mail_message_id.res_id", "=", int(deal_id)),
            ("field_id.name", "=", field),
        ]
        try:
            return self._search_read(
                "mail.tracking.value", domain, ["old_value_integer", "new_value_integer", "create_date"]
            )
        except VendorError as exc:
            if "AccessError" in str(exc):
                raise ConfigError(
                    "odoo: the API user cannot read mail.tracking.value (the stage history): "
                    "give it the Administration / Settings access right"
                ) from None
            raise

    def _history(self, deal_id: str, started: datetime, current_stage: int | None) -> list[StageChange]:
        """The stage before the first tracked stage change (from conversion), every tracked ``stage_id``
        change, and the archiving that marks a loss."""
        changes: list[tuple[datetime, int | None, DealStage | None]] = []
        with reading("odoo", "mail.tracking.value"):
            for row in self._tracking(deal_id, "stage_id"):
                stage = self._deal_stage_of(row["new_value_integer"])
                changes.append((odoo_time(row["create_date"]), row["old_value_integer"], stage))
            for row in self._tracking(deal_id, "active"):
                if not row["new_value_integer"]:
                    changes.append((odoo_time(row["create_date"]), None, DealStage.LOST))
        changes.sort(key=lambda change: change[0])
        first = next((old for _, old, _ in changes if old), current_stage)
        timeline = [(started, self._deal_stage_of(first)), *((at, stage) for at, _, stage in changes)]
        return dedupe_history(
            [StageChange(stage=stage, at=at) for at, stage in timeline if stage is not None]
        )

    # --- ticket -> resolution (Helpdesk) --------------------------------------------------------------
    def create_ticket(self, ticket: Ticket, contact_id: str, opened_at: datetime | None = None) -> str:
        self._need(Capability.TICKETS)
        if opened_at is not None:
            raise self._lacks(Capability.BACKDATING)
        vals: dict[str, Any] = {
            "name": ticket.subject,
            "description": tag_html(ticket.tag, ticket.key, ticket.description),
            "priority": PRIORITIES[ticket.priority],
            "partner_id": int(contact_id),
        }
        if self.options.helpdesk_team_id:
            vals["team_id"] = self.options.helpdesk_team_id
        return self._create("helpdesk.ticket", vals)

    def get_ticket(self, ticket_id: str) -> TicketView:
        self._need(Capability.TICKETS)
        row = self._read_one(
            "helpdesk.ticket", ticket_id, ["priority", "stage_id", "create_date", "close_date"]
        )
        statuses = self._search_read(
            "helpdesk.sla.status",
            [("ticket_id", "=", int(ticket_id))],
            ["sla_stage_id", "status", "reached_datetime"],
        )
        with reading("odoo", "helpdesk.ticket.read"):
            first = _sla_reaching(statuses, self.options.answered_stage)
            resolve = _sla_reaching(statuses, self.options.closed_stage)
            if first is None and resolve is None:
                raise NotConfigured(
                    f"odoo: ticket {ticket_id} has no SLA policy reaching {self.options.answered_stage!r} "
                    f"or {self.options.closed_stage!r}: configure Helpdesk SLA policies for the PoC's "
                    "priorities on the ticket's team"
                )
            priority = PRIORITY_OF[row["priority"]]
            return TicketView(
                vendor_id=ticket_id,
                priority=priority,
                status=row["stage_id"][1] if row["stage_id"] else "none",
                created_at=odoo_time(row["create_date"]),
                first_response_at=odoo_time(first["reached_datetime"])
                if first and first["reached_datetime"]
                else None,
                closed_at=odoo_time(row["close_date"]) if row["close_date"] else None,
                first_response_breached=first["status"] == "failed" if first else False,
                resolution_breached=resolve["status"] == "failed" if resolve else False,
            )

    def _helpdesk_stage(self, name: str) -> int:
        stages = self._cached("helpdesk.stage", lambda: self._search_read("helpdesk.stage", [], ["name"]))
        found = next((row["id"] for row in stages if row["name"] == name), None)
        if found is None:
            raise ConfigError(
                f"odoo: no helpdesk.stage named {name!r}: create it or set answered_stage/closed_stage"
            )
        return int(found)

    def reply_ticket(self, ticket_id: str, message: str, user_id: str | None = None) -> None:
        """A comment to the customer, then the answered stage the first-response SLA policy targets.
        Posted by the bot user: Odoo takes the author from the API key, not from ``user_id``."""
        self._need(Capability.TICKETS)
        self._call(
            "helpdesk.ticket",
            "message_post",
            ids=[int(ticket_id)],
            body=message,
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
        )
        self._write(
            "helpdesk.ticket", ticket_id, {"stage_id": self._helpdesk_stage(self.options.answered_stage)}
        )

    def close_ticket(self, ticket_id: str) -> None:
        self._need(Capability.TICKETS)
        self._write(
            "helpdesk.ticket", ticket_id, {"stage_id": self._helpdesk_stage(self.options.closed_stage)}
        )

    def report_sla_compliance(self, start: datetime, end: datetime, tag: str) -> SlaComplianceFigure:
        """Counted by Odoo (``search_count``): closed tagged tickets opened in the period, and those of them
        with no failed SLA policy."""
        self._need(Capability.SLA)
        closed = [
            ("description", "ilike", tag),
            ("create_date", ">=", odoo_literal(start)),
            ("create_date", "<", odoo_literal(end)),
            ("close_date", "!=", False),
        ]
        tickets = self._call("helpdesk.ticket", "search_count", domain=closed)
        met = self._call("helpdesk.ticket", "search_count", domain=[*closed, ("sla_fail", "=", False)])
        with reading("odoo", "helpdesk.ticket.search_count"):
            tickets, met = int(tickets), int(met)
        return SlaComplianceFigure(
            tickets=tickets, met=met, rate_pct=round(100.0 * met / tickets, 2) if tickets else 0.0
        )


def _sla_reaching(statuses: list[dict[str, Any]], stage_name: str) -> dict[str, Any] | None:
    """The SLA status whose policy targets reaching ``stage_name`` (``sla_stage_id`` is ``[id, name]``)."""
    return next(
        (row for row in statuses if row["sla_stage_id"] and row["sla_stage_id"][1] == stage_name), None
    )
