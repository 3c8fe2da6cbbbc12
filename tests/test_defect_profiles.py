"""The suites' verdicts: all pass on the healthy reference CRM, and each defect profile fails exactly
the checks that cover the behaviour it breaks (every other check of every suite still passes).

The healthy run is the session's shared one, at the acceptance record count.  Each defect profile runs
every suite in process at the smallest record count where its expectation still holds (``RECORDS``; the
configuration's minimum of 20 for most), a few at the acceptance count as a real run would (``FULL_SIZE``),
and, unless the profile breaks behaviour under load, with a shorter load probe: the scale checks must still
pass, and the profiles that fail them run the probe as configured by default."""

from __future__ import annotations

from pathlib import Path

import pytest

from poc_harness.config import MIN_ACCEPTANCE_RECORDS
from poc_harness.sandbox.profiles import PROFILES
from tests.suite_runner import SuiteRun, run_suite, write_config

OWNER = "lead_to_contract::every_lead_gets_an_owner"
SPREAD = "lead_to_contract::leads_spread_by_the_assignment_rule"
FOLLOWUPS = "lead_to_contract::followups_due_at_t2_and_t5"
SILENCE = "lead_to_contract::silence_alert_after_7_days_and_not_after_activity"
CONVERSION = "lead_to_contract::conversion_to_won_contract_keeps_history"
LEAD_CHECKS = {OWNER, SPREAD, FOLLOWUPS, SILENCE, CONVERSION}
TIMELY = "ticket_to_resolution::timely_answers_are_not_flagged"
LATE = "ticket_to_resolution::late_answers_are_flagged_as_breached"
FIRST_RESPONSE = "ticket_to_resolution::first_response_time_matches_the_ledger"
SURVEY = "ticket_to_resolution::closing_sends_exactly_one_nps_survey"
NPS = "ticket_to_resolution::nps_matches_recorded_responses"
TICKET_CHECKS = {TIMELY, LATE, FIRST_RESPONSE, SURVEY, NPS}
CONVERSION_REPORT = "ceo_reporting::conversion_rate_report"
FIRST_RESPONSE_REPORT = "ceo_reporting::first_response_time_report"
WEEKLY_REPORT = "ceo_reporting::weekly_sales_activity_report"
SLA_REPORT = "ceo_reporting::sla_compliance_report"
FORECAST_REPORT = "ceo_reporting::forecast_accuracy"
THREE_REPORTS = "ceo_reporting::three_management_reports_ready"
CEO_CHECKS = {
    CONVERSION_REPORT,
    FIRST_RESPONSE_REPORT,
    WEEKLY_REPORT,
    SLA_REPORT,
    FORECAST_REPORT,
    THREE_REPORTS,
}
WEBHOOK_SIGNED = "integrations::webhook_deliveries_are_signed"
WEBHOOK_PAYLOAD = "integrations::webhook_names_the_created_lead"
WEBHOOK_RETRY = "integrations::webhook_retried_with_the_same_event_id"
DWH_EXPORT = "integrations::dwh_export_reconciles_with_the_ledger"
VOIP_CALL = "integrations::voip_call_appears_on_the_lead"
CONNECTED = "integrations::voip_or_dwh_connected"
INTEGRATION_CHECKS = {WEBHOOK_SIGNED, WEBHOOK_PAYLOAD, WEBHOOK_RETRY, DWH_EXPORT, VOIP_CALL, CONNECTED}
RBAC = "security::sales_rep_confined_to_own_team"
NO_CREDENTIALS = "security::requests_without_valid_credentials_refused"
SIGN_UP = "security::anonymous_sign_up_cannot_make_a_privileged_user"
AUDIT_ACTIONS = "security::audit_log_records_harness_writes"
AUDIT_RETENTION = "security::audit_log_kept_180_days"
SAML = "security::saml_sp_metadata_valid"
SECURITY_CHECKS = {RBAC, NO_CREDENTIALS, SIGN_UP, AUDIT_ACTIONS, AUDIT_RETENTION, SAML}
THROUGHPUT = "scale::api_sustains_10k_requests_per_hour"
LATENCY = "scale::p95_latency_with_concurrent_users"
LOAD_ERRORS = "scale::concurrent_users_served_without_errors"
SCALE_CHECKS = {THROUGHPUT, LATENCY, LOAD_ERRORS}
ALL_CHECKS = LEAD_CHECKS | TICKET_CHECKS | CEO_CHECKS | INTEGRATION_CHECKS | SECURITY_CHECKS | SCALE_CHECKS

