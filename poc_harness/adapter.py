"""The ``CRMAdapter`` contract every vendor adapter implements, its capabilities, and adapter discovery.

Checks ask for capabilities, never for a vendor's name.  ``CAPABILITY_METHODS`` says which contract
methods each capability needs; for each capability an adapter is in one of three states (``Support``):
it implements it (declared in ``capabilities``: judged), the vendor lacks it (``vendor_lacks``, with the
vendor's documentation: a method of it raises ``CapabilityMissing``, a graded finding), or the adapter
does not implement it (anything else: ``NotImplementedByAdapter``, not measured, never the vendor's
finding).  A concrete adapter declaring a capability without overriding its methods is refused when
the class is created.  Adapters are found through the entry-point group ``poc_harness.adapters``, so a
vendor can ship its adapter as a package of its own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from poc_harness.batches import BatchItem, BatchResult, create_alone
from poc_harness.clock import ClockMode
from poc_harness.config import PocConfig
from poc_harness.errors import (
    CapabilityMissing,
    ConfigError,
    NotExercised,
    NotImplementedByAdapter,
    VendorError,
    VendorUnreachable,
)
from poc_harness.loadtargets import LoadTargets
from poc_harness.model import (
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
    WebhookNotice,
    WeeklyActivityFigure,
)

ENTRY_POINT_GROUP = "poc_harness.adapters"
SERVICE_METHODS = frozenset(
    {
        "has",
        "support",
        "require",
        "close",
        "call_stats",
        "from_table",
        "endpoint",
        "find_tagged_refs",
        "carries_tag",
        "create_batch",
        "load_targets",
        "read_record",
        "list_records",
        "update_record",
        "delete_record",
        "api_endpoints",
        "call_anonymously",
        "self_register",
        "user_role",
        "observes",
    }
)
"""Contract methods with a working default for every vendor (no capability behind them)."""


class Capability(StrEnum):
    AUTO_ASSIGN = "auto_assign"
    FOLLOWUP_TASKS = "followup_tasks"
    SILENCE_ALERT = "silence_alert"
    DEALS = "deals"
    TICKETS = "tickets"
    SLA = "sla"
    NPS_SURVEY = "nps_survey"
    REPORTS = "reports"
    FORECAST = "forecast"
    WEBHOOKS = "webhooks"
    DATA_EXPORT = "data_export"
    VOIP = "voip"
    BACKDATING = "backdating"
    CLOCK_CONTROL = "clock_control"
    BATCH_CREATE = "batch_create"
    AUDIT_LOG = "audit_log"
    RBAC = "rbac"
    SSO = "sso"
    USER_ADMIN = "user_admin"
    TICKET_REOPEN = "ticket_reopen"
    TICKET_NOTES = "ticket_notes"


CAPABILITY_METHODS: Mapping[Capability, tuple[str, ...]] = MappingProxyType(
    {
        Capability.AUTO_ASSIGN: ("list_sales_reps",),
        Capability.FOLLOWUP_TASKS: ("lead_tasks", "complete_task"),
        Capability.SILENCE_ALERT: ("lead_alerts",),
        Capability.DEALS: ("convert_lead", "move_deal", "get_deal"),
        Capability.TICKETS: ("create_ticket", "get_ticket", "reply_ticket", "close_ticket"),
        Capability.SLA: ("report_sla_compliance",),
        Capability.NPS_SURVEY: ("ticket_surveys", "answer_survey", "report_nps"),
        Capability.REPORTS: ("report_conversion", "report_first_response", "report_weekly_activity"),
        Capability.FORECAST: ("report_forecast",),
        Capability.WEBHOOKS: ("subscribe_webhook", "unsubscribe_webhook", "webhook_notice"),
        Capability.DATA_EXPORT: ("export_records",),
        Capability.VOIP: ("log_call", "lead_calls"),
        Capability.BACKDATING: (),  # the ``arrived_at`` / ``opened_at`` of create_lead and create_ticket
        Capability.CLOCK_CONTROL: ("advance_clock",),
        Capability.BATCH_CREATE: ("create_batch",),
        Capability.AUDIT_LOG: ("update_lead", "acting_user_id", "audit_entries", "audit_settings"),
        Capability.RBAC: ("update_lead", "as_user", "create_team_user", "issue_credential"),
        Capability.SSO: ("saml_sp_metadata", "identity_standards"),
        Capability.USER_ADMIN: ("create_sales_rep",),
        Capability.TICKET_REOPEN: ("reopen_ticket",),
        Capability.TICKET_NOTES: ("note_ticket",),
    }
)
"""The contract methods each capability needs an adapter to override (its defaults raise).  RBAC's
``create_team_user`` and ``issue_credential`` make the users the access-control probe acts as (used where
the adapter also has USER_ADMIN and ``rbac_users`` is not configured); ``update_lead`` is the write both
the access-control and the audit probes make."""


class Support(StrEnum):
    """How an adapter stands towards one capability; the three outcomes never mix."""

    IMPLEMENTED = "implemented"
    """declared in ``capabilities``: the checks needing it are judged"""
    VENDOR_LACKS = "vendor_lacks"
    """in ``vendor_lacks``, with the vendor's documentation: a finding against the vendor"""
    NOT_IMPLEMENTED = "not_implemented"
    """neither: the adapter does not implement it (our gap), not measured and the verdict incomplete"""


