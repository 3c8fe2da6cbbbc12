"""The lead scenario's data varies every dimension a vendor's rule could depend on, deterministically; its
rules judge every field (follow-up owner and link, alert count, the API user as owner) and say when the
adapter cannot see one."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from adapters.sandbox import SandboxAdapter, SandboxOptions
from poc_harness.config import HarnessSettings
from poc_harness.contract.model import Lead, LeadSource, SalesRep
from poc_harness.errors import NotObserved
from poc_harness.rules.leads import followups, lead_owned, silence_alert
from poc_harness.run.buyer_calendar import BuyerCalendar
from poc_harness.run.lead_plan import TOUCH_KINDS, plan_arrivals, plan_touches

TEHRAN = BuyerCalendar()
KEYS = [f"lead-{n:04d}" for n in range(1, 96)]
FRIDAY_EVENING = datetime(2026, 11, 27, 19, 30, tzinfo=UTC)  # 23:00 in Tehran


@pytest.mark.parametrize("anchor", [datetime(2026, 11, 25, 9, tzinfo=UTC), FRIDAY_EVENING])
@pytest.mark.parametrize("seed", [1404, 7])
def test_arrivals_cover_every_weekday_business_and_off_hours(anchor: datetime, seed: int) -> None:
    plan = plan_arrivals(KEYS, seed, TEHRAN, anchor)
    moments = set(plan.values())
    assert set(plan) == set(KEYS) and 30 <= len(moments) <= 40
    local = [TEHRAN.local(moment) for moment in moments]
    assert {day.weekday() for day in local} == set(range(7))
    assert Counter(TEHRAN.is_business_time(moment) for moment in moments).keys() == {True, False}
    assert {day.hour for day in local if day.weekday() == 4}  # Fridays get leads
    assert min(moments) > anchor and max(moments) - min(moments) >= timedelta(days=12)
    assert max(moments) < anchor + timedelta(days=16)
    assert plan == plan_arrivals(KEYS, seed, TEHRAN, anchor), "deterministic per seed"
    assert plan != plan_arrivals(KEYS, seed + 1, TEHRAN, anchor)


def test_touches_exercise_every_kind_on_several_leads_by_owners_and_others_before_day_7() -> None:
    tolerance = timedelta(hours=1)
    plan = plan_touches(KEYS[:18], 1404, 7.0, tolerance)
    kinds = Counter(touch.kind for touch in plan.values())
    assert set(kinds) == set(TOUCH_KINDS) and min(kinds.values()) >= 3
    days = {touch.after.days for touch in plan.values()}
    assert days == {1, 2, 3, 4, 5, 6}
    assert all(touch.after <= timedelta(days=7) - 2 * tolerance for touch in plan.values())
    for kind in TOUCH_KINDS:
        assert {touch.by_owner for touch in plan.values() if touch.kind == kind} == {True, False}


def test_business_days_skip_the_buyers_days_off() -> None:
    wednesday = datetime(2026, 11, 25, 10, tzinfo=TEHRAN.zone)  # Thursday and Friday are off in Iran
    assert TEHRAN.add_days(wednesday, 2, "business") == datetime(2026, 11, 29, 10, tzinfo=TEHRAN.zone)
    assert TEHRAN.add_days(wednesday, 2) == datetime(2026, 11, 27, 10, tzinfo=TEHRAN.zone)
    berlin = BuyerCalendar("Europe/Berlin", ("mon", "tue", "wed", "thu", "fri"))
    friday = datetime(2026, 11, 27, 10, tzinfo=berlin.zone)
    assert berlin.add_days(friday, 1, "business").weekday() == 0


def test_harness_settings_name_the_calendar_and_refuse_unknown_zones() -> None:
    settings = HarnessSettings()
    assert settings.time_zone == "Asia/Tehran" and settings.work_week == ["sat", "sun", "mon", "tue", "wed"]
    assert settings.calendar().is_work_day(datetime(2026, 11, 28).date())  # a Saturday
    with pytest.raises(ValueError, match="unknown time zone"):
        HarnessSettings(time_zone="Mars/Olympus")


# --- rules against the reference CRM ------------------------------------------------------------


@pytest.fixture
def crm() -> Iterator[SandboxAdapter]:
    adapter = SandboxAdapter(SandboxOptions())
    yield adapter
    adapter.close()


def _lead(crm: SandboxAdapter) -> tuple[str, datetime]:
    crm.create_sales_rep(SalesRep(key="rep-1", tag="t", name="Rep One", email="rep1@example.example"))
    lead = Lead(
        key="lead-1",
        tag="t",
        title="A lead [t]",
        company="Company",
        contact_name="Some One",
        email="one@company.example",
        phone="+989121234567",
        city="Tehran",
        source=LeadSource.WEBSITE,
        estimated_value=1000,
    )
    return crm.create_lead(lead), crm.now()


def _followup_params(arrived: datetime) -> dict[str, object]:
    calendar = {"time_zone": "Asia/Tehran", "work_week": ["sat"], "business_hours": [8, 17]}
    return {
        "arrived_at": arrived.isoformat(),
        "offsets_days": [2, 5],
        "calendar": calendar,
        "tolerance_s": 3600,
    }


def test_followups_judge_the_task_owner_and_say_when_the_adapter_cannot_see_it(crm: SandboxAdapter) -> None:
    lead_id, arrived = _lead(crm)
    assert followups(crm, lead_id, _followup_params(arrived)).passed
    blind = SandboxAdapter.__new__(SandboxAdapter)
    blind.__dict__.update(crm.__dict__)
    blind.observes_task_owner = False  # type: ignore[misc]
    with pytest.raises(NotObserved, match=r"^not measured: the sandbox adapter does not read the follow-up"):
        followups(blind, lead_id, _followup_params(arrived))
    wrong = followups(blind, lead_id, {**_followup_params(arrived), "offsets_days": [3, 5]})
    assert not wrong.passed, "a wrong due time is the vendor's, whatever the adapter cannot see"


def test_the_owner_check_refuses_the_api_user_and_reps_outside_the_team(crm: SandboxAdapter) -> None:
    lead_id, _ = _lead(crm)
    owner = crm.get_lead(lead_id).owner_id
    assert owner is not None
    assert lead_owned(crm, lead_id, {"pool": [owner], "api_user": "api-admin"}).passed
    assert not lead_owned(crm, lead_id, {"pool": ["someone-else"], "api_user": None}).passed
    assert not lead_owned(crm, lead_id, {"pool": [owner], "api_user": owner}).passed


def test_the_silence_rule_counts_alerts_and_bounds_them_on_both_sides(crm: SandboxAdapter) -> None:
    lead_id, arrived = _lead(crm)
    params = {"since": arrived.isoformat(), "days": 7, "tolerance_s": 3600}
    crm.advance_clock(timedelta(days=7, minutes=30))
    assert silence_alert(crm, lead_id, params).passed
    assert not silence_alert(crm, lead_id, {**params, "days": 6}).passed, "an alert after the window is late"
    assert not silence_alert(crm, lead_id, {**params, "days": 7.5}).passed, "an alert before it is early"
