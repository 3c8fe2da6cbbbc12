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
    rbac_team_scope: bool = True  # a user's token reaches only their team's leads
    audit_actions: tuple[str, ...] = ("create", "update", "delete")  # the writes the audit log records
    audit_retention_days: int = 365
    saml_metadata_valid: bool = True
    webhooks_signed: bool = True
    webhook_attempts: int = 5  # deliveries of one event at most: the first and its retries
    export_page_skip: int = 0  # records the export's paging cursor jumps past between pages
    calls_lose_duration: bool = False  # a VoIP call log is stored with a duration of 0
    fault: str | None = None  # 429, 503, 500, malformed, slow, reset: every `fault_every`-th call;
    # partial_batch: every `fault_every`-th item of a batch create
    fault_every: int = 0
    slow_seconds: float = 0.0  # how late a "slow" answer comes (past the client's timeout)
    contention_ms: float = 0.0  # each other request in flight adds this to an answer (slow under load)
    # --- tickets, surveys, deals and reports (issue 13) ---
    survey_to_account_first_contact: bool = False  # the survey goes to the account's first contact
    survey_needs_reply: bool = False  # no survey for a ticket closed without a public reply
    survey_after_reopen: bool = True  # closing a reopened ticket sends a survey again
    survey_on_reopen: bool = False  # reopening a ticket sends a survey too
    resolution_to_first_close: bool = False  # resolution is measured to the first close, not the last
    sla_rate_floor: bool = False  # the SLA-compliance rate is floored to a whole percent
    first_response_counts_notes: bool = False  # an internal note counts as the first response
    close_ends_first_response_clock: bool = True  # closing without a reply stops the first-response SLA
    sla_business_hours: bool = False  # SLA clocks run only Sat-Wed 08:00-17:00 Asia/Tehran
    urgent_as_high: bool = False  # urgent tickets get the high priority's targets
    conversion_rate_floor: bool = False  # the conversion rate is floored to a whole percent
    conversion_per_deal: bool = False  # the conversion rate's denominator is deals, not leads
    conversion_counts_open: bool = False  # open deals count as won in the conversion report
    nps_unanswered_as_zero: bool = False  # an unanswered survey counts as a score of 0
    nps_passives_as_detractors: bool = False  # 7 and 8 count as detractors
    nps_answer_window_hours: float | None = None  # answers later than this after the invitation are dropped
    weekly_notes_as_calls: bool = False  # notes are counted as calls in the weekly report
    weekly_kinds: tuple[str, ...] = ("call", "meeting", "email")  # activity kinds the weekly report counts
    weekly_tasks_to_owner: bool = False  # a completed task is credited to the lead's owner
    forecast_counts_uncommitted: bool = False  # every open deal closing in the period is forecast
    forecast_ignores_period: bool = False  # committed deals count whatever their expected close
    deal_amount_from_estimate: bool = False  # conversion keeps the lead's estimate, not the amount sent
    deal_hides_lead: bool = False  # the deal's API answer does not name its lead


