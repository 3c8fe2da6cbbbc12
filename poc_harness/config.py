"""The run configuration: ``poc.toml`` plus command-line options plus environment secrets.

Secrets never live in the file: an adapter option ending in ``_env`` names the
environment variable that holds the secret (see ``secret_from_env``).  Every problem
is reported as one ``ConfigError`` line naming the file, the key and the fix.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from poc_harness.errors import ConfigError
from poc_harness.grading.criteria import DEFAULT_WEIGHTS, Criterion
from poc_harness.redaction import REDACTOR
from poc_harness.run.buyer_calendar import BuyerCalendar

DEFAULT_CONFIG = Path("poc.toml")
MIN_ACCEPTANCE_RECORDS = 200


PriorityName = Literal["low", "normal", "high", "urgent"]


class SlaPolicy(BaseModel):
    """The buyer's service-level targets, in minutes per ticket priority (``[sla]``); configure the same
    targets in each vendor's CRM."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    first_response_minutes: dict[PriorityName, float] = {
        "urgent": 60,
        "high": 240,
        "normal": 480,
        "low": 1440,
    }
    resolution_minutes: dict[PriorityName, float] = {
        "urgent": 240,
        "high": 1440,
        "normal": 4320,
        "low": 7200,
    }


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
IRAN_WORK_WEEK: tuple[Weekday, ...] = ("sat", "sun", "mon", "tue", "wed")


class HarnessSettings(BaseModel):
    """The ``[harness]`` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    locale: Literal["fa_IR", "en_US"] = "fa_IR"
    records: int = Field(default=MIN_ACCEPTANCE_RECORDS, ge=20)
    seed: int = 1404
    ledger: Path = Path("reports/ledger.sqlite")
    reports_dir: Path = Path("reports")
    tolerance_minutes: float = Field(
        default=60.0, gt=0, description="due-time tolerance of follow-ups, alerts"
    )
    response_tolerance_seconds: float = Field(default=60.0, gt=0, description="first-response time tolerance")
    survey_delay_minutes: float = Field(
        default=60.0, ge=0, description="NPS survey due this long after close"
    )
    rate_tolerance_pp: float = Field(default=0.5, ge=0, description="reported rates, percentage points")
    forecast_tolerance_pct: float = Field(default=10.0, ge=0, description="forecast error vs actual won")
    audit_tolerance_seconds: float = Field(
        default=120.0, gt=0, description="audit-log entry time vs when the harness wrote"
    )
    audit_retention_days: int = Field(default=180, ge=1, description="audit log kept at least this long")
    # --- the buyer's calendar and lead rules (the lead -> contract scenario) ---
    time_zone: str = Field(default="Asia/Tehran", description="the buyer's IANA time zone")
    work_week: list[Weekday] = Field(
        default_factory=lambda: list(IRAN_WORK_WEEK), min_length=1,
        description="the buyer's working days (Iran: Saturday to Wednesday)",
    )
    business_hours: tuple[int, int] = Field(default=(8, 17), description="[start, end) local hours")
    followup_days: list[float] = Field(
        default_factory=lambda: [2.0, 5.0], min_length=1, description="follow-up tasks due this many days on"
    )
    followup_days_kind: Literal["calendar", "business"] = Field(
        default="calendar", description="follow-up offsets in calendar days or the buyer's working days"
    )
    silence_days: float = Field(default=7.0, gt=0, description="a lead silent this long raises one alert")
    assignment: Literal["round_robin", "any"] = Field(
        default="round_robin", description="round_robin: reps' lead counts differ by at most one"
    )

    def calendar(self) -> BuyerCalendar:
        """The buyer's calendar: time zone, working days, business hours."""
        return BuyerCalendar(self.time_zone, tuple(self.work_week), self.business_hours)

    @field_validator("time_zone")
    @classmethod
    def _iana_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}: use an IANA name such as Asia/Tehran") from None
        return name

    @field_validator("business_hours")
    @classmethod
    def _hours(cls, hours: tuple[int, int]) -> tuple[int, int]:
        if not 0 <= hours[0] < hours[1] <= 24:
            raise ValueError("business_hours must be [start, end] with 0 <= start < end <= 24")
        return hours


class MatrixSettings(BaseModel):
    """The ``[matrix]`` table: the weighted scoring matrix (all eight criteria, weights summing to 100)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weights: dict[Criterion, float] = Field(default_factory=lambda: dict[Criterion, float](DEFAULT_WEIGHTS))
    measured_share: float = Field(
        default=0.5, ge=0, le=1, description="share of measured vs declared evidence"
    )
    target: float = Field(default=85.0, ge=0, le=100)

    @model_validator(mode="after")
    def _complete_and_summing_to_100(self) -> MatrixSettings:
        missing = [c.value for c in Criterion if c not in self.weights]
        if missing:
            raise ValueError(f"[matrix.weights] miss {', '.join(missing)}: give all eight criteria")
        total = sum(self.weights.values())
        if abs(total - 100) > 1e-9:
            raise ValueError(f"[matrix.weights] sum to {total:g}, not 100: adjust them to sum to 100")
        return self


class EvidenceSettings(BaseModel):
    """The ``[evidence]`` table: where the committee's declared evidence lives."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    satisfaction: Path | None = Field(default=None, description="tester survey answers, CSV or YAML")
    scorecards: Path | None = Field(default=None, description="folder of <vendor>.yaml scorecards")
    scale_max: int = Field(default=5, ge=2)
    satisfied_at: int = Field(default=4, ge=1)


