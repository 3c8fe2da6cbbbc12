"""Vendor-neutral records: what the harness seeds and what it reads back from a CRM.

Seed records (``SalesRep``, ``Account``, ``Contact``, ``Lead``) are what the
fixtures produce and the adapters create.  View records (``LeadView``,
``TaskView``...) are what an adapter returns after reading the vendor's API;
every field a check relies on is typed, so a vendor that answers garbage fails
validation instead of passing a check by accident.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field


class Record(BaseModel):
    """Base of every seed record: frozen, strict about unknown fields, tagged with the run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(description="the harness's own stable key for this record, unique in a run")
    tag: str = Field(description="the run tag every record carries, so it can be found and cleaned up")


class SalesRep(Record):
    name: str = Field(min_length=2)
    email: EmailStr


class Account(Record):
    name: str = Field(min_length=2)
    industry: str
    city: str
    phone: str = Field(pattern=r"^\+\d{8,15}$")


class Contact(Record):
    first_name: str = Field(min_length=1)
    last_name: str = Field(min_length=1)
    email: EmailStr
    phone: str = Field(pattern=r"^\+\d{8,15}$")
    account_key: str


class LeadSource(StrEnum):
    WEBSITE = "website"
    REFERRAL = "referral"
    EXHIBITION = "exhibition"
    COLD_CALL = "cold_call"
    CAMPAIGN = "campaign"
    PARTNER = "partner"


class Lead(Record):
    title: str = Field(min_length=3)
    company: str = Field(min_length=2)
    contact_name: str = Field(min_length=2)
    email: EmailStr
    phone: str = Field(pattern=r"^\+\d{8,15}$")
    city: str
    source: LeadSource
    estimated_value: int = Field(gt=0, description="expected deal size in the buyer's currency")


class TicketPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Ticket(Record):
    subject: str = Field(min_length=3)
    description: str = Field(min_length=3)
    priority: TicketPriority
    contact_key: str


class ActivityKind(StrEnum):
    CALL = "call"
    MEETING = "meeting"
    EMAIL = "email"
    NOTE = "note"


class Activity(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ActivityKind
    subject: str
    user_id: str | None = Field(default=None, description="the vendor id of the rep who did it")
    at: AwareDatetime | None = None


class DealStage(StrEnum):
    QUALIFICATION = "qualification"
    PROPOSAL = "proposal"
    NEGOTIATION = "negotiation"
    WON = "won"
    LOST = "lost"


# --- what adapters read back -------------------------------------------------------


class View(BaseModel):
    """Base of what an adapter reads back; unknown vendor fields are ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class LeadView(View):
    vendor_id: str
    owner_id: str | None
    status: str
    created_at: AwareDatetime
    title: str | None = Field(default=None, description="where the adapter reads it: the security checks")


class TaskView(View):
    vendor_id: str
    lead_id: str
    subject: str
    due_at: AwareDatetime
    automatic: bool = Field(description="created by the CRM's own automation, not by a user")
    owner_id: str | None = Field(
        default=None, description="who the task is assigned to, where the adapter reads it"
    )


class AlertView(View):
    vendor_id: str
    lead_id: str
    kind: str
    raised_at: AwareDatetime


class StageChange(View):
    stage: DealStage
    at: AwareDatetime


class DealView(View):
    vendor_id: str
    lead_id: str | None
    stage: DealStage
    amount: int
    history: list[StageChange]


class TicketView(View):
    vendor_id: str
    priority: TicketPriority
    status: str
    created_at: AwareDatetime
    first_response_at: AwareDatetime | None
    closed_at: AwareDatetime | None
    first_response_breached: bool
    resolution_breached: bool


class SurveyInviteView(View):
    vendor_id: str
    ticket_id: str
    sent_at: AwareDatetime
    contact_id: str | None = Field(
        default=None, description="who the survey was sent to, where the adapter reads it (observes)"
    )


class ConversionFigure(View):
    leads: int
    won: int
    rate_pct: float


class FirstResponseFigure(View):
    tickets: int
    mean_minutes: float
    median_minutes: float


class RepActivity(View):
    call: int = 0
    meeting: int = 0
    email: int = 0
    tasks_done: int = 0


class WeeklyActivityFigure(View):
    week_start: AwareDatetime
    reps: dict[str, RepActivity]


class SlaComplianceFigure(View):
    tickets: int
    met: int
    rate_pct: float


class ForecastFigure(View):
    forecast_amount: float
    won_amount: float


class NpsFigure(View):
    responses: int
    nps: float


class CallDirection(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class CallLog(BaseModel):
    """One phone call as a VoIP system reports it to the CRM."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    number: str = Field(pattern=r"^\+\d{8,15}$", description="the other party, E.164")
    direction: CallDirection
    duration_seconds: int = Field(ge=0)
    started_at: AwareDatetime


class CallView(View):
    """A call on a lead's activity timeline, as the CRM shows it."""

    vendor_id: str
    number: str
    direction: CallDirection
    duration_seconds: int
    started_at: AwareDatetime


class WebhookNotice(View):
    """What one verified webhook payload says: which event, about which record."""

    event: str
    record_id: str


class LeadChanges(BaseModel):
    """Fields of a lead to change (the security checks update leads as different users)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str | None = Field(default=None, min_length=3)
    estimated_value: int | None = Field(default=None, gt=0)


class TeamRole(StrEnum):
    SALES_REP = "sales_rep"
    MANAGER = "manager"


class TeamMember(Record):
    """A user the harness creates to probe access control: a role in a team."""

    name: str = Field(min_length=2)
    email: EmailStr
    role: TeamRole
    team: str = Field(min_length=1)


class AuditAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class AuditEntryView(View):
    """One entry of the vendor's audit log about one record."""

    action: AuditAction
    record_id: str
    actor_id: str | None
    at: AwareDatetime


class RecordView(View):
    """Any record as the access-control probe reads it: its id and its one descriptive field (a lead's
    title, an account's name, a ticket's subject...)."""

    vendor_id: str
    label: str | None = None


class AuditSettingsView(View):
    """The audit log's settings as the vendor's API tells them."""

    retention_days: int = Field(ge=0)
    export_formats: list[str] = Field(default_factory=list)


def utc_iso(moment: datetime) -> str:
    """A timestamp as the ledger and the reports write it."""
    return moment.isoformat(timespec="seconds")