EXPECTED_FAILURES = {
    "healthy": set(),
    # a lead nobody owns has follow-ups nobody owns: the follow-up check judges the task's owner too
    "no_auto_assign": {OWNER, FOLLOWUPS},
    "followup_wrong_offsets": {FOLLOWUPS},
    "no_silence_alert": {SILENCE},
    "silence_alert_early": {SILENCE},
    "silence_ignores_activity": {SILENCE},
    "no_stage_history": {CONVERSION},
    # every priority takes every path now, so the breaches it misses and invents no longer cancel out in
    # the SLA-compliance counts
    "sla_ignores_priority": {TIMELY, LATE, SLA_REPORT},
    "no_nps_survey": {SURVEY, NPS},
    "nps_survey_twice": {SURVEY},
    "conversion_counts_lost": {CONVERSION_REPORT},
    "first_response_wrong_event": {FIRST_RESPONSE, FIRST_RESPONSE_REPORT},
    "forecast_20_off": {FORECAST_REPORT},
    "weekly_report_misses_tasks": {WEEKLY_REPORT},
    "sla_report_ignores_breaches": {SLA_REPORT},
    "rep_reads_everything": {RBAC},
    "audit_log_missing_actions": {AUDIT_ACTIONS},
    # access control and audit, one dimension each: kind, operation, credential, role, path, actor, time
    "rbac_leads_only": {RBAC},
    "rbac_owner_only": {RBAC},
    "list_leaks_other_teams": {RBAC},
    "rep_deletes_other_teams": {RBAC},
    "child_writes_unscoped": {RBAC},
    "garbage_token_on_one_route": {NO_CREDENTIALS},
    "unauthenticated_list": {NO_CREDENTIALS},
    "signup_picks_admin": {SIGN_UP},
    "batch_creates_unaudited": {AUDIT_ACTIONS},
    "child_writes_unaudited": {AUDIT_ACTIONS},
    "audit_actor_is_api_user": {AUDIT_ACTIONS},
    "audit_time_local": {AUDIT_ACTIONS},
    "short_audit_retention": {AUDIT_RETENTION},
    "saml_metadata_invalid": {SAML},
    # an unsigned delivery is not evidence: neither the payload nor the retry can be trusted
    "unsigned_webhooks": {WEBHOOK_SIGNED, WEBHOOK_PAYLOAD, WEBHOOK_RETRY},
    "webhooks_no_retry": {WEBHOOK_RETRY},
    # the API still keeps a logged call, but that read-back proves no connector: with the export broken
    # the connector rule is not measured (a harness error, our gap: the verdict is incomplete, not accept)
    "export_drops_records": {DWH_EXPORT, CONNECTED},
    "broken_connectors": {DWH_EXPORT, VOIP_CALL, CONNECTED},
    # slow only under concurrency: the suites' one-at-a-time calls stay fast, the probe's 20 users do not;
    # they wait ~1.4 s each, too slow for their pace (20 requests/s at 1 s each), so throughput fails too
    "slow_api": {LATENCY, THROUGHPUT},
    # --- load dimensions (h-scale): only concurrent callers see these, so only the scale checks fail ---
    "slow_writes_under_load": {LATENCY},  # the writes' p95, judged on its own
    "errors_under_load": {LOAD_ERRORS},  # 503s a retry hides are still errors
    "hangs_under_load": {LOAD_ERRORS},  # ~2 % hang past the timeout
    "throughput_capped": {THROUGHPUT, LATENCY},  # one at a time: ~16/s for 20 users wanting 20/s
    # lead automation, one dimension each (h-leads): the day count, the weekday, the hour, the actor,
    # the activity kind, the count, the time zone
    "followup_business_days": {FOLLOWUPS},
    "followup_skips_weekend": {FOLLOWUPS},
    "followup_from_midnight": {FOLLOWUPS},
    # a task owned by someone else is out of the rep's reach too: the access matrix refuses the rep their
    # own lead's follow-up (read, list, update, complete), a defect of its own
    "followup_owned_by_api_user": {FOLLOWUPS, RBAC},
    "followup_owned_by_first_rep": {FOLLOWUPS, RBAC},
    # unassigned leads have unowned follow-ups; the assigned ones still take turns
    "off_hours_unassigned": {OWNER, FOLLOWUPS},
    "friday_unassigned": {OWNER, FOLLOWUPS},
    "assign_first_rep": {SPREAD},
    "assign_uneven_weights": {SPREAD},
    "silence_alert_twice": {SILENCE},
    "silence_alert_late": {SILENCE},
    "silence_business_days": {SILENCE},
    "silence_reset_only_by_calls": {SILENCE},
    "silence_reset_not_by_task_done": {SILENCE},
    "silence_reset_only_by_owner": {SILENCE},
    "silence_alert_utc_batch": {SILENCE},
    # --- second generation (issue 13): one dimension of the ticket, survey, deal or report rules each ---
    "survey_to_account_contact": {SURVEY},  # recipient
    "survey_only_after_reply": {SURVEY},  # path: closed without a reply
    "survey_not_after_reopen": {SURVEY},  # path: reopened, closed again
    "survey_on_reopen": {SURVEY},  # count: a survey at the reopen too
    "resolution_to_first_close": {LATE, SLA_REPORT},  # path: reopened, closed again late
    "sla_rate_floored": {SLA_REPORT},  # rounding
    # an internal note ends the first-response clock: flags, per-ticket time, the two reports
    "first_response_counts_notes": {LATE, FIRST_RESPONSE, FIRST_RESPONSE_REPORT, SLA_REPORT},
    "first_breach_ignores_close": {TIMELY, SLA_REPORT},  # path: closed without a reply, in time
    "sla_business_hours": {LATE, SLA_REPORT},  # time: tickets opened at night and at the weekend
    "urgent_shares_high_target": {LATE, SLA_REPORT},  # priority
    "conversion_rate_floored": {CONVERSION_REPORT},  # rounding
    "conversion_per_deal": {CONVERSION_REPORT},  # count: the denominator
    "conversion_counts_open": {CONVERSION_REPORT},  # kind: open deals at report time
    "nps_unanswered_as_zero": {NPS},  # count: unanswered surveys
    "nps_passives_as_detractors": {NPS},  # kind: scores 7-8
    "nps_drops_late_answers": {NPS},  # time: surveys answered days later
    "weekly_counts_notes": {WEEKLY_REPORT},  # kind: notes
    "weekly_misses_meetings": {WEEKLY_REPORT},  # kind: meetings
    "weekly_tasks_to_owner": {WEEKLY_REPORT},  # actor: who completed the task
    "forecast_counts_uncommitted": {FORECAST_REPORT},  # stage
    "forecast_ignores_period": {FORECAST_REPORT},  # time: deals closing after the period
    "deal_amount_from_estimate": {CONVERSION, FORECAST_REPORT},  # amount: negotiated, not estimated
    "deal_not_linked": {CONVERSION},  # the deal's lead
    "broken_reports": {
        CONVERSION_REPORT,
        FIRST_RESPONSE,
        FIRST_RESPONSE_REPORT,
        FORECAST_REPORT,
        THREE_REPORTS,
    },
}


