"""The suites' verdicts: all pass on the healthy reference CRM, and each defect profile fails exactly
the checks that cover the behaviour it breaks (every other check still passes)."""

from __future__ import annotations

import pytest

from poc_harness.sandbox.profiles import PROFILES

OWNER = "lead_to_contract::every_lead_gets_an_owner"
FOLLOWUPS = "lead_to_contract::followups_due_at_t2_and_t5"
SILENCE = "lead_to_contract::silence_alert_after_7_days_and_not_after_activity"
CONVERSION = "lead_to_contract::conversion_to_won_contract_keeps_history"
LEAD_CHECKS = {OWNER, FOLLOWUPS, SILENCE, CONVERSION}

EXPECTED_FAILURES = {
    "healthy": set(),
    "no_auto_assign": {OWNER},
    "followup_wrong_offsets": {FOLLOWUPS},
    "no_silence_alert": {SILENCE},
    "silence_alert_early": {SILENCE},
    "silence_ignores_activity": {SILENCE},
    "no_stage_history": {CONVERSION},
}


def test_every_profile_has_an_expectation() -> None:
    assert set(EXPECTED_FAILURES) == set(PROFILES)


@pytest.mark.parametrize("profile", sorted(EXPECTED_FAILURES))
def test_profile_fails_exactly_its_checks(suite, profile: str) -> None:  # type: ignore[no-untyped-def]
    run = suite(f"--vendor=sandbox:{profile}")
    outcomes = run.outcomes()
    assert set(outcomes) >= LEAD_CHECKS, run.stdout
    assert run.failed_checks() == EXPECTED_FAILURES[profile], run.stdout
    assert {c for c, o in outcomes.items() if o == "passed"} == set(outcomes) - EXPECTED_FAILURES[profile]
    assert run.returncode == (1 if EXPECTED_FAILURES[profile] else 0), run.stdout + run.stderr