ISSUE_13_TICKET_PROFILES = (
    Profile(
        "survey_to_account_contact",
        "the NPS survey goes to the account's first contact, not the ticket's requester",
        survey_to_account_first_contact=True,
    ),
    Profile(
        "survey_only_after_reply",
        "no NPS survey for a ticket closed without a reply",
        survey_needs_reply=True,
    ),
    Profile(
        "survey_not_after_reopen",
        "closing a reopened ticket sends no NPS survey",
        survey_after_reopen=False,
    ),
    Profile("survey_on_reopen", "reopening a ticket sends an NPS survey too", survey_on_reopen=True),
    Profile(
        "resolution_to_first_close",
        "a reopened ticket's resolution is measured to its first close, not its last",
        resolution_to_first_close=True,
    ),
    Profile("sla_rate_floored", "the SLA-compliance rate is floored to a whole percent", sla_rate_floor=True),
    Profile(
        "first_response_counts_notes",
        "an internal note counts as the first response",
        first_response_counts_notes=True,
    ),
    Profile(
        "first_breach_ignores_close",
        "a ticket closed without a reply breaches first response once the target passes",
        close_ends_first_response_clock=False,
    ),
    Profile(
        "sla_business_hours",
        "SLA targets count business hours only (Sat-Wed 08:00-17:00 Tehran), not the buyer's 24/7 clock",
        sla_business_hours=True,
    ),
    Profile(
        "urgent_shares_high_target", "urgent tickets get the high priority's targets", urgent_as_high=True
    ),
    Profile(
        "conversion_rate_floored",
        "the conversion rate is floored to a whole percent",
        conversion_rate_floor=True,
    ),
    Profile(
        "conversion_per_deal",
        "the conversion rate divides won deals by deals, not by leads",
        conversion_per_deal=True,
    ),
    Profile(
        "conversion_counts_open",
        "open deals count as won in the conversion report",
        conversion_counts_open=True,
    ),
    Profile(
        "nps_unanswered_as_zero",
        "the NPS report counts an unanswered survey as a score of 0",
        nps_unanswered_as_zero=True,
    ),
    Profile(
        "nps_passives_as_detractors",
        "the NPS report counts passives (7-8) as detractors",
        nps_passives_as_detractors=True,
    ),
    Profile(
        "nps_drops_late_answers",
        "the NPS report leaves out surveys answered more than a day after they were sent",
        nps_answer_window_hours=24.0,
    ),
    Profile("weekly_counts_notes", "the weekly report counts notes as calls", weekly_notes_as_calls=True),
    Profile(
        "weekly_misses_meetings",
        "the weekly report leaves out meetings",
        weekly_kinds=("call", "email"),
    ),
    Profile(
        "weekly_tasks_to_owner",
        "the weekly report credits a completed task to the lead's owner, not to who completed it",
        weekly_tasks_to_owner=True,
    ),
    Profile(
        "forecast_counts_uncommitted",
        "the forecast counts every open deal closing in the period, committed or not",
        forecast_counts_uncommitted=True,
    ),
    Profile(
        "forecast_ignores_period",
        "the forecast counts committed deals closing after the period",
        forecast_ignores_period=True,
    ),
    Profile(
        "deal_amount_from_estimate",
        "a converted deal keeps the lead's estimate instead of the negotiated amount",
        deal_amount_from_estimate=True,
    ),
    Profile(
        "deal_not_linked", "a deal's API answer does not name the lead it came from", deal_hides_lead=True
    ),
)
"""Second-generation profiles of the ticket, survey, deal and report behaviours: one dimension each."""

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
        Profile(
            "rep_reads_everything",
            "a sales rep's token reads and changes every team's leads (RBAC not enforced)",
            rbac_team_scope=False,
        ),
        Profile(
            "audit_log_missing_actions",
            "the audit log records creates but no updates or deletes",
            audit_actions=("create",),
        ),
        Profile("short_audit_retention", "the audit log is kept 90 days", audit_retention_days=90),
        Profile(
            "saml_metadata_invalid",
            "the SAML metadata's assertion consumer service is plain http with the redirect binding",
            saml_metadata_valid=False,
        ),
        Profile("unsigned_webhooks", "webhooks are delivered without a signature", webhooks_signed=False),
        Profile("webhooks_no_retry", "a webhook delivery answered 500 is not retried", webhook_attempts=1),
        Profile(
            "export_drops_records",
            "the bulk export's paging skips the first record of every page after the first",
            export_page_skip=1,
        ),
        Profile(
            "broken_connectors",
            "the export drops records and VoIP call logs lose their duration: no connector works",
            export_page_skip=1,
            calls_lose_duration=True,
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
            "slow_answers",
            "every 100th call is applied but answered 30 s late, past the client's timeout",
            fault="slow",
            fault_every=100,
            slow_seconds=30.0,
        ),
        Profile(
            "connection_reset",
            "every 50th call is applied but the connection drops mid-answer",
            fault="reset",
            fault_every=50,
        ),
        Profile(
            "partial_batch",
            "every 7th item of a batch create fails once (503 for that item, not created)",
            fault="partial_batch",
            fault_every=7,
        ),
        Profile(
            "slow_api",
            "answers slow down under concurrent load: each request in flight adds 75 ms to every answer",
            contention_ms=75.0,
        ),
        *ISSUE_13_TICKET_PROFILES,
        Profile(
            "broken_reports",
            "conversion, first-response and forecast reports all wrong",
            conversion_counts_lost=True,
            first_response_from_close=True,
            forecast_factor=1.2,
        ),
    )
}