def test_every_behaviour_profile_has_an_expectation() -> None:
    """Fault profiles (flaky transport) are covered by tests/test_faults.py."""
    assert set(EXPECTED_FAILURES) == {name for name, profile in PROFILES.items() if profile.fault is None}


def test_every_check_is_failed_by_some_broken_crm() -> None:
    """A check no broken CRM fails proves nothing: each is failed by a defect profile here, or (the scale
    checks) by a profile with a ``[load]`` table in tests/test_scale_suite.py."""
    from tests.test_scale_suite import SCALE_CASES

    failed = set().union(*EXPECTED_FAILURES.values(), *(failing for _, _, failing in SCALE_CASES))
    assert ALL_CHECKS - failed == set()


SMALL_RECORDS = 20
"""the configuration's minimum: enough for most profiles to show their defect"""
RECORDS: dict[str, int] = {
    # the profiles whose defect needs more records to show: the smallest round count found to show it
    # (seed 1404; a change of the seed data that hides a defect fails the test, it never passes silently)
    "assign_uneven_weights": 40,  # enough leads for the uneven turns to show in the spread
    "friday_unassigned": 40,  # leads arriving on a Friday
    "conversion_rate_floored": 50,  # a rate whose floor and rounding differ
    "forecast_counts_uncommitted": 100,  # uncommitted deals in the period
    "silence_reset_not_by_task_done": 100,  # a silent lead whose only activity is a completed task
    "weekly_counts_notes": 100,  # notes in the reported week
    "export_drops_records": 120,  # over 50 leads: a second page of the export (50 a page)
    "broken_connectors": 120,
}
FULL_SIZE = frozenset({"no_auto_assign", "sla_ignores_priority", "unsigned_webhooks", "broken_reports"})
"""profiles run at the acceptance record count too, as a real run: the small runs hide nothing"""
SHORT_PROBE_S = 0.5
"""the load probe's duration for a profile that does not break behaviour under load (1 s by default)"""


