"""Defect profiles of the reference CRM: each breaks one behaviour, to prove the suites catch it."""

from __future__ import annotations

from dataclasses import dataclass

# --- access control and audit knobs (h-access) ----------------------------------------------------
REP_COLLECTIONS = ("accounts", "contacts", "leads", "deals", "tickets", "tasks", "activities")
"""The collections a sales rep's token reaches, each record only within the rep's team."""
SCOPED_OPERATIONS = ("read", "list", "update", "delete", "child")
"""What a rep does to a record: read it, see it listed, change it, delete it, write under it."""
AUDIT_PATHS = ("single", "batch", "child")
"""How a write reaches the CRM: one record's route, the batch route, a route under a parent record."""

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
    rbac_team_scope: bool = True  # a user's token reaches only their team's records
    rbac_scoped_collections: tuple[str, ...] = REP_COLLECTIONS  # team scope enforced on these only
    rbac_scoped_operations: tuple[str, ...] = SCOPED_OPERATIONS  # ... and for these operations only
    rbac_team_mates_share: bool = True  # False: a rep reaches only the records they own themselves
    any_token_routes: tuple[tuple[str, str], ...] = ()  # (method, route) answering any bearer token
    anonymous_routes: tuple[tuple[str, str], ...] = ()  # (method, route) answering with no token at all
    signup_roles: tuple[str, ...] = ()  # roles the public sign-up grants when asked (else a guest)
    audit_paths: tuple[str, ...] = AUDIT_PATHS  # the write paths the audit log records
    audit_actor_is_api_user: bool = False  # every entry names the API user, whoever acted
    audit_time_shift_hours: float = 0.0  # entries carry the local wall clock labelled as UTC
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
    # --- load dimensions (h-scale): what only concurrent callers see; one caller at a time never does ---
    contention_methods: tuple[str, ...] = ()  # the methods `contention_ms` slows; () every method
    overload_at: int = 0  # requests in flight (the arriving one counted) from which `overload` strikes
    overload: str | None = None  # "503" (no Retry-After) or "hang" (held `slow_seconds`, past the timeout)
    overload_every: int = 1  # every n-th request arriving while overloaded gets `overload`
    serial_ms: float = 0.0  # with others in flight, requests are served one at a time, each this long
    # --- lead automation (lead -> contract); the CRM's calendar is the buyer's default (Asia/Tehran,
    # Saturday to Wednesday, 08:00-17:00) ---
    assignment: str = "round_robin"  # round_robin | first_rep (every lead) | weighted (first rep twice)
    unassigned_off_hours: bool = False  # a lead arriving outside business hours gets no owner
    unassigned_weekdays: tuple[int, ...] = ()  # local weekdays (0 = Monday) whose leads get no owner
    followup_days_kind: str = "calendar"  # calendar | business (working days)
    followup_weekend_shift: bool = False  # a follow-up due on a non-working day moves to the next one
    followup_from_day_start: bool = False  # offsets counted from local midnight of the arrival day
    followup_owner: str = "lead_owner"  # lead_owner | api_user | first_rep
    silence_alerts: int = 1  # alerts raised per silent spell (the extra ones 30 minutes apart)
    silence_days_kind: str = "calendar"  # calendar | business
    silence_reset_kinds: tuple[str, ...] = ("call", "meeting", "email", "note", "task_done")
    silence_reset_by_owner_only: bool = False  # only the lead owner's activity resets the timer
    silence_at_utc_midnight: bool = False  # a daily job at 00:00 UTC raises the alerts due since
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
        # --- access control and audit: one dimension each (kind, operation, actor, path) -------------
        Profile(
            "rbac_leads_only",
            "team scope is enforced on leads only: accounts, contacts, deals, tickets, tasks and "
            "activities of every team are open to every rep",
            rbac_scoped_collections=("leads",),
        ),
        Profile(
            "rbac_owner_only",
            "a rep reaches only the records they own: their own team mates' are refused",
            rbac_team_mates_share=False,
        ),
        Profile(
            "list_leaks_other_teams",
            "a rep cannot open another team's record, but the collection listings show every team's",
            rbac_scoped_operations=("read", "update", "delete", "child"),
        ),
        Profile(
            "rep_deletes_other_teams",
            "a rep cannot read or change another team's records but can delete them",
            rbac_scoped_operations=("read", "list", "update", "child"),
        ),
        Profile(
            "child_writes_unscoped",
            "a rep logs activities on, converts, replies to and completes another team's records",
            rbac_scoped_operations=("read", "list", "update", "delete"),
        ),
        Profile(
            "garbage_token_on_one_route",
            "reading a deal by id accepts any bearer token",
            any_token_routes=(("GET", "/deals/{deal_id}"),),
        ),
        Profile(
            "unauthenticated_list",
            "the collection listings answer requests that carry no token",
            anonymous_routes=(("GET", "/{collection}"),),
        ),
        Profile(
            "signup_picks_admin",
            "the public sign-up grants whatever role it is asked for, administrator included",
            signup_roles=("sales_rep", "manager", "admin"),
        ),
        Profile(
            "batch_creates_unaudited",
            "records created through the batch route leave no audit entry",
            audit_paths=("single", "child"),
        ),
        Profile(
            "child_writes_unaudited",
            "writes under a record (activity, conversion, reply) leave no audit entry",
            audit_paths=("single", "batch"),
        ),
        Profile(
            "audit_actor_is_api_user",
            "every audit entry names the API user, also when a sales rep made the write",
            audit_actor_is_api_user=True,
        ),
        Profile(
            "audit_time_local",
            "audit times are Tehran's wall clock (+03:30) written as UTC: 3.5 hours late",
            audit_time_shift_hours=3.5,
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
        # --- load dimensions (h-scale): each perturbs what the load probe's concurrent users see ---
        Profile(
            "slow_writes_under_load",
            "writes slow down under concurrent load (each request in flight adds 100 ms); reads stay fast",
            contention_ms=100.0,
            contention_methods=("POST", "PUT", "PATCH", "DELETE"),
        ),
        Profile(
            "errors_under_load",
            "with 5 or more requests in flight, every 10th answers 503 without Retry-After",
            overload_at=5,
            overload="503",
            overload_every=10,
        ),
        Profile(
            "hangs_under_load",
            "with 5 or more requests in flight, every 40th hangs 30 s, past the client's timeout",
            overload_at=5,
            overload="hang",
            overload_every=40,
            slow_seconds=30.0,
        ),
        Profile(
            "throughput_capped",
            "concurrent requests are served one at a time, 60 ms each: about 16 requests/s at most",
            serial_ms=60.0,
        ),
        # --- lead automation: one dimension each (weekday, hour, time zone, actor, kind, count) ---
        Profile(
            "followup_business_days",
            "follow-ups due 2 and 5 working days on, not calendar days",
            followup_days_kind="business",
        ),
        Profile(
            "followup_skips_weekend",
            "a follow-up falling on a non-working day is moved to the next working day",
            followup_weekend_shift=True,
        ),
        Profile(
            "followup_from_midnight",
            "follow-up offsets counted from midnight of the arrival day, not the arrival",
            followup_from_day_start=True,
        ),
        Profile(
            "followup_owned_by_api_user",
            "follow-up tasks are owned by the API user that created the lead, not the lead's owner",
            followup_owner="api_user",
        ),
        Profile(
            "followup_owned_by_first_rep",
            "follow-up tasks all go to the first sales rep, whoever owns the lead",
            followup_owner="first_rep",
        ),
        Profile(
            "off_hours_unassigned",
            "leads arriving outside business hours (or on a day off) are left without an owner",
            unassigned_off_hours=True,
        ),
        Profile(
            "friday_unassigned",
            "leads arriving on a Friday (local time) are left without an owner",
            unassigned_weekdays=(4,),
        ),
        Profile("assign_first_rep", "every lead is assigned to the first sales rep", assignment="first_rep"),
        Profile(
            "assign_uneven_weights",
            "assignment weighs the first sales rep double",
            assignment="weighted",
        ),
        Profile("silence_alert_twice", "a silent lead raises two alerts", silence_alerts=2),
        Profile("silence_alert_late", "the silence alert fires after 8 days", silence_days=8.0),
        Profile(
            "silence_business_days",
            "the silence timer counts 7 working days, not 7 days",
            silence_days_kind="business",
        ),
        Profile(
            "silence_reset_only_by_calls",
            "only a logged call resets the silence timer (not an e-mail, meeting, note or task done)",
            silence_reset_kinds=("call",),
        ),
        Profile(
            "silence_reset_not_by_task_done",
            "completing a follow-up task does not reset the silence timer",
            silence_reset_kinds=("call", "meeting", "email", "note"),
        ),
        Profile(
            "silence_reset_only_by_owner",
            "activity logged by a rep other than the lead's owner does not reset the silence timer",
            silence_reset_by_owner_only=True,
        ),
        Profile(
            "silence_alert_utc_batch",
            "silence alerts are raised by a daily job at 00:00 UTC, up to a day late",
            silence_at_utc_midnight=True,
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
