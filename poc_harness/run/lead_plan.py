"""When leads arrive and which activity each active lead gets: a plan that varies every dimension a
vendor's lead rule could depend on, deterministic per seed.

- Arrivals spread over the trial's 14 days (every weekday twice, Friday, Saturday and Sunday included),
  alternating business hours and off hours in the buyer's time zone, in a few dozen distinct moments
  (leads of one moment are seeded in one batch).
- The active cohort gets one activity each, of every kind the suites know (call, e-mail, meeting, note,
  task done) in turn, on day 1 to 6 after arrival at varying hours, half of them by the lead's owner
  and half by another rep (a follow-up task is always completed by the lead's owner, since some CRMs
  make whoever completes a task its owner).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from poc_harness.run.buyer_calendar import BuyerCalendar

TRIAL_DAYS = 14
ARRIVAL_MOMENTS = 36
TOUCH_KINDS = ("call", "email", "meeting", "note", "task_done")
"""Every kind of activity on a lead the suites know; ``task_done`` completes a follow-up task."""


def plan_arrivals(
    keys: list[str],
    seed: int,
    calendar: BuyerCalendar,
    anchor: datetime,
    days: int = TRIAL_DAYS,
    moments: int = ARRIVAL_MOMENTS,
) -> dict[str, datetime]:
    """Lead key -> arrival, all on the ``days`` local days after ``anchor``'s (so strictly after it)."""
    if not keys:
        return {}
    rng = random.Random(seed * 7919 + 101)
    count = min(moments, len(keys))
    start, end = calendar.business_hours
    business_hours = list(range(start, end))
    off_hours = [hour for hour in range(24) if not start <= hour < end] or business_hours
    first_day = calendar.local(anchor).date()
    planned = set()
    for index in range(count):
        day = first_day + timedelta(days=1 + index * days // count)
        hours = business_hours if index % 2 == 0 else off_hours
        moment = calendar.at(day, rng.choice(hours), rng.randrange(60))
        while moment in planned:
            moment += timedelta(minutes=1)
        planned.add(moment)
    ordered = sorted(planned)
    shuffled = list(keys)
    rng.shuffle(shuffled)
    return {key: ordered[n % count] for n, key in enumerate(shuffled)}


@dataclass(frozen=True)
class PlannedTouch:
    """One activity the harness does on an active lead: what, how long after arrival, by whom."""

    kind: str
    after: timedelta
    by_owner: bool


def plan_touches(
    keys: list[str], seed: int, silence_days: float, tolerance: timedelta
) -> dict[str, PlannedTouch]:
    """Lead key -> its activity: kinds in turn (each on several leads when there are enough), on day
    1 to 6 after arrival at varying hours, always before the silence alert could be due."""
    rng = random.Random(seed * 104729 + 7)
    latest = timedelta(days=silence_days) - 2 * tolerance
    plan = {}
    for n, key in enumerate(keys):
        day = 1 + (n * 5 + seed) % 6
        after = min(timedelta(days=day, hours=rng.uniform(0, 12)), latest)
        plan[key] = PlannedTouch(TOUCH_KINDS[n % len(TOUCH_KINDS)], after, by_owner=n % 2 == 0)
    return plan
