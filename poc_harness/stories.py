"""Stories: what the harness *does* to the CRM during a run, once per run, with the truth it knows.

Each story acts through the adapter (recording every record it creates in the ledger
first) and returns its ground truth: which deals were won, when each ticket was
answered and closed, which rep logged which activity.  Several suites read the same
truths, so every story runs once per trial, in the fixed order of ``Trial.timeline``.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from poc_harness.adapter import Capability, RecordKind
from poc_harness.clock import ClockMode
from poc_harness.errors import VendorError, VendorUnreachable
from poc_harness.lead_plan import plan_touches
from poc_harness.model import Activity, ActivityKind, DealStage, Lead, TicketPriority

if TYPE_CHECKING:
    from poc_harness.trial import Trial

WON_PATH = (DealStage.PROPOSAL, DealStage.NEGOTIATION, DealStage.WON)
LOST_PATH = (DealStage.PROPOSAL, DealStage.LOST)
NPS_SCORES = (10, 9, 8, 10, 6, 9, 3, 10, 7, 9, 0, 10)
LATE_BY = timedelta(minutes=30)
STAGE_STEP = timedelta(minutes=1)


@dataclass(frozen=True)
class TouchTruth:
    """One activity the harness did on an active lead: its kind, when, and the rep who did it."""

    key: str
    kind: str
    at: datetime
    actor: str | None


def silence_story(trial: Trial) -> dict[str, TouchTruth]:
    """The lead timeline, before anything else moves the clock: leads arrive as planned and each lead
    of the active cohort gets its one activity (``lead_plan``); then the clock moves past the last
    silence alert due.  ``virtual``: the clock moves from one arrival or activity moment to the next
    (leads of one moment seeded in one batch).  ``backdate``: arrivals are passed as past times (an
    active lead arrived as long before now as its activity is planned after arrival) and the
    activities are logged at once.  ``wall``: leads arrive when seeded, activities are logged at once.
    Returns each active lead's activity."""
    cohorts, mode = trial.cohorts, trial.clock_mode
    plan = trial.arrival_plan()
    touches = plan_touches(cohorts.active, trial.settings.seed, trial.silence_days, trial.tolerance)
    done: dict[str, TouchTruth] = {}
    failed: list[VendorError] = []

    def touch(key: str) -> None:
        """One lead's activity; a vendor error fails the silence check, not the rest of the timeline."""
        try:
            done[key] = _touch(trial, key, touches[key].kind, touches[key].by_owner)
        except VendorUnreachable:
            raise
        except VendorError as exc:
            failed.append(exc)

    if mode is ClockMode.VIRTUAL:
        events: list[tuple[datetime, int, list[str]]] = []  # (when, 0 arrive / 1 touch, keys)
        for moment in sorted({at for at in plan.values() if at is not None}):
            events.append((moment, 0, [key for key, at in plan.items() if at == moment]))
        heapq.heapify(events)
        while events:
            moment, action, keys = heapq.heappop(events)
            trial.advance_to(moment)
            if action == 1:
                touch(keys[0])
                continue
            trial.seed_leads(keys, lambda lead: None)
            for key in keys:
                if key in touches:
                    heapq.heappush(events, (trial.world.arrivals[key] + touches[key].after, 1, [key]))
    else:
        now = trial.now()

        def arrival(lead: Lead) -> datetime | None:
            if mode is ClockMode.WALL:
                return None
            touch = touches.get(lead.key)
            return now - touch.after if touch else plan[lead.key]

        trial.seed_leads(list(plan), arrival)
        for key in touches:
            touch(key)
    world = trial.world
    since = [world.arrivals[key] for key in cohorts.silent] + [truth.at for truth in done.values()]
    if since:
        trial.advance_to(max(since) + timedelta(days=trial.silence_days) + trial.tolerance + STAGE_STEP)
    if failed:
        raise failed[0]
    return done


def _touch(trial: Trial, key: str, kind: str, by_owner: bool) -> TouchTruth:
    """Do one activity of ``kind`` on the lead, as its owner or as another rep (in turn)."""
    world, adapter = trial.world, trial.adapter
    lead_id, reps = world.leads[key], world.rep_ids
    owner = adapter.get_lead(lead_id).owner_id
    others = [rep for rep in reps if rep != owner] or reps
    turn = trial.cohorts.active.index(key)
    by_owner = by_owner or kind == "task_done"  # some CRMs make whoever completes a task its owner
    actor = owner if by_owner and owner is not None else (others[turn % len(others)] if others else None)
    task_key = f"activity-{key}"
    logged = trial.ledger.created_at(trial.run_id, RecordKind.ACTIVITY.value, task_key)
    if kind == "task_done" and logged is None:
        tasks = adapter.lead_tasks(lead_id) if adapter.has(Capability.FOLLOWUP_TASKS) else []
        if tasks:
            at = trial.now()
            adapter.complete_task(min(tasks, key=lambda task: task.due_at).vendor_id, actor)
            return TouchTruth(key, kind, at, actor)
        kind = ActivityKind.NOTE.value  # nothing to complete: a note is still activity
    activity = Activity(kind=ActivityKind(kind), subject=f"{kind} about {key} [{trial.tag}]", user_id=actor)
    at = logged or trial.now()
    trial.seeder.create(
        RecordKind.ACTIVITY, activity, task_key, lambda: adapter.log_activity(lead_id, activity)
    )
    return TouchTruth(key, kind, at, actor)


