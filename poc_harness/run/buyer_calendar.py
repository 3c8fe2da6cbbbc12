"""The buyer's calendar: time zone, working days and business hours, and day arithmetic over them.

Used to plan when leads arrive (every weekday, business and off hours, in the buyer's local time),
to compute follow-up due times in calendar or business days, and by the reference CRM's automation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""In ``datetime.weekday()`` order."""
IRAN_WORK_WEEK = ("sat", "sun", "mon", "tue", "wed")


@dataclass(frozen=True)
class BuyerCalendar:
    """A time zone, the working days (``mon``..``sun``) and business hours ``[start, end)`` in local time."""

    time_zone: str = "Asia/Tehran"
    work_week: Sequence[str] = IRAN_WORK_WEEK
    business_hours: tuple[int, int] = (8, 17)

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @cached_property
    def _work_days(self) -> frozenset[int]:
        return frozenset(WEEKDAY_NAMES.index(day) for day in self.work_week)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)

    def is_work_day(self, day: date) -> bool:
        return day.weekday() in self._work_days

    def is_business_time(self, moment: datetime) -> bool:
        """A working day, within business hours, in the buyer's time zone."""
        local = self.local(moment)
        start, end = self.business_hours
        return self.is_work_day(local.date()) and start <= local.hour < end

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        """The moment of local ``hour:minute`` on ``day`` (a date in the buyer's time zone)."""
        return datetime.combine(day, time(hour, minute), tzinfo=self.zone)

    def day_start(self, moment: datetime) -> datetime:
        """Local midnight of the day ``moment`` falls on."""
        return self.at(self.local(moment).date(), 0)

    def add_days(self, moment: datetime, days: float, kind: str = "calendar") -> datetime:
        """``moment`` plus ``days``: calendar days, or working days (each whole day skips non-working
        days; the local time of day is kept; a fraction of a day is added as hours)."""
        if kind == "calendar":
            return moment + timedelta(days=days)
        whole = int(days)
        local = self.local(moment)
        day = local.date()
        counted = 0
        while counted < whole:
            day += timedelta(days=1)
            if self.is_work_day(day):
                counted += 1
        moved = datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=self.zone)
        return moved + timedelta(days=days - whole)

    def next_work_moment(self, moment: datetime) -> datetime:
        """``moment`` itself on a working day, else the same local time on the next working day."""
        local = self.local(moment)
        day = local.date()
        while not self.is_work_day(day):
            day += timedelta(days=1)
        return datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=self.zone)

    def add_business_time(self, start: datetime, span: timedelta) -> datetime:
        """When ``span`` of business time (working days, business hours) has passed since ``start``."""
        left, moment = span, self.local(start)
        opening, closing = self.business_hours
        while left > timedelta(0):
            opens = moment.replace(hour=opening, minute=0, second=0, microsecond=0)
            closes = moment.replace(hour=closing, minute=0, second=0, microsecond=0)
            if not self.is_work_day(moment.date()) or moment >= closes:
                moment = opens + timedelta(days=1)
                continue
            moment = max(moment, opens)
            step = min(left, closes - moment)
            moment, left = moment + step, left - step
        return moment.astimezone(start.tzinfo)
