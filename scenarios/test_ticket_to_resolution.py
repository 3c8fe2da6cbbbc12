"""PoC scenario 2, ticket -> resolution: SLA timing and breach detection per priority, first-response
time, and the automatic NPS survey after closing.

The harness decides which seeded tickets it answers late, so it knows which must be
flagged as breached; every figure is compared with what the ledger recorded.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from poc_harness.adapter import Capability
from poc_harness.plugin import verify
from poc_harness.stories import TicketTruth
from poc_harness.trial import Check, Trial


@pytest.fixture(scope="module")
def tickets(trial: Trial) -> list[TicketTruth]:
    """Every seeded ticket, opened, answered (some late) and mostly closed, once per run."""
    return trial.tickets


def _targets(trial: Trial, truth: TicketTruth) -> tuple[timedelta, timedelta]:
    sla = trial.config.sla
    return (
        timedelta(minutes=sla.first_response_minutes[truth.priority.value]),
        timedelta(minutes=sla.resolution_minutes[truth.priority.value]),
    )


def _settle_after_due(trial: Trial, check: Check, dues: list[datetime]) -> None:
    if dues:
        trial.advance_to(max(dues))
    verify(check.settle())


@pytest.mark.severity("major")
@pytest.mark.criterion("customisation")
@pytest.mark.requires(Capability.SLA)
def test_timely_answers_are_not_flagged(trial: Trial, tickets: list[TicketTruth], check: Check) -> None:
    dues = []
    for truth in tickets:
        if truth.late or truth.replied_at is None:
            continue
        first, resolve = _targets(trial, truth)
        due = truth.opened_at + (resolve if truth.closes else first) + trial.tolerance
        params = {
            "ticket": truth.key,
            "priority": truth.priority.value,
            "first_breached": False,
            "resolution_breached": False if truth.closes else None,
        }
        check.expect("sla_flags", truth.ticket_id, params, due_at=due)
        dues.append(due)
    _settle_after_due(trial, check, dues)


@pytest.mark.severity("major")
@pytest.mark.criterion("customisation")
@pytest.mark.requires(Capability.SLA)
def test_late_answers_are_flagged_as_breached(trial: Trial, tickets: list[TicketTruth], check: Check) -> None:
    dues = []
    for truth in tickets:
        if not truth.late:
            continue
        first, resolve = _targets(trial, truth)
        closed_late = truth.closed_at is not None
        due = truth.opened_at + (resolve if closed_late else first) + trial.tolerance
        params = {
            "ticket": truth.key,
            "priority": truth.priority.value,
            "first_breached": True,
            "resolution_breached": True if closed_late else None,
        }
        check.expect("sla_flags", truth.ticket_id, params, due_at=due)
        dues.append(due)
    _settle_after_due(trial, check, dues)


@pytest.mark.severity("major")
@pytest.mark.criterion("customisation")
@pytest.mark.requires(Capability.SLA)
def test_first_response_time_matches_the_ledger(
    trial: Trial, tickets: list[TicketTruth], check: Check
) -> None:
    for truth in tickets:
        if truth.replied_at is not None:
            params = {
                "ticket": truth.key,
                "opened_at": truth.opened_at.isoformat(),
                "replied_at": truth.replied_at.isoformat(),
                "tolerance_s": trial.settings.response_tolerance_seconds,
            }
            check.expect("first_response_time", truth.ticket_id, params, due_at=truth.replied_at)
    verify(check.settle())


@pytest.mark.severity("major")
@pytest.mark.criterion("customisation")
@pytest.mark.requires(Capability.NPS_SURVEY)
def test_closing_sends_exactly_one_nps_survey(trial: Trial, tickets: list[TicketTruth], check: Check) -> None:
    delay = timedelta(minutes=trial.settings.survey_delay_minutes)
    dues = []
    for truth in tickets:
        if truth.closed_at is None and truth.replied_at is None:
            continue  # untouched so far (a late ticket in wall mode): nothing to say yet
        params = {
            "ticket": truth.key,
            "closed_at": truth.closed_at.isoformat() if truth.closed_at else None,
            "delay_s": delay.total_seconds(),
            "tolerance_s": trial.tolerance.total_seconds(),
        }
        due = (truth.closed_at + delay) if truth.closed_at else trial.now()
        check.expect("survey_on_close", truth.ticket_id, params, due_at=due)
        dues.append(due)
    _settle_after_due(trial, check, dues)


@pytest.mark.severity("minor")
@pytest.mark.criterion("reporting")
@pytest.mark.requires(Capability.NPS_SURVEY)
def test_nps_matches_recorded_responses(trial: Trial, tickets: list[TicketTruth], check: Check) -> None:
    scores = [truth.score for truth in tickets if truth.closed_at is not None and truth.score is not None]
    check.expect(
        "nps",
        trial.tag,
        {"scores": scores, "tolerance": trial.settings.rate_tolerance_pp},
        due_at=trial.now(),
    )
    verify(check.settle())