class Observed(StrEnum):
    """Optional view fields: an adapter says which of them it reads from the vendor's API.  A field it does
    not read is *not observed* (our gap, never a pass or a vendor failure)."""

    SURVEY_RECIPIENT = "survey.contact_id"
    DEAL_LEAD = "deal.lead_id"


class RecordKind(StrEnum):
    """What the harness creates; cleanup deletes in the reverse of this order."""

    REP = "rep"
    ACCOUNT = "account"
    CONTACT = "contact"
    LEAD = "lead"
    TICKET = "ticket"
    ACTIVITY = "activity"
    DEAL = "deal"


class AccessKind(StrEnum):
    """The kinds of record the access-control probe confines to a team (tasks included: the vendor
    creates them, the harness never does)."""

    ACCOUNT = "account"
    CONTACT = "contact"
    LEAD = "lead"
    DEAL = "deal"
    TICKET = "ticket"
    TASK = "task"
    ACTIVITY = "activity"


PRIVILEGED_ROLES = frozenset({"admin", "manager"})
"""Roles ``user_role`` names that no anonymous sign-up may obtain."""


@dataclass(frozen=True)
class Endpoint:
    """One endpoint of the vendor's API the adapter uses: how the vendor documents it (``route``) and a
    request to it naming the probe's own records (``path``)."""

    method: str
    route: str
    path: str
    public: bool = False
    """open without credentials by the vendor's design (a health check, SAML metadata, a sign-up)"""


class WebhookEvent(StrEnum):
    """Events the harness subscribes to; an adapter maps each to its vendor's event name."""

    LEAD_CREATED = "lead.created"


class RbacUserOption(BaseModel):
    """One of the vendor's users the access-control check acts as."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token_env: str = Field(min_length=1, description="the environment variable holding the user's API token")
    login: str | None = Field(default=None, description="the user's login, for vendors that pair it with one")
    user_id: str | None = Field(default=None, description="the user's vendor id")


class RbacUsers(BaseModel):
    """``[vendors.<name>.rbac_users]``: two sales reps of different teams, created in the vendor by its
    administrator (for vendors the harness cannot create users in)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rep: RbacUserOption
    other_team_rep: RbacUserOption
    team_mate: RbacUserOption | None = None
    """a sales rep of the first rep's team: the matrix then also tries the rep on a team mate's records"""


class UserCredential(BaseModel):
    """What the harness acts as one of the vendor's users with; the token never prints."""

    model_config = ConfigDict(frozen=True)

    token: SecretStr
    user_id: str | None = None
    login: str | None = None


class AdapterOptions(BaseModel):
    """Base of each adapter's options table in poc.toml; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rbac_users: RbacUsers | None = None
    sales_team: list[str] | None = Field(
        default=None,
        description="vendor ids of the reps leads may be assigned to (the buyer's sales team); default: "
        "the reps harness runs created",
    )


def picklist_map(name: str, given: Any, defaults: dict[Any, str]) -> dict[Any, str]:
    """An adapter option mapping harness values to a vendor's picklist values: the defaults overridden
    by ``given``, refusing two harness values on one picklist value."""
    merged = {**defaults, **(given or {})}
    values = list(merged.values())
    if len(set(values)) != len(values):
        raise ValueError(f"{name} maps two harness values to one picklist value: {values}")
    return merged


def known_time_zone(name: str) -> str:
    """An adapter option naming a time zone: refused unless it is an IANA zone."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as Asia/Tehran") from None
    return name


