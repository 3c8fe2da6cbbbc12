"""PoC scenario 1, lead -> contract: auto-assignment, follow-ups at T+2 and T+5 days, the 7-day
silence alert, and conversion to a won contract with its stage history.

Every check files its expectations in the ledger and judges them against the CRM
through the adapter; with ``--clock wall`` the time-based ones stay pending until a
later run finds them due.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from poc_harness.adapter import Capability
from poc_harness.plugin import verify
from poc_harness.seeding import SeededWorld
from poc_harness.stories import SILENCE_DAYS
from poc_harness.trial import FOLLOWUP_DAYS, Check, Trial


@pytest.fixture(scope="module")
def world(trial: Trial) -> SeededWorld:
    """The seeded dataset (reps, accounts, contacts, leads), seeded once per run."""
    return trial.world


@pytest.mark.severity("critical")
@pytest.mark.criterion("customisation")
@pytest.mark.requires(Capability.AUTO_ASSIGN)
def test_every_lead_gets_an_owner(trial: Trial, world: SeededWorld, check: Check) -> None:
    now = trial.now()
    for key, lead_id in world.leads.items():
        check.expect("lead_owned", lead_id, {"lead": key, "reps": world.rep_ids}, due_at=now)
    outcome = check.settle()
    owners = Counter(str(verdict.extra.get("owner")) for _, verdict in outcome.judged)
    check.observe("owner_distribution", dict(sorted(owners.items())))
    verify(outcome)


@pytest.mark.severity("major")
@pytest.mark.criterion("customisation")
@pytest.mark.requires(Capability.FOLLOWUP_TASKS)
def test_followups_due_at_t2_and_t5(trial: Trial, world: SeededWorld, check: Check) -> None:
    tolerance = trial.tolerance.total_seconds()
    for key, lead_id in world.leads.items():
        arrived = world.arrivals[key]
        params = {
            "lead": key,
            "arrived_at": arrived.isoformat(),
            "offsets_days": list(FOLLOWUP_DAYS),
            "tolerance_s": tolerance,
        }
        check.expect("followups", lead_id, params, due_at=arrived)
    verify(check.settle())


@pytest.mark.severity("major")
@pytest.mark.criterion("customisation")
@pytest.mark.requires(Capability.SILENCE_ALERT)
def test_silence_alert_after_7_days_and_not_after_activity(
    trial: Trial, world: SeededWorld, check: Check
) -> None:
    silence, tolerance = timedelta(days=SILENCE_DAYS), trial.tolerance
    common = {"days": SILENCE_DAYS, "tolerance_s": tolerance.total_seconds()}
    for key, logged_at in trial.silence.items():
        params = {"lead": key, "since": logged_at.isoformat(), "must_exist": False, **common}
        check.expect(
            "silence_alert", world.leads[key], params, due_at=world.arrivals[key] + silence + tolerance
        )
    for key in trial.cohorts.silent:
        arrived = world.arrivals[key]
        params = {"lead": key, "since": arrived.isoformat(), "must_exist": True, **common}
        check.expect("silence_alert", world.leads[key], params, due_at=arrived + silence + tolerance)
    verify(check.settle())


@pytest.mark.severity("critical")
@pytest.mark.criterion("customisation")
@pytest.mark.requires(Capability.DEALS)
def test_conversion_to_won_contract_keeps_history(trial: Trial, world: SeededWorld, check: Check) -> None:
    for deal in trial.deals:
        params = {
            "lead": deal.key,
            "lead_id": deal.lead_id,
            "amount": deal.amount,
            "stages": [stage.value for stage in deal.stages],
        }
        check.expect("deal_history", deal.deal_id, params, due_at=trial.now())
    verify(check.settle())