class WebhookSettings(BaseModel):
    """The ``[webhooks]`` table: where the harness's webhook receiver listens and how it verifies."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(default="127.0.0.1", description="address the receiver binds (0.0.0.0 for on-prem)")
    port: int = Field(default=0, ge=0, le=65535, description="0: a free port")
    public_url: HttpUrl | None = Field(
        default=None, description="the URL the vendor posts to (tunnel, reverse proxy); default: host:port"
    )
    secret_env: str | None = Field(
        default=None, description="variable holding a signing secret the vendor fixes; default: a fresh one"
    )
    tolerance_seconds: float = Field(default=300.0, gt=0, description="accepted age of a timestamp")
    wait_seconds: float | None = Field(
        default=None, gt=0, description="how long to wait for a retry; default: the adapter's documented one"
    )


class LoadSettings(BaseModel):
    """The ``[load]`` table: the load probe of the scalability checks (``poc_harness.probes.loadprobe``) and
    the checklist's thresholds.  The defaults keep the probe short (about a second) for everyday runs; for the
    acceptance figure, run ``users = 500`` for minutes, within the vendor's rate limit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    users: int = Field(default=20, ge=1, le=5000, description="concurrent virtual users")
    duration_seconds: float = Field(default=1.0, gt=0, le=86400, description="no request starts after it")
    max_requests: int = Field(default=500, ge=1, le=10_000_000, description="most requests sent, retries too")
    rate_limit_per_second: float | None = Field(
        default=None, gt=0, description="the vendor's API rate limit; default: the adapter's declared one"
    )
    write_share: float = Field(default=0.2, ge=0, le=1, description="share of the requests that are writes")
    think_seconds: float = Field(default=0.0, ge=0, description="a virtual user's pause between requests")
    timeout_seconds: float | None = Field(default=None, gt=0, description="default: the adapter's")
    required_users: int = Field(default=500, ge=1, description="checklist: concurrent users served")
    required_requests_per_hour: float = Field(default=10_000, gt=0, description="checklist: API throughput")
    p95_ms: float = Field(default=1000.0, gt=0, description="the buyer's p95 latency target under load")
    max_error_pct: float = Field(default=1.0, ge=0, le=100, description="requests failing after retries")


class PocConfig(BaseModel):
    """The whole file: ``[harness]`` and one ``[vendors.<name>]`` table per candidate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    harness: HarnessSettings = HarnessSettings()
    sla: SlaPolicy = SlaPolicy()
    matrix: MatrixSettings = MatrixSettings()
    evidence: EvidenceSettings = EvidenceSettings()
    webhooks: WebhookSettings = WebhookSettings()
    load: LoadSettings = LoadSettings()
    vendors: dict[str, dict[str, Any]] = {}
    source: str = Field(default="(defaults)", exclude=True)

    def vendor_table(self, vendor: str) -> tuple[str, dict[str, Any]]:
        """``(adapter name, options)`` for ``--vendor`` value ``name`` or ``name:profile``."""
        name, _, profile = vendor.partition(":")
        if not name:
            raise ConfigError("--vendor is empty: pass --vendor=<name>, e.g. --vendor=sandbox")
        table = dict(self.vendors.get(name, {}))
        adapter = str(table.pop("adapter", name))
        if profile:
            table["profile"] = profile
        return adapter, table


def _describe(exc: ValidationError, source: str) -> str:
    first = exc.errors()[0]
    key = ".".join(str(part) for part in first["loc"])
    if first["type"] == "extra_forbidden":
        return f"{source}: unknown key '{key}': remove it or check its spelling"
    given = first.get("input")
    shown = "" if isinstance(given, dict | list) else f" (got {given!r})"
    return f"{source}: key '{key}': {first['msg'].removeprefix('Value error, ')}{shown}"


def load_config(path: Path | None, overrides: dict[str, Any] | None = None) -> PocConfig:
    """Read ``path`` (or ``poc.toml`` when present, else defaults) and apply option overrides."""
    data: dict[str, Any] = {}
    source = "(defaults)"
    chosen = path if path is not None else (DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
    if chosen is not None:
        source = str(chosen)
        try:
            data = tomllib.loads(chosen.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{source}: file not found: pass --poc-config with an existing file") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML ({exc}): fix the syntax") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"{source}: cannot be read ({exc.__class__.__name__}): check the file"
            ) from None
    harness = dict(data.get("harness", {}))
    harness.update({key: value for key, value in (overrides or {}).items() if value is not None})
    data["harness"] = harness
    try:
        return PocConfig.model_validate({**data, "source": source})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from None


def secret_from_env(variable: str, purpose: str) -> SecretStr:
    """The secret held in environment variable ``variable``; registered for redaction."""
    value = os.environ.get(variable, "")
    if not value:
        raise ConfigError(f"environment variable {variable} is not set: export it ({purpose})")
    REDACTOR.add(value)
    return SecretStr(value)
