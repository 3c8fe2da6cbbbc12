"""The ``CRMAdapter`` contract every vendor adapter implements, its capabilities, and adapter discovery.

Checks ask for capabilities, never for a vendor's name.  A method whose capability
the vendor lacks raises ``CapabilityMissing``: the check turns that into a graded
finding.  Adapters are found through the entry-point group ``poc_harness.adapters``,
so a vendor can ship its adapter as a package of its own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime, timedelta
from enum import StrEnum
from importlib.metadata import entry_points
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, ValidationError

from poc_harness.clock import ClockMode
from poc_harness.config import PocConfig
from poc_harness.errors import CapabilityMissing, ConfigError
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
    WeeklyActivityFigure,
)

ENTRY_POINT_GROUP = "poc_harness.adapters"


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
    BACKDATING = "backdating"
    CLOCK_CONTROL = "clock_control"
    BATCH_CREATE = "batch_create"
    AUDIT_LOG = "audit_log"
    RBAC = "rbac"
    USER_ADMIN = "user_admin"


class RecordKind(StrEnum):
    """What the harness creates; cleanup deletes in the reverse of this order."""

    REP = "rep"
    ACCOUNT = "account"
    CONTACT = "contact"
    LEAD = "lead"
    TICKET = "ticket"
    ACTIVITY = "activity"
    DEAL = "deal"


class AdapterOptions(BaseModel):
    """Base of each adapter's options table in poc.toml; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


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


class CRMAdapter(ABC):
    """One candidate CRM behind one typed contract.

    Every method goes through the vendor's real API.  Methods that need a
    capability the vendor lacks keep the default body, which raises
    ``CapabilityMissing``.
    """

    name: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]]
    default_clock: ClassVar[ClockMode] = ClockMode.WALL
    Options: ClassVar[type[AdapterOptions]] = AdapterOptions
    persistent: bool = True
    """False for a CRM that lives only as long as this process: earlier runs' expectations are moot."""

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
            raise ConfigError(
                f"[vendors.{vendor}] {key}: {first['msg']} (options of the '{cls.name}' adapter: "
                f"{', '.join(cls.Options.model_fields) or 'none'})"
            ) from None
        return cls(options)

    def has(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def _lacks(self, capability: Capability) -> CapabilityMissing:
        return CapabilityMissing(f"{self.name} does not offer {capability.value}")

    # --- lifecycle ------------------------------------------------------------------
    @abstractmethod
    def check_connection(self) -> str:
        """Reach the vendor with the configured credentials; return what answered."""

    def close(self) -> None:  # noqa: B027 - optional hook, most adapters hold a client to close
        """Release connections; the default has nothing to release."""

    def call_stats(self) -> dict[str, Any]:
        """Counts of API calls, retries and failures, for the reliability criterion."""
        return {}

    # --- time -----------------------------------------------------------------------
    @abstractmethod
    def now(self) -> datetime:
        """The CRM's current time (its virtual clock where it has one)."""

    def advance_clock(self, delta: timedelta) -> datetime:
        raise self._lacks(Capability.CLOCK_CONTROL)

    # --- seeding --------------------------------------------------------------------
    def create_sales_rep(self, rep: SalesRep) -> str:
        raise self._lacks(Capability.USER_ADMIN)

    def list_sales_reps(self) -> list[str]:
        """Vendor ids of the users leads may be assigned to."""
        raise self._lacks(Capability.AUTO_ASSIGN)

    @abstractmethod
    def create_account(self, account: Account) -> str: ...

    @abstractmethod
    def create_contact(self, contact: Contact, account_id: str) -> str: ...

    @abstractmethod
    def create_lead(self, lead: Lead, arrived_at: datetime | None = None) -> str:
        """Create a lead; ``arrived_at`` backdates it (needs BACKDATING)."""

    @abstractmethod
    def log_activity(self, lead_id: str, activity: Activity) -> str: ...

    @abstractmethod
    def delete(self, kind: RecordKind, vendor_id: str) -> bool:
        """Delete one record; False when it was already gone."""

    @abstractmethod
    def find_tagged(self, kind: RecordKind, tag: str) -> list[str]:
        """Vendor ids of the records of ``kind`` carrying ``tag``."""

    # --- lead -> contract -------------------------------------------------------------
    @abstractmethod
    def get_lead(self, lead_id: str) -> LeadView: ...

    def lead_tasks(self, lead_id: str) -> list[TaskView]:
        raise self._lacks(Capability.FOLLOWUP_TASKS)

    def lead_alerts(self, lead_id: str) -> list[AlertView]:
        raise self._lacks(Capability.SILENCE_ALERT)

    def convert_lead(self, lead_id: str, amount: int, expected_close: datetime | None = None) -> str:
        raise self._lacks(Capability.DEALS)

    def move_deal(self, deal_id: str, stage: DealStage) -> None:
        raise self._lacks(Capability.DEALS)

    def get_deal(self, deal_id: str) -> DealView:
        raise self._lacks(Capability.DEALS)

    def complete_task(self, task_id: str, user_id: str | None) -> None:
        raise self._lacks(Capability.FOLLOWUP_TASKS)

    # --- ticket -> resolution -----------------------------------------------------------
    def create_ticket(self, ticket: Ticket, contact_id: str, opened_at: datetime | None = None) -> str:
        """Open a ticket; ``opened_at`` backdates it (needs BACKDATING)."""
        raise self._lacks(Capability.TICKETS)

    def get_ticket(self, ticket_id: str) -> TicketView:
        raise self._lacks(Capability.TICKETS)

    def reply_ticket(self, ticket_id: str, message: str, user_id: str | None = None) -> None:
        raise self._lacks(Capability.TICKETS)

    def close_ticket(self, ticket_id: str) -> None:
        raise self._lacks(Capability.TICKETS)

    def ticket_surveys(self, ticket_id: str) -> list[SurveyInviteView]:
        raise self._lacks(Capability.NPS_SURVEY)

    def answer_survey(self, survey_id: str, score: int) -> None:
        raise self._lacks(Capability.NPS_SURVEY)

    # --- management reports (filtered to the run's tag where the vendor can) --------------
    def report_conversion(self, start: datetime, end: datetime, tag: str) -> ConversionFigure:
        raise self._lacks(Capability.REPORTS)

    def report_first_response(self, start: datetime, end: datetime, tag: str) -> FirstResponseFigure:
        raise self._lacks(Capability.REPORTS)

    def report_weekly_activity(self, week_start: datetime, tag: str) -> WeeklyActivityFigure:
        raise self._lacks(Capability.REPORTS)

    def report_sla_compliance(self, start: datetime, end: datetime, tag: str) -> SlaComplianceFigure:
        raise self._lacks(Capability.SLA)

    def report_forecast(self, start: datetime, end: datetime, tag: str) -> ForecastFigure:
        raise self._lacks(Capability.FORECAST)

    def report_nps(self, tag: str) -> NpsFigure:
        raise self._lacks(Capability.NPS_SURVEY)


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
