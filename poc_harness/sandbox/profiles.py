"""Defect profiles of the reference CRM: each breaks one behaviour, to prove the suites catch it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    """The behaviour knobs of the reference CRM; the healthy profile keeps every default."""

    name: str
    description: str
    auto_assign: bool = True
    followup_days: tuple[float, ...] = (2.0, 5.0)
    silence_days: float | None = 7.0
    silence_resets_on_activity: bool = True
    keeps_stage_history: bool = True
    sla_by_priority: bool = True
    surveys_per_close: int = 1
    conversion_counts_lost: bool = False
    first_response_from_close: bool = False
    forecast_factor: float = 1.0
    report_tasks_done: bool = True
    sla_report_ignores_breaches: bool = False
    fault: str | None = None  # 429, 503, 500, malformed, slow: injected into every `fault_every`-th call
    fault_every: int = 0


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("healthy", "every behaviour as the PoC requires"),
        Profile("no_auto_assign", "incoming leads are left without an owner", auto_assign=False),
        Profile("followup_wrong_offsets", "follow-ups due at T+3 and T+6 days", followup_days=(3.0, 6.0)),
        Profile("no_silence_alert", "no alert for a lead silent for 7 days", silence_days=None),
        Profile("silence_alert_early", "the silence alert fires after 5 days", silence_days=5.0),
        Profile(
            "silence_ignores_activity",
            "logged activity does not reset the silence timer",
            silence_resets_on_activity=False,
        ),
        Profile("no_stage_history", "a deal keeps only its current stage", keeps_stage_history=False),
        Profile("sla_ignores_priority", "every ticket gets the normal priority's SLA", sla_by_priority=False),
        Profile("no_nps_survey", "no NPS survey is sent when a ticket closes", surveys_per_close=0),
        Profile("nps_survey_twice", "two NPS surveys are sent when a ticket closes", surveys_per_close=2),
        Profile(
            "conversion_counts_lost",
            "the conversion report counts lost deals as won",
            conversion_counts_lost=True,
        ),
        Profile(
            "first_response_wrong_event",
            "first response is measured to the close, not the first reply",
            first_response_from_close=True,
        ),
        Profile("forecast_20_off", "the forecast report is 20 % too high", forecast_factor=1.2),
        Profile(
            "weekly_report_misses_tasks",
            "the weekly activity report leaves out completed tasks",
            report_tasks_done=False,
        ),
        Profile(
            "sla_report_ignores_breaches",
            "the SLA compliance report counts every closed ticket as met",
            sla_report_ignores_breaches=True,
        ),
        Profile("flaky_429", "every 5th call answers 429 with Retry-After", fault="429", fault_every=5),
        Profile("flaky_503", "every 5th call answers 503 with Retry-After", fault="503", fault_every=5),
        Profile("errors_500", "every 25th call answers 500", fault="500", fault_every=25),
        Profile(
            "malformed_json",
            "every 25th read answers garbage instead of JSON",
            fault="malformed",
            fault_every=25,
        ),
        Profile(
            "broken_reports",
            "conversion, first-response and forecast reports all wrong",
            conversion_counts_lost=True,
            first_response_from_close=True,
            forecast_factor=1.2,
        ),
    )
}
