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

from poc_harness.adapter import RecordKind
from poc_harness.model import Activity, ActivityKind, DealStage
from poc_harness.plugin import verify
from poc_harness.seeding import SeededWorld
from poc_harness.trial import FOLLOWUP_DAYS, SILENCE_DAYS, Check, Trial

WON_PATH = [DealStage.PROPOSAL, DealStage.NEGOTIATION, DealStage.WON]
LOST_PATH = [DealStage.PROPOSAL, DealStage.LOST]


@pytest.fixture(scope="module")
def world(trial: Trial) -> SeededWorld:
    """The seeded dataset (reps, accounts, contacts, leads), seeded once per run."""
    return trial.world


@pytest.mark.severity("critical")
@pytest.mark.criterion("customisation")
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
def test_silence_alert_after_7_days_and_not_after_activity(
    trial: Trial, world: SeededWorld, check: Check
) -> None:
    cohorts, tolerance = trial.cohorts, trial.tolerance
    silence = timedelta(days=SILENCE_DAYS)
    start = min(world.arrivals[key] for key in cohorts.active)
    trial.advance_to(start + timedelta(days=6))  # virtual clock: the activity happens on day 6
    for key in cohorts.active:
        lead_id = world.leads[key]
        activity = Activity(kind=ActivityKind.CALL, subject=f"Discovery call [{trial.tag}]")
        logged_at = trial.now()
        trial.seeder.create(
            RecordKind.ACTIVITY,
            activity,
            f"activity-{key}",
            lambda lead_id=lead_id, a=activity: trial.adapter.log_activity(lead_id, a),
        )
        params = {
            "lead": key,
            "since": logged_at.isoformat(),
            "days": SILENCE_DAYS,
            "tolerance_s": tolerance.total_seconds(),
            "must_exist": False,
        }
        check.expect("silence_alert", lead_id, params, due_at=world.arrivals[key] + silence + tolerance)
    for key in cohorts.silent:
        arrived = world.arrivals[key]
        params = {
            "lead": key,
            "since": arrived.isoformat(),
            "days": SILENCE_DAYS,
            "tolerance_s": tolerance.total_seconds(),
            "must_exist": True,
        }
        check.expect("silence_alert", world.leads[key], params, due_at=arrived + silence + tolerance)
    latest = max(world.arrivals[key] for key in cohorts.silent + cohorts.active)
    trial.advance_to(latest + silence + tolerance + timedelta(minutes=1))
    verify(check.settle())


@pytest.mark.severity("critical")
@pytest.mark.criterion("customisation")
def test_conversion_to_won_contract_keeps_history(trial: Trial, world: SeededWorld, check: Check) -> None:
    leads = {lead.key: lead for lead in trial.dataset.leads}
    plans = [(key, WON_PATH) for key in trial.cohorts.won] + [(key, LOST_PATH) for key in trial.cohorts.lost]
    for key, path in plans:
        lead_id, amount = world.leads[key], leads[key].estimated_value
        deal_id = trial.seeder.create(
            RecordKind.DEAL,
            {"lead": key, "amount": amount},
            f"deal-{key}",
            lambda lead_id=lead_id, amount=amount: trial.adapter.convert_lead(lead_id, amount),
        )
        for stage in path:
            trial.advance_to(trial.now() + timedelta(hours=1))
            trial.adapter.move_deal(deal_id, stage)
        stages = [DealStage.QUALIFICATION, *path]
        check.expect(
            "deal_history",
            deal_id,
            {"lead": key, "lead_id": lead_id, "amount": amount, "stages": [s.value for s in stages]},
            due_at=trial.now(),
        )
    verify(check.settle())