class SecurityProbes:
    """The operations only the security probes use (the access-control matrix, requests without
    credentials, anonymous sign-up), mixed into ``CRMAdapter``.  Their defaults raise ``NotExercised``:
    an adapter that does not implement one leaves its part of a check not measured (our gap), never a
    finding against the vendor."""

    name: ClassVar[str]

    def _unexercised(self, what: str) -> NotExercised:
        return NotExercised(f"not measured: the {self.name} adapter does not {what}")

    def read_record(self, kind: AccessKind, vendor_id: str) -> RecordView | None:
        """One record of ``kind`` as the acting user sees it; None where the vendor says it does not exist
        (an adapter acting as a user raises ``AccessDenied`` for a record out of the user's reach)."""
        raise self._unexercised("read records by id")

    def list_records(self, kind: AccessKind, tag: str) -> list[str]:
        """Vendor ids of the records of ``kind`` carrying ``tag`` that the acting user's listing shows."""
        raise self._unexercised("list records as a user")

    def update_record(self, kind: AccessKind, vendor_id: str, label: str) -> None:
        """Set the record's descriptive field (what ``read_record`` reads as ``label``) to ``label``."""
        raise self._unexercised("update records by kind")

    def delete_record(self, kind: AccessKind, vendor_id: str) -> None:
        """Delete one record as the acting user; a refusal (or a record out of reach) raises
        ``AccessDenied``, never False."""
        raise self._unexercised("delete records as a user")

    def api_endpoints(self, ids: Mapping[str, str]) -> list[Endpoint]:
        """Every endpoint the adapter uses, each request naming the probe's records: ``ids`` maps an
        ``AccessKind`` value (and ``user``) to a vendor id."""
        raise self._unexercised("list the API endpoints it uses")

    def call_anonymously(self, method: str, path: str, token: str | None) -> int:
        """Send one request without the adapter's credentials: no ``Authorization`` at all (``token``
        None) or the given made-up bearer token; the HTTP status (never retried)."""
        raise self._unexercised("send requests without credentials")

    def self_register(self, name: str, email: str, role: str, tag: str) -> str | None:
        """Register a user anonymously through the vendor's public sign-up, asking for ``role``; the new
        user's id, or None where the vendor refused the sign-up or offers none."""
        raise self._unexercised("reach the vendor's self-registration")

    def user_role(self, user_id: str) -> str:
        """The user's role in the harness's words (``admin``, ``manager``, ``sales_rep``, or the
        vendor's own name of a lesser role)."""
        raise self._unexercised("read a user's role")


def _abstract(cls: type) -> bool:
    """Whether ``cls`` still has an abstract method (``__abstractmethods__`` is set only after
    ``__init_subclass__`` ran)."""
    names = {name for base in cls.__mro__[1:] for name in getattr(base, "__abstractmethods__", ())}
    names |= {name for name, value in vars(cls).items() if getattr(value, "__isabstractmethod__", False)}
    return any(getattr(getattr(cls, name, None), "__isabstractmethod__", False) for name in names)


