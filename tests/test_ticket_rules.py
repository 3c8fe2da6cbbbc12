"""The ticket and report rules' building blocks: displayed rates judged exactly, the ticket plan's
coverage, business-hours deadlines (a defect knob), and fields an adapter cannot observe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest

from fixtures.factories import build_dataset
from poc_harness.contract.adapter import Observed
from poc_harness.contract.model import SurveyInviteView, TicketPriority
from poc_harness.contract.observed import note_gaps, raise_gaps
from poc_harness.errors import NotExercised, NotObserved
from poc_harness.rules.display import decimals_of, percent, shown_right
from poc_harness.rules.tickets import survey_on_close
from poc_harness.run.buyer_calendar import BuyerCalendar
from poc_harness.run.ledger import ExpectationRow
from poc_harness.run.stories import TicketPath, _plan_tickets, negotiated_amount, rounding_exposures
from poc_harness.run.trial import Outcome


@pytest.mark.parametrize(
    ("shown", "exact", "right"),
    [
        (37, Fraction(374, 10), True),  # whole-percent display of 37.4 %
        (37, Fraction(376, 10), False),  # ... of 37.6 %: floored, not rounded
        (38, Fraction(376, 10), True),
        (37.4, Fraction(3746, 100), False),  # one decimal: 37.46 % shows 37.5
        (37.5, Fraction(3746, 100), True),
        (8.42, percent(8, 95), True),  # 8.4210... %
        (8.43, percent(8, 95), False),
        (0.0, Fraction(0), True),
    ],
)
def test_a_rate_is_right_only_as_the_exact_rate_rounded_to_its_own_decimals(
    shown: float, exact: Fraction, right: bool
) -> None:
    assert shown_right(shown, exact) is right


def test_decimals_are_read_from_the_figure() -> None:
    assert [decimals_of(x) for x in (37, 37.0, 37.5, 37.45, 1 / 3)] == [0, 0, 1, 2, 6]


def test_rounding_exposure_prefers_a_dropped_digit_of_five_at_whole_percent() -> None:
    assert rounding_exposures(10, 95) > rounding_exposures(8, 95)  # 10.53 % vs 8.42 %
    assert rounding_exposures(1, 0) == 0


@pytest.mark.parametrize("seed", [1, 1404, 2024])
def test_every_priority_takes_every_path_deterministically(seed: int) -> None:
    dataset = build_dataset(200, seed, "en_US", "t")
    plan = _plan_tickets(seed, dataset.tickets)
    pairs = {(ticket.priority, path) for ticket, path in plan}
    assert pairs == {(p, path) for p in TicketPriority for path in TicketPath}
    assert len({ticket.key for ticket, _ in plan}) == len(plan)
    assert [(t.key, p) for t, p in _plan_tickets(seed, dataset.tickets)] == [(t.key, p) for t, p in plan]


def test_a_negotiated_amount_is_never_the_estimate() -> None:
    amounts = [negotiated_amount(seed, "lead-0001", 1000) for seed in range(50)]
    assert 1000 not in amounts and len(set(amounts)) > 1


def test_business_hours_deadline_skips_nights_and_the_tehran_weekend() -> None:
    thursday_evening = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)  # Thursday 18:30 in Tehran
    due = BuyerCalendar().add_business_time(thursday_evening, timedelta(minutes=60))
    assert due == datetime(2026, 11, 28, 5, 30, tzinfo=UTC)  # Saturday 09:00 in Tehran


class _Surveys:
    """An adapter answering one ticket's survey invitations."""

    def __init__(self, invites: list[SurveyInviteView], observes: bool) -> None:
        self.invites, self._observes = invites, observes

    def ticket_surveys(self, ticket_id: str) -> list[SurveyInviteView]:
        return self.invites

    def observes(self, field: Observed) -> bool:
        return self._observes


CLOSED = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
PARAMS: dict[str, Any] = {
    "closes": [CLOSED.isoformat()],
    "contact_id": "C1",
    "delay_s": 3600,
    "tolerance_s": 60,
}


ROW = ExpectationRow(1, "run", "tickets::survey", "survey_on_close", "T1", {}, CLOSED, "due", None)


def _invite(contact: str | None) -> SurveyInviteView:
    return SurveyInviteView(vendor_id="S1", ticket_id="T1", sent_at=CLOSED, contact_id=contact)


def test_survey_to_someone_else_fails_and_an_unseen_recipient_is_not_observed() -> None:
    wrong = survey_on_close(_Surveys([_invite("C2")], observes=True), "T1", PARAMS)  # type: ignore[arg-type]
    assert not wrong.passed and "not the requester C1" in wrong.note
    required = survey_on_close(_Surveys([_invite(None)], observes=True), "T1", PARAMS)  # type: ignore[arg-type]
    assert not required.passed
    unseen = survey_on_close(_Surveys([_invite(None)], observes=False), "T1", PARAMS)  # type: ignore[arg-type]
    assert unseen.passed and unseen.extra == {"not_observed": ["survey recipient"]}
    outcome = Outcome(judged=[(ROW, unseen)])
    note_gaps(outcome, ROW, unseen, "acme")
    with pytest.raises(NotObserved, match=r"^not measured: 1 expectation.*survey recipient"):
        raise_gaps(outcome)
    outcome.judged.append((ROW, wrong))  # a failure is the vendor's: it wins over our gap
    raise_gaps(outcome)


def test_every_gap_of_ours_is_one_family_saying_not_measured() -> None:
    """NotObserved and NotImplementedByAdapter are NotExercised; each message starts ``not measured:``."""
    gap = NotObserved("the acme adapter does not read the survey recipient")
    assert isinstance(gap, NotExercised) and str(gap).startswith("not measured: the acme adapter")
    assert str(NotExercised("not measured: x")) == "not measured: x"


def test_a_reopened_ticket_wants_one_survey_per_close() -> None:
    closes = {**PARAMS, "closes": [CLOSED.isoformat(), (CLOSED + timedelta(hours=5)).isoformat()]}
    once = survey_on_close(_Surveys([_invite("C1")], observes=True), "T1", closes)  # type: ignore[arg-type]
    assert not once.passed and "1 survey(s) for 2 close(s)" in once.note