@dataclass(frozen=True)
class DealTruth:
    key: str
    lead_id: str
    deal_id: str
    amount: int
    stages: tuple[DealStage, ...]
    closed_at: datetime

    @property
    def won(self) -> bool:
        return self.stages[-1] is DealStage.WON


def _convert(trial: Trial, key: str, expected_close: datetime | None = None) -> tuple[str, str, int]:
    lead = next(lead for lead in trial.dataset.leads if lead.key == key)
    lead_id, amount = trial.world.leads[key], lead.estimated_value
    deal_id = trial.seeder.create(
        RecordKind.DEAL,
        {"lead": key, "amount": amount},
        f"deal-{key}",
        lambda: trial.adapter.convert_lead(lead_id, amount, expected_close),
    )
    return lead_id, deal_id, amount


def _walk(trial: Trial, deal_id: str, path: tuple[DealStage, ...]) -> datetime:
    """Move the deal through ``path``, a minute a stage; the time of the last move."""
    moved = trial.now()
    for stage in path:
        trial.advance_to(trial.now() + STAGE_STEP)
        moved = trial.now()
        trial.adapter.move_deal(deal_id, stage)
    return moved


def convert_deals(trial: Trial) -> list[DealTruth]:
    """The won and lost cohorts: lead -> deal -> won (or lost), one stage an hour."""
    truths = []
    plans = [(key, WON_PATH) for key in trial.cohorts.won] + [(key, LOST_PATH) for key in trial.cohorts.lost]
    for key, path in plans:
        lead_id, deal_id, amount = _convert(trial, key)
        closed = _walk(trial, deal_id, path)
        truths.append(DealTruth(key, lead_id, deal_id, amount, (DealStage.QUALIFICATION, *path), closed))
    return truths


@dataclass(frozen=True)
class ForecastTruth:
    start: datetime
    end: datetime
    forecast_amount: float | None
    deals: list[DealTruth]

    def actual_won(self, every_deal: list[DealTruth]) -> int:
        """What was really won in the period, by every deal of the run (not only the forecast's)."""
        return sum(d.amount for d in every_deal if d.won and self.start <= d.closed_at < self.end)


