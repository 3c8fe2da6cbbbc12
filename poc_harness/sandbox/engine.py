"""The reference CRM's state and automation: storage, a virtual clock, assignment, follow-ups, alerts.

Timers fire at their exact due time: whenever the clock moves (by an advance or a
request), every timer due by then is processed in order, as if a scheduler had been
running all along.  So a jump of 7 days raises the silence alert at T+7d, not at the
moment of the jump.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from poc_harness.run.buyer_calendar import BuyerCalendar
from poc_harness.sandbox.profiles import Profile

CLOSED_LEAD_STATUSES = frozenset({"converted", "closed"})
API_USER_ID = "api-admin"  # the administrator the API token acts as (``access.ADMIN_ID``)
EXTRA_ALERT_GAP = timedelta(minutes=30)


class NotFound(KeyError):
    """No record with that id in that collection."""


class Conflict(ValueError):
    """The request contradicts the record's state."""


@dataclass
class VirtualClock:
    """Starts at the real time; only ``advance`` moves it."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise Conflict("the clock cannot go backwards")
        self.now += delta
        return self.now


def _iso(moment: datetime) -> str:
    return moment.isoformat()


class CRMState:
    """Every collection of the reference CRM, guarded by one lock."""

    COLLECTIONS = (
        "users",
        "accounts",
        "contacts",
        "leads",
        "tasks",
        "alerts",
        "activities",
        "deals",
        "tickets",
        "replies",
        "surveys",
    )
    DEPENDENTS: ClassVar[dict[str, tuple[str, ...]]] = {
        "leads": ("tasks", "alerts", "activities"),
        "tickets": ("replies", "surveys"),
    }

    def __init__(self, profile: Profile, calendar: BuyerCalendar | None = None) -> None:
        self.profile = profile
        self.calendar = calendar or BuyerCalendar()
        """The CRM's configured calendar for its lead automation: the buyer's default one."""
        self.clock = VirtualClock()
        self.lock = threading.RLock()
        self.data: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in self.COLLECTIONS}
        self._ids = itertools.count(1)
        self._assign_cursor = 0
        self._timers: list[tuple[datetime, int, str, str]] = []  # (due, seq, lead_id, marker)
        self._seq = itertools.count()
        self.on_insert: list[Callable[[str, dict[str, Any]], None]] = []
        """Called with (collection, record) after each insert, under the lock: the webhooks' event source."""

    # --- storage ----------------------------------------------------------------------
    def insert(self, collection: str, record: dict[str, Any]) -> dict[str, Any]:
        record_id = f"{collection[:2].upper()}{next(self._ids):06d}"
        stored = {"id": record_id, **record}
        self.data[collection][record_id] = stored
        for listener in self.on_insert:
            listener(collection, stored)
        return stored

    def get(self, collection: str, record_id: str) -> dict[str, Any]:
        try:
            return self.data[collection][record_id]
        except KeyError:
            raise NotFound(f"{collection}/{record_id}") from None

    def delete(self, collection: str, record_id: str) -> None:
        if self.data[collection].pop(record_id, None) is None:
            raise NotFound(f"{collection}/{record_id}")
        parent_field = f"{collection[:-1]}_id"
        for dependent in self.DEPENDENTS.get(collection, ()):
            for rid in [r for r, rec in self.data[dependent].items() if rec.get(parent_field) == record_id]:
                del self.data[dependent][rid]

    def query(self, collection: str, **filters: Any) -> list[dict[str, Any]]:
        wanted = {k: v for k, v in filters.items() if v is not None}
        return [r for r in self.data[collection].values() if all(r.get(k) == v for k, v in wanted.items())]

    def children(self, collection: str, parent: str, parent_id: str) -> list[dict[str, Any]]:
        """The records of ``collection`` under one record of ``parent`` (their ``<parent>_id`` field, as in
        ``delete``); ``NotFound`` where that record is not there."""
        self.get(parent, parent_id)
        return self.query(collection, **{f"{parent[:-1]}_id": parent_id})

    # --- time -------------------------------------------------------------------------
    def advance(self, delta: timedelta) -> datetime:
        target = self.clock.now + delta
        self.run_timers(until=target)
        self.clock.now = target
        return target

    def run_timers(self, until: datetime | None = None) -> None:
        """Fire every timer due by ``until`` (default: now), each at its own due time."""
        limit = until or self.clock.now
        while self._timers and self._timers[0][0] <= limit:
            due, _, lead_id, marker = heapq.heappop(self._timers)
            lead = self.data["leads"].get(lead_id)
            if lead is None or lead["status"] in CLOSED_LEAD_STATUSES or lead["silence_marker"] != marker:
                continue
            self.insert("alerts", {"lead_id": lead_id, "kind": "silence", "raised_at": _iso(due)})

    def _arm_silence(self, lead: dict[str, Any], since: datetime) -> None:
        profile = self.profile
        if profile.silence_days is None:
            return
        marker = _iso(since)
        lead["silence_marker"] = marker
        due = self.calendar.add_days(since, profile.silence_days, profile.silence_days_kind)
        if profile.silence_at_utc_midnight:
            midnight = due.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            due = midnight if midnight == due else midnight + timedelta(days=1)
        for extra in range(max(1, profile.silence_alerts)):
            heapq.heappush(self._timers, (due + extra * EXTRA_ALERT_GAP, next(self._seq), lead["id"], marker))

    def past_or_now(self, moment: datetime | None) -> datetime:
        if moment is None:
            return self.clock.now
        if moment > self.clock.now:
            raise Conflict("a backdated time cannot be in the future")
        return moment

    # --- lead automation ----------------------------------------------------------------
    def _pool(self) -> list[dict[str, Any]]:
        return sorted(
            (
                u
                for u in self.data["users"].values()
                if u["role"] == "sales_rep" and u["active"] and u.get("in_assignment_pool", True)
            ),
            key=lambda u: u["id"],
        )

    def _next_owner(self, arrived: datetime) -> str | None:
        profile = self.profile
        reps = self._pool()
        if not reps or not profile.auto_assign:
            return None
        if profile.unassigned_off_hours and not self.calendar.is_business_time(arrived):
            return None
        if self.calendar.local(arrived).weekday() in profile.unassigned_weekdays:
            return None
        if profile.assignment == "first_rep":
            return str(reps[0]["id"])
        turns = [reps[0], *reps] if profile.assignment == "weighted" else reps
        owner = turns[self._assign_cursor % len(turns)]
        self._assign_cursor += 1
        return str(owner["id"])

    def _followup(self, lead: dict[str, Any], arrived: datetime, days: float) -> dict[str, Any]:
        """The automatic follow-up task ``days`` after the lead's arrival, as the profile computes it."""
        profile, calendar = self.profile, self.calendar
        base = calendar.day_start(arrived) if profile.followup_from_day_start else arrived
        due = calendar.add_days(base, days, profile.followup_days_kind)
        if profile.followup_weekend_shift:
            due = calendar.next_work_moment(due)
        owners = {
            "lead_owner": lead["owner_id"],
            "api_user": API_USER_ID,
            "first_rep": next((str(u["id"]) for u in self._pool()), None),
        }
        return {
            "lead_id": lead["id"],
            "subject": f"Follow up: {lead['title']} (day {days:g})",
            "due_at": _iso(due.astimezone(UTC)),
            "automatic": True,
            "status": "open",
            "owner_id": owners[profile.followup_owner],
        }

    def create_lead(self, fields: dict[str, Any], arrived_at: datetime | None) -> dict[str, Any]:
        arrived = self.past_or_now(arrived_at)
        lead = self.insert(
            "leads",
            {
                **fields,
                "status": "new",
                "owner_id": fields.get("owner_id") or self._next_owner(arrived),
                "created_at": _iso(arrived),
                "last_activity_at": _iso(arrived),
                "silence_marker": "",
            },
        )
        for days in self.profile.followup_days:
            self.insert("tasks", self._followup(lead, arrived, days))
        self._arm_silence(lead, arrived)
        return lead

    def log_activity(self, lead_id: str, fields: dict[str, Any], at: datetime | None) -> dict[str, Any]:
        lead = self.get("leads", lead_id)
        when = self.past_or_now(at)
        self.run_timers(until=when)
        activity = self.insert(
            "activities", {**fields, "lead_id": lead_id, "tag": lead.get("tag"), "at": _iso(when)}
        )
        self._touch(lead, when, str(fields.get("kind")), fields.get("user_id"))
        return activity

    def task_completed(self, task: dict[str, Any]) -> None:
        """A follow-up task marked done is activity on its lead."""
        lead = self.data["leads"].get(task.get("lead_id") or "")
        if lead is not None:
            self._touch(lead, self.clock.now, "task_done", task.get("done_by"))

    def _touch(self, lead: dict[str, Any], when: datetime, kind: str, actor: str | None) -> None:
        """Activity of ``kind`` by ``actor`` on the lead at ``when``: the silence timer starts again."""
        if when <= datetime.fromisoformat(lead["last_activity_at"]):
            return
        lead["last_activity_at"] = _iso(when)
        if lead["status"] == "new":
            lead["status"] = "working"
        profile = self.profile
        resets = profile.silence_resets_on_activity and kind in profile.silence_reset_kinds
        if profile.silence_reset_by_owner_only and actor != lead["owner_id"]:
            resets = False
        if resets:
            self._arm_silence(lead, when)

    # --- conversion ----------------------------------------------------------------------
    def convert_lead(self, lead_id: str, amount: int, expected_close: datetime | None) -> dict[str, Any]:
        lead = self.get("leads", lead_id)
        if lead["status"] in CLOSED_LEAD_STATUSES:
            raise Conflict(f"lead {lead_id} is already {lead['status']}")
        lead["status"] = "converted"
        now = _iso(self.clock.now)
        return self.insert(
            "deals",
            {
                "lead_id": lead_id,
                "name": lead["title"],
                "amount": amount,
                "owner_id": lead["owner_id"],
                "tag": lead.get("tag"),
                "stage": "qualification",
                "won_at": None,
                "expected_close": expected_close.isoformat() if expected_close else None,
                "history": [{"stage": "qualification", "at": now}],
            },
        )

    def move_deal(self, deal_id: str, stage: str) -> dict[str, Any]:
        deal = self.get("deals", deal_id)
        if deal["stage"] in ("won", "lost"):
            raise Conflict(f"deal {deal_id} is closed ({deal['stage']})")
        change = {"stage": stage, "at": _iso(self.clock.now)}
        deal["stage"] = stage
        if stage == "won":
            deal["won_at"] = change["at"]
        deal["history"] = [*deal["history"], change] if self.profile.keeps_stage_history else [change]
        return deal