class CRMAdapter(ABC, SecurityProbes):
    """One candidate CRM behind one typed contract.

    Every method goes through the vendor's real API.  Methods of a capability the adapter does not
    implement keep the default body, which raises ``CapabilityMissing`` where the vendor lacks the
    capability (``vendor_lacks``) and ``NotImplementedByAdapter`` otherwise.
    """

    name: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]]
    """What the adapter implements and the checks judge (``Support.IMPLEMENTED``)."""
    vendor_lacks: ClassVar[Mapping[Capability, str]] = MappingProxyType({})
    """What the vendor does not offer, each with the documentation saying so (a URL, or the page and what
    it says): the checks needing it are findings against the vendor (``Support.VENDOR_LACKS``)."""
    conditional_capabilities: ClassVar[frozenset[Capability]] = frozenset()
    """Capabilities an instance may add to ``capabilities`` at run time (an option, an installed app, a
    mapping file): their methods are implemented all the same, checked when the class is created."""
    default_clock: ClassVar[ClockMode] = ClockMode.WALL
    Options: ClassVar[type[AdapterOptions]] = AdapterOptions
    webhook_retry_within: ClassVar[timedelta] = timedelta(minutes=2)
    """How soon the vendor retries a failed webhook delivery, per its documentation: the harness waits
    this long for the retry (``[webhooks] wait_seconds`` overrides it)."""
    persistent: bool = True
    """False for a CRM that lives only as long as this process: earlier runs' expectations are moot."""
    observes_task_owner: ClassVar[bool] = False
    """True where ``lead_tasks`` fills ``TaskView.owner_id`` from the vendor's API (else the follow-up
    owner is *not observed by the adapter*: our gap, never the vendor's failure)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Refuse a concrete adapter declaring a capability whose methods it does not override, or one
        that says the vendor lacks a capability it declares, or without saying where that is documented."""
        super().__init_subclass__(**kwargs)
        if _abstract(cls):
            return
        declared = set(cls.capabilities) | set(cls.conditional_capabilities)
        for capability in sorted(declared):
            for method in CAPABILITY_METHODS[capability]:
                if getattr(cls, method) is getattr(CRMAdapter, method):
                    raise TypeError(
                        f"{cls.__qualname__} declares the {capability.value} capability but does not "
                        f"implement {method}: override it, or leave {capability.value} undeclared"
                    )
        for capability, documentation in cls.vendor_lacks.items():
            if capability in declared:
                raise TypeError(
                    f"{cls.__qualname__} declares the {capability.value} capability and lists it in "
                    "vendor_lacks: it is one or the other"
                )
            if not isinstance(documentation, str) or not documentation.strip():
                raise TypeError(
                    f"{cls.__qualname__}.vendor_lacks[{capability.value}] needs the vendor's documentation "
                    "saying it lacks it (a URL or the page)"
                )

    def __init__(self, options: AdapterOptions) -> None:
        self.options = options

    @classmethod
    def from_table(cls, vendor: str, table: dict[str, Any]) -> CRMAdapter:
        """Build the adapter from its ``[vendors.<name>]`` table, with one-line errors."""
        try:
            options = cls.Options.model_validate(table)
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(part) for part in first["loc"]) or "(table)"
            problem = first["msg"].removeprefix("Value error, ")
            raise ConfigError(
                f"[vendors.{vendor}] {key}: {problem} (options of the '{cls.name}' adapter: "
                f"{', '.join(cls.Options.model_fields) or 'none'})"
            ) from None
        return cls(options)

    def has(self, capability: Capability) -> bool:
        """Whether the adapter implements ``capability`` (``support(capability)`` is IMPLEMENTED)."""
        return capability in self.capabilities

    def support(self, capability: Capability) -> Support:
        """Implemented (judged), lacked by the vendor (a finding), or not implemented by the adapter (our
        gap, not measured)."""
        if self.has(capability):
            return Support.IMPLEMENTED
        if capability in self.vendor_lacks:
            return Support.VENDOR_LACKS
        return Support.NOT_IMPLEMENTED

    def require(self, *capabilities: Capability) -> None:
        """Return where the adapter implements every one of ``capabilities``; else raise
        ``CapabilityMissing`` naming those the vendor lacks (with their documentation), or, where the
        vendor lacks none of them, ``NotImplementedByAdapter`` naming those the adapter does not
        implement."""
        missing = [c for c in capabilities if self.support(c) is not Support.IMPLEMENTED]
        lacked = [c for c in missing if self.support(c) is Support.VENDOR_LACKS]
        if lacked:
            cited = ", ".join(f"{c.value} ({self.vendor_lacks[c]})" for c in lacked)
            raise CapabilityMissing(f"{self.name} does not offer {cited}")
        if missing:
            names = ", ".join(c.value for c in missing)
            raise NotImplementedByAdapter(f"not measured: the {self.name} adapter does not implement {names}")

    def observes(self, field: Observed) -> bool:
        """Whether this adapter reads the optional view field ``field`` from the vendor's API."""
        return False

    def _lacks(self, capability: Capability) -> CapabilityMissing | NotImplementedByAdapter:
        """The error for a method of ``capability`` that cannot run: ``CapabilityMissing`` with the
        vendor's documentation where the vendor lacks it, else ``NotImplementedByAdapter`` (our gap)."""
        if self.support(capability) is Support.VENDOR_LACKS:
            return CapabilityMissing(
                f"{self.name} does not offer {capability.value} ({self.vendor_lacks[capability]})"
            )
        return NotImplementedByAdapter(
            f"not measured: the {self.name} adapter does not implement {capability.value}"
        )

    # --- lifecycle ------------------------------------------------------------------
    @abstractmethod
    def check_connection(self) -> str:
        """Reach the vendor with the configured credentials; one line naming what answered (product,
        version, instance), no secret.  Raises ``ConfigError`` for a setup the vendor refuses."""

    def close(self) -> None:  # optional hook: most adapters hold a client to close
        """Release connections; the default has nothing to release."""

    def call_stats(self) -> dict[str, Any]:
        """Counts of this adapter's API calls so far (``calls``, ``retries``, ``failures``; the
        ``VendorHTTP`` statistics), for the reliability criterion; empty where it keeps none."""
        return {}

    def endpoint(self) -> str:
        """Where this vendor is reached (no secrets): kept with each run, so cleanup can refuse a ledger
        written against another instance.  Empty when there is no fixed address."""
        return str(getattr(self.options, "base_url", None) or "")

    # --- time -----------------------------------------------------------------------
    @abstractmethod
    def now(self) -> datetime:
        """The CRM's current time, timezone-aware (its virtual clock where it has one, else the wall
        clock as the vendor's server tells it)."""

    def advance_clock(self, delta: timedelta) -> datetime:
        """Move the CRM's virtual clock ``delta`` forward, running what fell due (CLOCK_CONTROL); the
        CRM's time afterwards."""
        raise self._lacks(Capability.CLOCK_CONTROL)

    # --- seeding --------------------------------------------------------------------
    def create_sales_rep(self, rep: SalesRep) -> str:
        """Create a sales user leads may be assigned to (USER_ADMIN); its vendor id."""
        raise self._lacks(Capability.USER_ADMIN)

    def list_sales_reps(self) -> list[str]:
        """Vendor ids of the vendor's existing users leads may be assigned to (AUTO_ASSIGN, where the
        harness cannot create reps): the buyer's sales team, never the API user."""
        raise self._lacks(Capability.AUTO_ASSIGN)

    @abstractmethod
    def create_account(self, account: Account) -> str:
        """Create a company carrying the run's tag; its vendor id."""

    @abstractmethod
    def create_contact(self, contact: Contact, account_id: str) -> str:
        """Create a person of the account ``account_id``, carrying the run's tag; its vendor id."""

    @abstractmethod
    def create_lead(self, lead: Lead, arrived_at: datetime | None = None) -> str:
        """Create a lead carrying the run's tag, left for the CRM to assign; its vendor id.  ``arrived_at``
        backdates its creation (BACKDATING; without it the adapter raises without calling the vendor)."""

    @abstractmethod
    def log_activity(self, lead_id: str, activity: Activity) -> str:
        """Log a call, meeting, e-mail or note on the lead, by ``activity.rep`` where the vendor lets the
        API say who; its vendor id (what ``delete(RecordKind.ACTIVITY, ...)`` takes)."""

    @abstractmethod
    def delete(self, kind: RecordKind, vendor_id: str) -> bool:
        """Delete one record; True when deleted, False when it was already gone (never an error for that)."""

    @abstractmethod
    def find_tagged(self, kind: RecordKind, tag: str) -> list[str]:
        """Vendor ids of the records of ``kind`` carrying ``tag``."""

    def find_tagged_refs(self, kind: RecordKind, tag: str) -> dict[str, str | None] | None:
        """Vendor id -> the harness's key (None where the record has none), for the records of ``kind``
        carrying ``tag``, where the vendor keeps the key in a field; None where it does not."""
        return None

    def carries_tag(self, kind: RecordKind, vendor_id: str, tag: str) -> bool:
        """Whether one record that ``find_tagged`` did not list still carries ``tag`` (a vendor whose lists
        leave some records out, e.g. converted leads); False where the listing is complete."""
        return False

    # --- batch create and load ----------------------------------------------------------
    max_batch_size: ClassVar[int] = 1
    """The most records one ``create_batch`` call takes (the vendor's documented batch limit)."""

    def create_batch(self, kind: RecordKind, items: list[BatchItem]) -> list[BatchResult]:
        """Create accounts, contacts or leads, one result per item in order, in as few calls as the vendor
        allows (BATCH_CREATE, at most ``max_batch_size`` items); a failed item was not created unless
        its result says ``maybe_applied``.  The default creates them one by one."""
        results = []
        for item in items or ():
            try:
                results.append(BatchResult(create_alone(self, kind, item)))
            except VendorUnreachable:
                raise
            except VendorError as exc:
                results.append(BatchResult(None, str(exc), exc.maybe_applied))
        return results

    def load_targets(self, tag: str, known: Mapping[RecordKind, Sequence[str]]) -> LoadTargets | None:
        """The read and write requests the load probe replays and the client config to send them with
        (credentials stay in it).  Writes carry ``tag``; ``known`` holds vendor ids seeded by this run,
        for reads by id.  None where the adapter does not name them yet (the probe cannot run)."""
        return None

    # --- lead -> contract -------------------------------------------------------------
    @abstractmethod
    def get_lead(self, lead_id: str) -> LeadView:
        """The lead as the CRM shows it now: its owner (None while unassigned), status, creation time."""

    def lead_tasks(self, lead_id: str) -> list[TaskView]:
        """Every open or done task on the lead, in no set order (FOLLOWUP_TASKS), each saying whether the
        CRM's automation made it (``automatic``) and when it is due."""
        raise self._lacks(Capability.FOLLOWUP_TASKS)

    def lead_alerts(self, lead_id: str) -> list[AlertView]:
        """The alerts the CRM raised on the lead (SILENCE_ALERT: a lead left without activity), each
        with its kind and when it was raised."""
        raise self._lacks(Capability.SILENCE_ALERT)

    def convert_lead(self, lead_id: str, amount: int, expected_close: datetime | None = None) -> str:
        """Convert the lead into a deal at the qualification stage worth ``amount`` (whole units of the
        buyer's currency, e.g. rials), expected to close at ``expected_close`` (DEALS); the deal's id."""
        raise self._lacks(Capability.DEALS)

    def move_deal(self, deal_id: str, stage: DealStage) -> None:
        """Move the deal to ``stage`` (DEALS); the CRM records the change in the deal's stage history."""
        raise self._lacks(Capability.DEALS)

    def get_deal(self, deal_id: str) -> DealView:
        """The deal as the CRM shows it (DEALS): stage, amount (whole units of the buyer's currency) and
        its stage history oldest first, each change with the CRM's time."""
        raise self._lacks(Capability.DEALS)

    def complete_task(self, task_id: str, user_id: str | None) -> None:
        """Mark the task done, as the user ``user_id`` where the vendor lets the API say who (None: the API
        user) (FOLLOWUP_TASKS)."""
        raise self._lacks(Capability.FOLLOWUP_TASKS)

    # --- ticket -> resolution -----------------------------------------------------------
    def create_ticket(self, ticket: Ticket, contact_id: str, opened_at: datetime | None = None) -> str:
        """Open a ticket for the contact, carrying the run's tag (TICKETS); its vendor id.  ``opened_at``
        backdates it (BACKDATING)."""
        raise self._lacks(Capability.TICKETS)

    def get_ticket(self, ticket_id: str) -> TicketView:
        """The ticket as the CRM shows it (TICKETS): status, creation, first response and closing times,
        and the CRM's own SLA breach flags for the first response and the resolution."""
        raise self._lacks(Capability.TICKETS)

    def reply_ticket(self, ticket_id: str, message: str, user_id: str | None = None) -> None:
        """Answer the customer on the ticket (a public reply, the first one being the first response), as
        ``user_id`` where the vendor lets the API say who (TICKETS)."""
        raise self._lacks(Capability.TICKETS)

    def close_ticket(self, ticket_id: str) -> None:
        """Close (resolve) the ticket (TICKETS); closing is what sends the satisfaction survey."""
        raise self._lacks(Capability.TICKETS)

    def reopen_ticket(self, ticket_id: str) -> None:
        """Reopen a closed ticket (optional: TICKET_REOPEN; a CRM without it gets no reopened tickets)."""
        raise self._lacks(Capability.TICKET_REOPEN)

    def note_ticket(self, ticket_id: str, message: str, user_id: str | None = None) -> None:
        """Add an internal note, which the customer does not see (optional: TICKET_NOTES)."""
        raise self._lacks(Capability.TICKET_NOTES)

    def ticket_surveys(self, ticket_id: str) -> list[SurveyInviteView]:
        """The satisfaction (NPS) survey invitations the CRM sent for the ticket, in no set order, each with
        when it was sent (NPS_SURVEY)."""
        raise self._lacks(Capability.NPS_SURVEY)

    def answer_survey(self, survey_id: str, score: int) -> None:
        """Answer the invitation as the customer would, with ``score`` from 0 to 10 (NPS_SURVEY)."""
        raise self._lacks(Capability.NPS_SURVEY)

    # --- management reports ------------------------------------------------------------------
    # Each figure is what the CRM itself computes, over the records carrying ``tag`` (the run's tag) only.
    # A period is half-open, [start, end): start included, end excluded, both timezone-aware, compared
    # with the CRM's own timestamps (the reference CRM, ``poc_harness.sandbox.service``, does exactly this).
    def report_conversion(self, start: datetime, end: datetime, tag: str) -> ConversionFigure:
        """The CRM's lead conversion report (REPORTS): ``leads`` created in [start, end) under ``tag``,
        ``won`` how many of them became a won deal, ``rate_pct`` = won / leads in percent (0-100,
        2 decimals; 0 without leads)."""
        raise self._lacks(Capability.REPORTS)

    def report_first_response(self, start: datetime, end: datetime, tag: str) -> FirstResponseFigure:
        """The CRM's first-response report (REPORTS): over tickets under ``tag`` created in [start, end)
        that have a first response, ``tickets`` their count and the ``mean_minutes`` / ``median_minutes``
        from creation to first response (elapsed minutes, not business hours; 2 decimals; 0 without any)."""
        raise self._lacks(Capability.REPORTS)

    def report_weekly_activity(self, week_start: datetime, tag: str) -> WeeklyActivityFigure:
        """The CRM's weekly sales-activity report (REPORTS) for [week_start, week_start + 7 days): per rep
        (vendor user id) the calls, meetings and e-mails logged on leads under ``tag`` (notes are not
        sales activity) and the tasks on those leads the rep completed in the week."""
        raise self._lacks(Capability.REPORTS)

    def report_sla_compliance(self, start: datetime, end: datetime, tag: str) -> SlaComplianceFigure:
        """The CRM's SLA compliance report (SLA): ``tickets`` under ``tag`` closed in [start, end), ``met``
        how many breached neither their first-response nor their resolution target, ``rate_pct`` = met /
        tickets in percent (0-100, 2 decimals; 0 without tickets)."""
        raise self._lacks(Capability.SLA)

    def report_forecast(self, start: datetime, end: datetime, tag: str) -> ForecastFigure:
        """The CRM's sales forecast for [start, end) (FORECAST): ``won_amount`` the deals under ``tag`` won
        in the period, ``forecast_amount`` that plus the committed (negotiation) deals expected to close
        in it; amounts in whole units of the buyer's currency (e.g. rials), as the deals carry them."""
        raise self._lacks(Capability.FORECAST)

    def report_nps(self, tag: str) -> NpsFigure:
        """The CRM's net promoter score over the answered surveys of tickets under ``tag`` (NPS_SURVEY; no
        period: every answer so far): ``responses`` their count, ``nps`` = % promoters (9-10) minus
        % detractors (0-6), from -100 to 100 (2 decimals; 0 without responses)."""
        raise self._lacks(Capability.NPS_SURVEY)

    # --- integrations: webhooks, DWH export, VoIP -------------------------------------------
    def subscribe_webhook(self, url: str, secret: str, events: list[WebhookEvent]) -> str:
        """Have the vendor POST ``events`` to ``url``, signed with ``secret`` (the scheme of
        ``poc_harness.webhooks``); return the subscription's id."""
        raise self._lacks(Capability.WEBHOOKS)

    def unsubscribe_webhook(self, subscription_id: str) -> None:
        """Remove the subscription ``subscribe_webhook`` made (WEBHOOKS); the vendor posts no more."""
        raise self._lacks(Capability.WEBHOOKS)

    def webhook_notice(self, payload: Any) -> WebhookNotice:
        """Which harness event, about which record, one (verified) webhook payload of the vendor reports."""
        raise self._lacks(Capability.WEBHOOKS)

    def export_records(self, kind: RecordKind, tag: str) -> list[dict[str, Any]]:
        """Every record of ``kind`` carrying ``tag`` from the vendor's bulk export (what a DWH load gets,
        every page of it), each with its vendor ``id``; leads also with ``estimated_value``."""
        raise self._lacks(Capability.DATA_EXPORT)

    def log_call(self, lead_id: str, call: CallLog) -> str:
        """Push a call log the way the buyer's VoIP connector does; return the call's id."""
        raise self._lacks(Capability.VOIP)

    def lead_calls(self, lead_id: str) -> list[CallView]:
        """The calls on the lead's activity timeline."""
        raise self._lacks(Capability.VOIP)

    # --- security: access control, audit log, single sign-on ---------------------------------
    def update_lead(self, lead_id: str, changes: LeadChanges) -> None:
        """Change the lead's fields named in ``changes`` (RBAC and AUDIT_LOG: the write both probes make); a
        refusal for the acting user raises ``AccessDenied``."""
        raise self._lacks(Capability.RBAC)

    def create_team_user(self, user: TeamMember) -> str:
        """Create a user with a role in a team, left out of automatic lead assignment, for the access-control
        probe to act as (RBAC); its vendor id."""
        raise self._lacks(Capability.RBAC)

    def issue_credential(self, user_id: str) -> UserCredential:
        """A credential acting as the user (RBAC; e.g. an API token the administrator issues); the token
        never prints."""
        raise self._lacks(Capability.RBAC)

    def as_user(self, credential: UserCredential) -> CRMAdapter:
        """A new adapter of this vendor acting as another user (RBAC); a request the vendor refuses that
        user raises ``AccessDenied``.  Close it after use."""
        raise self._lacks(Capability.RBAC)

    def acting_user_id(self) -> str:
        """The vendor id of the user this adapter acts as (AUDIT_LOG): the actor the audit log must name."""
        raise self._lacks(Capability.AUDIT_LOG)

    def audit_entries(self, kind: RecordKind, record_id: str, since: datetime) -> list[AuditEntryView]:
        """The audit log's entries about one record at or after ``since``, oldest first (AUDIT_LOG), each
        with its action, actor and the CRM's time."""
        raise self._lacks(Capability.AUDIT_LOG)

    def audit_settings(self) -> AuditSettingsView:
        """The audit log's retention in days and export formats from the vendor's settings (AUDIT_LOG;
        ``CapabilityMissing`` where the API does not tell)."""
        raise self._lacks(Capability.AUDIT_LOG)

    def saml_sp_metadata(self) -> bytes:
        """The vendor's SAML 2.0 service-provider metadata document, the bytes as served (SSO)."""
        raise self._lacks(Capability.SSO)

    def identity_standards(self) -> list[str]:
        """The identity standards the vendor says it offers, lower case (SSO): saml2, oidc, oauth2, ldap,
        mfa, scim..."""
        raise self._lacks(Capability.SSO)


def discover() -> dict[str, type[CRMAdapter]]:
    """Every adapter installed under the ``poc_harness.adapters`` entry-point group."""
    found: dict[str, type[CRMAdapter]] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        found[point.name] = point.load()
    return found


def adapter_class(name: str) -> type[CRMAdapter]:
    """The adapter registered as ``name``, or a one-line error listing the known ones."""
    known = discover()
    if name not in known:
        listed = ", ".join(sorted(known)) or "none installed"
        raise ConfigError(f"unknown vendor adapter '{name}': known adapters are {listed}")
    return known[name]


def build_adapter(config: PocConfig, vendor: str) -> CRMAdapter:
    """The adapter for ``--vendor`` value ``vendor`` (``name`` or ``name:profile``), configured."""
    adapter_name, table = config.vendor_table(vendor)
    return adapter_class(adapter_name).from_table(vendor.partition(":")[0], table)