def forecast_story(trial: Trial) -> ForecastTruth:
    """A pipeline closing in the next 30 days: half committed (negotiation), half not; the CRM's
    forecast is read first, then the committed deals are won and the others lost.  Runs after the
    won/lost cohorts (``Trial.forecast`` sees to it), so the period's truth is complete."""
    start = trial.now()
    end = start + timedelta(days=30)
    keys = trial.cohorts.forecast
    committed_keys = set(keys[: (len(keys) + 1) // 2])
    opened = []
    for key in keys:
        lead_id, deal_id, amount = _convert(trial, key, expected_close=start + timedelta(days=10))
        path = (DealStage.PROPOSAL, DealStage.NEGOTIATION) if key in committed_keys else (DealStage.PROPOSAL,)
        _walk(trial, deal_id, path)
        opened.append((key, lead_id, deal_id, amount, path))
    forecast = (
        trial.adapter.report_forecast(start, end, trial.tag).forecast_amount
        if trial.adapter.has(Capability.FORECAST)
        else None  # the forecast check reports the finding; the deals still close for the other reports
    )
    deals = []
    for key, lead_id, deal_id, amount, path in opened:
        final = DealStage.WON if key in committed_keys else DealStage.LOST
        closed = _walk(trial, deal_id, (final,))
        deals.append(
            DealTruth(key, lead_id, deal_id, amount, (DealStage.QUALIFICATION, *path, final), closed)
        )
    return ForecastTruth(start, end, forecast, deals)


@dataclass
class WeekTruth:
    """Activities and completed tasks per rep vendor id, in the week starting ``week_start``."""

    week_start: datetime
    reps: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, rep: str, what: str) -> None:
        counts = self.reps.setdefault(rep, {})
        counts[what] = counts.get(what, 0) + 1


def monday(moment: datetime) -> datetime:
    day = moment - timedelta(days=moment.weekday())
    return day.replace(hour=0, minute=0, second=0, microsecond=0)


def activity_story(trial: Trial) -> WeekTruth:
    """Each rep logs calls, meetings and e-mails on the converted leads, and completes follow-ups."""
    rng = random.Random(trial.settings.seed + 7)
    reps = trial.world.rep_ids
    leads = trial.cohorts.won + trial.cohorts.lost
    week = WeekTruth(monday(trial.now()))
    for index, key in enumerate(leads):
        lead_id = trial.world.leads[key]
        rep = reps[index % len(reps)]
        for kind in rng.sample(
            [ActivityKind.CALL, ActivityKind.MEETING, ActivityKind.EMAIL], k=rng.randint(1, 3)
        ):
            activity = Activity(kind=kind, subject=f"{kind.value} about {key} [{trial.tag}]", user_id=rep)
            logged_at = trial.now()
            trial.seeder.create(
                RecordKind.ACTIVITY,
                activity,
                f"weekly-{kind.value}-{key}",
                lambda lead_id=lead_id, a=activity: trial.adapter.log_activity(lead_id, a),
            )
            if monday(logged_at) == week.week_start:
                week.add(rep, kind.value)
        if trial.adapter.has(Capability.FOLLOWUP_TASKS) and index % 2 == 0:
            tasks = sorted(trial.adapter.lead_tasks(lead_id), key=lambda task: task.due_at)
            if tasks:
                done_at = trial.now()
                trial.adapter.complete_task(tasks[0].vendor_id, rep)
                if monday(done_at) == week.week_start:
                    week.add(rep, "tasks_done")
    return week


@dataclass
class TicketTruth:
    key: str
    ticket_id: str
    priority: TicketPriority
    late: bool
    closes: bool
    opened_at: datetime
    replied_at: datetime | None = None
    closed_at: datetime | None = None
    score: int | None = None


def ticket_story(trial: Trial) -> list[TicketTruth]:
    """Open every seeded ticket; answer a planned quarter late; close two thirds; answer the NPS survey.

    ``virtual``: late answers come 30 min after the target.  ``backdate``: late tickets are
    opened in the past.  ``wall``: late tickets stay unanswered (their breach is judged later).
    """
    rng = random.Random(trial.settings.seed + 11)
    sla, mode = trial.config.sla, trial.clock_mode
    tickets = list(trial.dataset.tickets)
    late = {
        next(t.key for t in tickets if t.priority is p)
        for p in TicketPriority
        if any(t.priority is p for t in tickets)
    }  # one late ticket of every priority...
    others = [t.key for t in tickets if t.key not in late]
    rng.shuffle(others)
    late |= set(others[: max(0, len(tickets) // 4 - len(late))])  # ...and a quarter late in all
    contacts = trial.world.contacts
    truths: list[TicketTruth] = []
    offsets: list[tuple[timedelta, timedelta]] = []  # (reply, close) after opening, in virtual time
    for n, ticket in enumerate(tickets):
        first = timedelta(minutes=sla.first_response_minutes[ticket.priority.value])
        resolve = timedelta(minutes=sla.resolution_minutes[ticket.priority.value])
        is_late = ticket.key in late
        backdated = trial.now() - resolve - LATE_BY if is_late and mode is ClockMode.BACKDATE else None
        opened = backdated or trial.now()
        ticket_id = trial.seeder.create(
            RecordKind.TICKET,
            ticket,
            ticket.key,
            lambda t=ticket, b=backdated: trial.adapter.create_ticket(t, contacts[t.contact_key], b),
        )
        truth = TicketTruth(
            ticket.key,
            ticket_id,
            ticket.priority,
            is_late,
            n % 3 != 2,
            opened,
            score=NPS_SCORES[n % len(NPS_SCORES)],
        )
        truths.append(truth)
        offsets.append((first + LATE_BY, resolve + LATE_BY) if is_late else (first / 2, resolve / 2))
    events: list[tuple[datetime, int, str, TicketTruth]] = []
    for index, (truth, (after_reply, after_close)) in enumerate(zip(truths, offsets, strict=True)):
        if mode is ClockMode.VIRTUAL:
            events.append((truth.opened_at + after_reply, index, "reply", truth))
            if truth.closes:
                events.append((truth.opened_at + after_close, index, "close", truth))
        elif not (truth.late and mode is ClockMode.WALL):
            events.append((truth.opened_at, index, "reply", truth))
            if truth.closes:
                events.append((truth.opened_at, index, "close", truth))
    for moment, _, action, truth in sorted(events, key=lambda e: (e[0], e[1], e[2] == "close")):
        trial.advance_to(moment)
        if action == "reply":
            truth.replied_at = trial.now()
            trial.adapter.reply_ticket(truth.ticket_id, f"We are looking into it [{trial.tag}]")
        else:
            truth.closed_at = trial.now()
            trial.adapter.close_ticket(truth.ticket_id)
            _answer_survey(trial, truth)
    return truths


def _answer_survey(trial: Trial, truth: TicketTruth) -> None:
    """The customer answers the first survey invitation, if the CRM sent one."""
    if not trial.adapter.has(Capability.NPS_SURVEY) or truth.score is None:
        truth.score = None
        return
    invites = trial.adapter.ticket_surveys(truth.ticket_id)
    if not invites:
        truth.score = None
        return
    trial.adapter.answer_survey(invites[0].vendor_id, truth.score)