def _configure(tmp: Path, profile: str) -> None:
    records = MIN_ACCEPTANCE_RECORDS if profile in FULL_SIZE else RECORDS.get(profile, SMALL_RECORDS)
    short = f"[load]\nduration_seconds = {SHORT_PROBE_S}\n"
    probe = "" if EXPECTED_FAILURES[profile] & SCALE_CHECKS else short
    write_config(tmp, f"records = {records}\n", probe)


def _assert_fails_exactly(run: SuiteRun, failing: set[str]) -> None:
    outcomes = run.outcomes()
    assert set(outcomes) == ALL_CHECKS, run.stdout
    assert run.failed_checks() == failing, run.stdout
    assert {c for c, o in outcomes.items() if o == "passed"} == set(outcomes) - failing
    assert run.returncode == (1 if failing else 0), run.stdout + run.stderr


def test_healthy_crm_fails_no_check(healthy_run: SuiteRun) -> None:
    assert healthy_run.results is not None and healthy_run.results["run"]["acceptance_run"] is True
    _assert_fails_exactly(healthy_run, EXPECTED_FAILURES["healthy"])


@pytest.mark.parametrize("profile", sorted(set(EXPECTED_FAILURES) - {"healthy"}))
def test_profile_fails_exactly_its_checks(tmp_path: Path, profile: str) -> None:
    _configure(tmp_path, profile)
    run = run_suite(tmp_path, f"--vendor=sandbox:{profile}", "-p", "no:html")  # no pytest-html page needed
    _assert_fails_exactly(run, EXPECTED_FAILURES[profile])


def test_small_runs_are_smaller_than_acceptance() -> None:
    """The record counts above are a test economy, never a second acceptance threshold."""
    assert set(RECORDS) <= set(EXPECTED_FAILURES) and not FULL_SIZE & set(RECORDS)
    assert all(SMALL_RECORDS <= records < MIN_ACCEPTANCE_RECORDS for records in RECORDS.values())
