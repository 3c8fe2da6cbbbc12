"""Stories: what the harness *does* to the CRM during a run, once per run, with the truth it knows.

Each story acts through the adapter (recording every record it creates in the ledger
first) and returns its ground truth: which deals were won, when each ticket was
answered and closed, which rep logged which activity.  Several suites read the same
truths, so every story runs once per trial, in the fixed order of ``Trial.timeline``.

A story receives only what it needs: a context (``poc_harness.run.story_context.StoryContext``: the adapter,
the run's clock and record writer, its tag, seed and the world seeded so far) extended by the story's own
part of the plan (its cohort, the buyer's SLA, ...), never the trial.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from fractions import Fraction
from functools import partial
from typing import TYPE_CHECKING

from poc_harness.contract.adapter import Capability, RecordKind
from poc_harness.contract.model import Activity, ActivityKind, DealStage, Lead, Ticket, TicketPriority
from poc_harness.errors import VendorError, VendorUnreachable
from poc_harness.run.clock import ClockMode
from poc_harness.run.lead_plan import plan_touches
from poc_harness.run.story_context import StoryContext

if TYPE_CHECKING:
    from poc_harness.config import SlaPolicy
    from poc_harness.run.buyer_calendar import BuyerCalendar
    from poc_harness.run.ledger import SeededRecord

WON_PATH = (DealStage.PROPOSAL, DealStage.NEGOTIATION, DealStage.WON)
LOST_PATH = (DealStage.PROPOSAL, DealStage.LOST)
NPS_SCORES = (10, 9, 8, 10, 6, 9, 3, 10, 7, 9, 0, 10)
LATE_BY = timedelta(minutes=30)
STAGE_STEP = timedelta(minutes=1)
NEGOTIATED = (0.8, 0.85, 0.9, 1.1, 1.15, 1.25)  # negotiated amount / the lead's estimate
OPEN_EVERY = timedelta(hours=7, minutes=13)  # tickets open at every hour and weekday over about a week
SURVEY_LATE_BY = timedelta(days=3)


@dataclass(frozen=True)
class TouchTruth:
    """One activity the harness did on an active lead: its kind, when, and the rep who did it."""

    key: str
    kind: str
    at: datetime
    actor: str | None


@dataclass(frozen=True)
class LeadTimelineContext(StoryContext):
    """The lead timeline's part of the plan."""

    active: list[str]
    """The leads that get one activity each."""
    silent: list[str]
    """The leads nobody touches."""
    arrivals: dict[str, datetime | None]
    """When each lead arrives (None: when seeded), as planned by the trial for its clock mode."""
    silence_days: float
    tolerance: timedelta
    seed_leads: Callable[[list[str], Callable[[Lead], datetime | None]], None]
    """Seeds the leads of the given keys now (each arriving at the given time), into ``world``."""


def silence_story(context: LeadTimelineContext) -> dict[str, TouchTruth]:
    """The lead timeline, before anything else moves the clock: leads arrive as planned and each lead
    of the active cohort gets its one activity (``lead_plan``); then the clock moves past the last
    silence alert due.  ``virtual``: the clock moves from one arrival or activity moment to the next
    (leads of one moment seeded in one batch).  ``backdate``: arrivals are passed as past times (an
    active lead arrived as long before now as its activity is planned after arrival) and the
    activities are logged at once.  ``wall``: leads arrive when seeded, activities are logged at once.
    Returns each active lead's activity."""
    mode, plan = context.clock.mode, context.arrivals
    touches = plan_touches(context.active, context.seed, context.silence_days, context.tolerance)
    done: dict[str, TouchTruth] = {}
    failed: list[VendorError] = []

    def touch(key: str) -> None:
        """One lead's activity; a vendor error fails the silence check, not the rest of the timeline."""
        try:
            done[key] = _touch(context, key, touches[key].kind, touches[key].by_owner)
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
            context.advance_to(moment)
            if action == 1:
                touch(keys[0])
                continue
            context.seed_leads(keys, lambda lead: None)
            for key in keys:
                if key in touches:
                    heapq.heappush(events, (context.world.arrivals[key] + touches[key].after, 1, [key]))
    else:
        now = context.now()

        def arrival(lead: Lead) -> datetime | None:
            if mode is ClockMode.WALL:
                return None
            touch = touches.get(lead.key)
            return now - touch.after if touch else plan[lead.key]

        context.seed_leads(list(plan), arrival)
        for key in touches:
            touch(key)
    world = context.world
    since = [world.arrivals[key] for key in context.silent] + [truth.at for truth in done.values()]
    if since:
        silence = timedelta(days=context.silence_days)
        context.advance_to(max(since) + silence + context.tolerance + STAGE_STEP)
    if failed:
        raise failed[0]
    return done


def _touch(context: LeadTimelineContext, key: str, kind: str, by_owner: bool) -> TouchTruth:
    """Do one activity of ``kind`` on the lead, as its owner or as another rep (in turn)."""
    world, adapter = context.world, context.adapter
    lead_id, reps = world.leads[key], world.rep_ids
    owner = adapter.get_lead(lead_id).owner_id
    others = [rep for rep in reps if rep != owner] or reps
    turn = context.active.index(key)
    by_owner = by_owner or kind == "task_done"  # some CRMs make whoever completes a task its owner
    actor = owner if by_owner and owner is not None else (others[turn % len(others)] if others else None)
    task_key = f"activity-{key}"
    logged = context.records.created_at(RecordKind.ACTIVITY, task_key)
    if kind == "task_done" and logged is None:
        tasks = adapter.lead_tasks(lead_id) if adapter.has(Capability.FOLLOWUP_TASKS) else []
        if tasks:
            at = context.now()
            adapter.complete_task(min(tasks, key=lambda task: task.due_at).vendor_id, actor)
            return TouchTruth(key, kind, at, actor)
        kind = ActivityKind.NOTE.value  # nothing to complete: a note is still activity
    activity = Activity(kind=ActivityKind(kind), subject=f"{kind} about {key} [{context.tag}]", user_id=actor)
    at = logged or context.now()
    context.records.create(
        RecordKind.ACTIVITY, activity, task_key, lambda: adapter.log_activity(lead_id, activity)
    )
    return TouchTruth(key, kind, at, actor)


@dataclass(frozen=True)
class DealTruth:
    """One converted lead's deal: the negotiated amount (never the lead's estimate) and the stages it went
    through; ``closed_at`` is None while the deal is still open."""

    key: str
    lead_id: str
    deal_id: str
    amount: int
    stages: tuple[DealStage, ...]
    closed_at: datetime | None
    estimate: int = 0

    @property
    def won(self) -> bool:
        return self.stages[-1] is DealStage.WON

    @property
    def open(self) -> bool:
        return self.stages[-1] not in (DealStage.WON, DealStage.LOST)


def negotiated_amount(seed: int, key: str, estimate: int) -> int:
    """What the deal is signed at: the estimate moved by a seeded factor, never equal to it."""
    amount = round(estimate * random.Random(f"{seed}:{key}").choice(NEGOTIATED))
    return amount if amount != estimate else estimate + 1


@dataclass(frozen=True)
class DealContext(StoryContext):
    """The won and lost cohorts' part of the plan."""

    won: list[str]
    lost: list[str]
    leads: list[Lead]
    """Every lead of the dataset (their estimates)."""


def _convert(
    context: DealContext, key: str, expected_close: datetime | None = None
) -> tuple[str, str, int, int]:
    """Convert the lead at its negotiated amount: (lead id, deal id, amount, the lead's estimate)."""
    lead = next(lead for lead in context.leads if lead.key == key)
    lead_id, estimate = context.world.leads[key], lead.estimated_value
    amount = negotiated_amount(context.seed, key, estimate)
    deal_id = context.records.create(
        RecordKind.DEAL,
        {"lead": key, "amount": amount, "estimate": estimate},
        f"deal-{key}",
        lambda: context.adapter.convert_lead(lead_id, amount, expected_close),
    )
    return lead_id, deal_id, amount, estimate


def _walk(context: StoryContext, deal_id: str, path: tuple[DealStage, ...]) -> datetime:
    """Move the deal through ``path``, a minute a stage; the time of the last move."""
    moved = context.now()
    for stage in path:
        context.advance_to(context.now() + STAGE_STEP)
        moved = context.now()
        context.adapter.move_deal(deal_id, stage)
    return moved


def convert_deals(context: DealContext) -> list[DealTruth]:
    """The won and lost cohorts: lead -> deal (at the negotiated amount) -> won (or lost)."""
    truths = []
    plans = [(key, WON_PATH) for key in context.won] + [(key, LOST_PATH) for key in context.lost]
    for key, path in plans:
        lead_id, deal_id, amount, estimate = _convert(context, key)
        closed = _walk(context, deal_id, path)
        stages = (DealStage.QUALIFICATION, *path)
        truths.append(DealTruth(key, lead_id, deal_id, amount, stages, closed, estimate))
    return truths


class PipelineRole(StrEnum):
    """What one forecast-cohort deal does around the moment the forecast is read."""

    COMMIT_IN = "commit_in"  # negotiation, closing in the period: forecast, then won
    COMMIT_OUT = "commit_out"  # negotiation, closing after the period: not forecast, stays open
    UNCOMMITTED_OPEN = "uncommitted_open"  # proposal, closing in the period: not forecast, stays open
    WON_EARLY = "won_early"  # won in the period before the read: forecast (as won)
    UNCOMMITTED_LOST = "uncommitted_lost"  # proposal, closing in the period: not forecast, then lost
    LOST_EARLY = "lost_early"  # negotiation then lost before the read: not forecast


PIPELINE_PATHS = {
    PipelineRole.COMMIT_IN: ((DealStage.PROPOSAL, DealStage.NEGOTIATION), DealStage.WON),
    PipelineRole.COMMIT_OUT: ((DealStage.PROPOSAL, DealStage.NEGOTIATION), None),
    PipelineRole.UNCOMMITTED_OPEN: ((DealStage.PROPOSAL,), None),
    PipelineRole.WON_EARLY: ((DealStage.PROPOSAL, DealStage.NEGOTIATION, DealStage.WON), None),
    PipelineRole.UNCOMMITTED_LOST: ((DealStage.PROPOSAL,), DealStage.LOST),
    PipelineRole.LOST_EARLY: ((DealStage.PROPOSAL, DealStage.NEGOTIATION, DealStage.LOST), None),
}
"""Per role: the stages walked before the forecast is read, and the final move after it (None: none)."""


@dataclass(frozen=True)
class ForecastTruth:
    start: datetime
    end: datetime
    forecast_amount: float | None
    deals: list[DealTruth]
    expected_at_read: float = 0.0
    """The forecast the pipeline implied when it was read: committed deals closing in the period plus
    what had been won in it (at negotiated amounts)."""
    roles: dict[str, str] = field(default_factory=dict)

    def actual_won(self, every_deal: list[DealTruth]) -> int:
        """What was really won in the period, by every deal of the run (not only the forecast's)."""
        return sum(
            d.amount for d in every_deal if d.won and d.closed_at and self.start <= d.closed_at < self.end
        )


@dataclass(frozen=True)
class ForecastContext(DealContext):
    """The forecast cohort's part of the plan, after the won and lost cohorts' deals."""

    forecast: list[str]
    deals: Callable[[], list[DealTruth]]
    """The won and lost cohorts' deals (``convert_deals``'s truth; raises that story's error)."""


def forecast_story(context: ForecastContext) -> ForecastTruth:
    """A pipeline around a 30-day period: committed and uncommitted deals closing inside it, committed ones
    closing after it, one won and one lost before the read.  The forecast is read, then the committed
    in-period deals are won and the uncommitted lost; the rest stays open, so every report after it sees
    open, won and lost deals.  Runs after the won/lost cohorts (``Trial.timeline`` sees to it)."""
    start = context.now()
    end = start + timedelta(days=30)
    plan = _plan_pipeline(context)
    opened = []
    expected = 0
    for key, role in plan.items():
        close = end + timedelta(days=10) if role is PipelineRole.COMMIT_OUT else start + timedelta(days=10)
        lead_id, deal_id, amount, estimate = _convert(context, key, expected_close=close)
        before, _ = PIPELINE_PATHS[role]
        moved = _walk(context, deal_id, before)
        if role in (PipelineRole.COMMIT_IN, PipelineRole.WON_EARLY):
            expected += amount
        opened.append((key, role, lead_id, deal_id, amount, estimate, before, moved))
    expected += sum(d.amount for d in context.deals() if d.won and d.closed_at and start <= d.closed_at < end)
    forecast = (
        context.adapter.report_forecast(start, end, context.tag).forecast_amount
        if context.adapter.has(Capability.FORECAST)
        else None  # the forecast check reports the finding; the deals still close for the other reports
    )
    deals = []
    for key, role, lead_id, deal_id, amount, estimate, before, moved in opened:
        final = PIPELINE_PATHS[role][1]
        path = (*before, final) if final else before
        closed = _walk(context, deal_id, (final,)) if final else (moved if before[-1] in CLOSED else None)
        stages = (DealStage.QUALIFICATION, *path)
        deals.append(DealTruth(key, lead_id, deal_id, amount, stages, closed, estimate))
    return ForecastTruth(start, end, forecast, deals, float(expected), {k: r.value for k, r in plan.items()})


CLOSED = (DealStage.WON, DealStage.LOST)
NOT_WON_ROLES = (PipelineRole.COMMIT_OUT, PipelineRole.UNCOMMITTED_OPEN, PipelineRole.UNCOMMITTED_LOST)


def rounding_exposures(part: int, whole: int) -> int:
    """How well ``part`` / ``whole`` % tells rounding from flooring: at each display precision (whole percent
    weighs most, then one and two decimals) whose dropped digit is 5 or more, floor and round differ."""
    if not whole:
        return 0
    exact = Fraction(100 * part, whole)
    return sum(weight for n, weight in ((0, 4), (1, 2), (2, 1)) if (exact * 10**n) % 1 >= Fraction(1, 2))


def _plan_pipeline(context: ForecastContext) -> dict[str, PipelineRole]:
    """Every role once (as far as the cohort goes), then the rest split between won and not-won roles so
    that the run's conversion rate exposes a report that floors instead of rounding."""
    keys, roles = context.forecast, list(PipelineRole)
    plan = {key: roles[n] for n, key in enumerate(keys[: len(roles)])}
    rest = keys[len(roles) :]
    winning = (PipelineRole.COMMIT_IN, PipelineRole.WON_EARLY)
    won = len(context.won) + sum(role in winning for role in plan.values())
    leads = len(context.leads)
    wins = max(
        range(len(rest) + 1),
        key=lambda k: (rounding_exposures(won + k, leads), -abs(2 * k - len(rest))),
    )
    for n, key in enumerate(rest):
        plan[key] = PipelineRole.COMMIT_IN if n < wins else NOT_WON_ROLES[n % len(NOT_WON_ROLES)]
    return plan


@dataclass
class WeekTruth:
    """Completed tasks per rep vendor id (who completed them, not the lead's owner) in the week starting
    ``week_start``; the activities come from the ledger (``with_activities``), whichever story logged them."""

    week_start: datetime
    reps: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, rep: str, what: str) -> None:
        counts = self.reps.setdefault(rep, {})
        counts[what] = counts.get(what, 0) + 1

    def with_activities(self, records: list[SeededRecord]) -> tuple[dict[str, dict[str, int]], int]:
        """Per rep: the completed tasks plus every activity the run logged in the week with that rep, per
        kind (calls, meetings, e-mails); and how many notes were logged (not sales activity: not counted)."""
        week = WeekTruth(self.week_start, {rep: dict(counts) for rep, counts in self.reps.items()})
        notes = 0
        for record in records:
            rep, kind, at = (record.payload.get(name) for name in ("user_id", "kind", "at"))
            when = datetime.fromisoformat(at) if at else record.created_at
            if not rep or when is None or not self.week_start <= when < self.week_start + timedelta(days=7):
                continue
            if kind == ActivityKind.NOTE.value:
                notes += 1
            elif kind in REPORTED_KINDS:
                week.add(rep, kind)
        return week.reps, notes


def monday(moment: datetime) -> datetime:
    day = moment - timedelta(days=moment.weekday())
    return day.replace(hour=0, minute=0, second=0, microsecond=0)


ACTIVITY_KINDS = (ActivityKind.CALL, ActivityKind.MEETING, ActivityKind.EMAIL, ActivityKind.NOTE)
REPORTED_KINDS = frozenset({ActivityKind.CALL.value, ActivityKind.MEETING.value, ActivityKind.EMAIL.value})
"""What the weekly report counts per rep (with completed tasks); notes are not sales activity."""


@dataclass(frozen=True)
class WeekContext(StoryContext):
    """The week's activity's part of the plan."""

    converted: list[str]
    """The leads the deals story converted: the won cohort, then the lost one."""


def activity_story(context: WeekContext) -> WeekTruth:
    """Each rep logs calls, meetings, e-mails and notes on the converted leads (every kind at least once),
    and completes follow-ups on leads another rep owns."""
    rng = random.Random(context.seed + 7)
    reps = context.world.rep_ids
    week = WeekTruth(monday(context.now()))
    for index, key in enumerate(context.converted):
        lead_id = context.world.leads[key]
        rep = reps[index % len(reps)]
        kinds = dict.fromkeys([ACTIVITY_KINDS[index % 4], *rng.sample(ACTIVITY_KINDS, k=rng.randint(0, 3))])
        for kind in kinds:
            activity = Activity(kind=kind, subject=f"{kind.value} about {key} [{context.tag}]", user_id=rep)
            context.records.create(
                RecordKind.ACTIVITY,
                activity,
                f"weekly-{kind.value}-{key}",
                partial(context.adapter.log_activity, lead_id, activity),
            )
        if context.adapter.has(Capability.FOLLOWUP_TASKS) and index % 2 == 0:
            tasks = sorted(context.adapter.lead_tasks(lead_id), key=lambda task: task.due_at)
            if tasks:
                doer = _other_rep(reps, context.adapter.get_lead(lead_id).owner_id, index)
                done_at = context.now()
                context.adapter.complete_task(tasks[0].vendor_id, doer)
                if monday(done_at) == week.week_start:
                    week.add(doer, "tasks_done")
    return week


def _other_rep(reps: list[str], owner: str | None, index: int) -> str:
    """A rep other than the lead's owner (where there is one), so credit to the owner is visibly wrong."""
    others = [rep for rep in reps if rep != owner] or reps
    return others[index % len(others)]


class TicketPath(StrEnum):
    """What happens to one ticket; every priority gets every path (see ``_plan_tickets``)."""

    REPLY_CLOSE = "reply_close"  # replied, then closed, both in time
    CLOSE_NO_REPLY = "close_no_reply"  # closed in time without a public reply
    CLOSE_LATE = "close_late"  # replied in time, closed after the resolution target
    REPLY_LATE = "reply_late"  # replied after the first-response target, closed in time
    BOTH_LATE = "both_late"  # replied and closed late
    REOPENED = "reopened"  # replied, closed, reopened, replied by another agent, closed again, in time
    REOPENED_LATE = "reopened_late"  # closed in time, reopened, closed again after the resolution target
    OPEN = "open"  # replied in time, never closed


LATE_PATHS = frozenset(
    {TicketPath.CLOSE_LATE, TicketPath.REPLY_LATE, TicketPath.BOTH_LATE, TicketPath.REOPENED_LATE}
)
WITHOUT_REOPEN = {
    TicketPath.REOPENED: TicketPath.REPLY_CLOSE,
    TicketPath.REOPENED_LATE: TicketPath.CLOSE_LATE,
}
"""The path a ticket takes instead where the CRM (or its adapter) offers no reopen."""
MET_PATHS = frozenset({TicketPath.REPLY_CLOSE, TicketPath.CLOSE_NO_REPLY, TicketPath.REOPENED})
MAX_FILLERS = 3  # extra tickets at most, to make the SLA-compliance rate tell rounding from flooring


def _steps(path: TicketPath, first: timedelta, resolve: timedelta) -> list[tuple[timedelta, str]]:
    """(offset after opening, action) of a path's public steps, in order."""
    early_reply, late_reply = (first / 2, "reply"), (first + LATE_BY, "reply")
    early_close, late_close = (resolve / 2, "close"), (resolve + LATE_BY, "close")
    return {
        TicketPath.REPLY_CLOSE: [early_reply, early_close],
        TicketPath.CLOSE_NO_REPLY: [(first / 2, "close")],
        TicketPath.CLOSE_LATE: [early_reply, late_close],
        TicketPath.REPLY_LATE: [late_reply, early_close],
        TicketPath.BOTH_LATE: [late_reply, late_close],
        TicketPath.REOPENED: [
            early_reply,
            (resolve * 0.3, "close"),
            (resolve * 0.4, "reopen"),
            (resolve * 0.45, "reply"),
            (resolve * 0.6, "close"),
        ],
        TicketPath.REOPENED_LATE: [
            early_reply,
            (resolve * 0.3, "close"),
            (resolve * 0.4, "reopen"),
            (resolve * 0.45, "reply"),
            late_close,
        ],
        TicketPath.OPEN: [early_reply],
    }[path]


class SurveyAnswer(StrEnum):
    """What the requester does with a survey invitation."""

    AT_ONCE = "at_once"
    NEVER = "never"
    DAYS_LATER = "days_later"


@dataclass
class TicketTruth:
    key: str
    ticket_id: str
    priority: TicketPriority
    path: TicketPath
    opened_at: datetime
    contact_id: str = ""
    noted: bool = False
    replied_at: datetime | None = None
    closes: list[datetime] = field(default_factory=list)
    reopened: bool = False
    scores: list[int] = field(default_factory=list)
    """The scores the requester gave, one per survey answered (none for a survey left unanswered)."""
    answers: list[str] = field(default_factory=list)
    planned: TicketPath | None = None
    """The path planned (differs from ``path`` where the CRM does not offer a reopen)."""

    @property
    def closed_at(self) -> datetime | None:
        """The last close (every path that reopens a ticket closes it again)."""
        return self.closes[-1] if self.closes else None

    def breaches(self, first: timedelta, resolve: timedelta) -> tuple[bool, bool]:
        """(first response, resolution) breached, per the buyer's 24/7 targets: the first public reply, or
        the first close of a ticket nobody replied to, ends the first-response clock; the last close ends
        the resolution clock; a ticket never closed breaches resolution once its target passes."""
        ends = [moment for moment in (self.replied_at, self.closes[0] if self.closes else None) if moment]
        first_breached = not ends or min(ends) > self.opened_at + first
        closed = self.closed_at
        return first_breached, closed is None or closed > self.opened_at + resolve

    @property
    def touched(self) -> bool:
        return self.replied_at is not None or bool(self.closes)


def _plan_tickets(seed: int, tickets: list[Ticket]) -> list[tuple[Ticket, TicketPath]]:
    """Every seeded ticket with a path; each priority covers every path (extra tickets where a priority has
    too few), in a seeded order, so which priority takes which path varies per seed."""
    rng = random.Random(seed + 11)
    paths = list(TicketPath)
    seeded = list(tickets)
    plan: list[tuple[Ticket, TicketPath]] = []
    for priority in TicketPriority:
        mine = [t for t in seeded if t.priority is priority]
        rng.shuffle(mine)
        template = mine[0] if mine else seeded[0]
        extra = [
            template.model_copy(update={"key": f"{template.key}-{priority.value}-{n}", "priority": priority})
            for n in range(len(paths) - len(mine))
        ]
        offset = rng.randrange(len(paths))
        plan += [(t, paths[(offset + n) % len(paths)]) for n, t in enumerate(mine + extra)]
    plan += _fillers(plan, seeded)
    rng.shuffle(plan)
    return plan


def _fillers(plan: list[tuple[Ticket, TicketPath]], seeded: list[Ticket]) -> list[tuple[Ticket, TicketPath]]:
    """A few more tickets, closed in time or late, so that the SLA-compliance rate (met / closed) has a
    dropped digit of 5 or more at whole percent where possible: a report that floors it is then wrong."""
    closed = sum(path is not TicketPath.OPEN for _, path in plan)
    met = sum(path in MET_PATHS for _, path in plan)
    options = [(a, b) for a in range(MAX_FILLERS + 1) for b in range(MAX_FILLERS + 1 - a)]
    timely, late = max(options, key=lambda o: (rounding_exposures(met + o[0], closed + sum(o)), -sum(o)))
    paths = [TicketPath.REPLY_CLOSE] * timely + [TicketPath.CLOSE_LATE] * late
    return [
        (seeded[n % len(seeded)].model_copy(update={"key": f"{seeded[n % len(seeded)].key}-sla-{n}"}), path)
        for n, path in enumerate(paths)
    ]


@dataclass
class SurveyPlan:
    """How the requesters answer, close after close: the three ways and the twelve scores in turn, from a
    seeded start, so each run sees every way and every kind of score (promoter, passive, detractor)."""

    seed: int
    closes: int = 0
    answered: int = 0
    later: list[tuple[TicketTruth, str, int]] = field(default_factory=list)
    """Answers given days after the invitation: (ticket, survey id, score)."""

    def next(self) -> tuple[SurveyAnswer, int]:
        """How the next close's survey is answered, and with which score."""
        start = random.Random(self.seed + 13).randrange(len(NPS_SCORES))
        self.closes += 1
        way = list(SurveyAnswer)[(start + self.closes) % len(SurveyAnswer)]
        self.answered += way is not SurveyAnswer.NEVER
        return way, NPS_SCORES[(start + self.answered) % len(NPS_SCORES)]


@dataclass(frozen=True)
class TicketContext(StoryContext):
    """The tickets' part of the plan: the dataset's tickets and the buyer's service levels."""

    tickets: list[Ticket]
    sla: SlaPolicy
    calendar: BuyerCalendar
    survey_delay: timedelta
    """How long after a close the CRM sends its survey invitation."""
    tolerance: timedelta


def ticket_story(context: TicketContext) -> list[TicketTruth]:
    """Open every ticket, take each down its planned path (replies by different agents, internal notes,
    reopens where the CRM offers them), and answer the NPS surveys: some at once, some days later,
    some never.  Ends with the clock past every ticket's targets and survey delay.

    ``virtual``: tickets open 7 h 13 min apart from the next midnight in the buyer's time zone (every hour
    and weekday), each step at its planned offset.  ``backdate``: a ticket with a late step is opened in
    the past, so that its steps, taken now, are late.  ``wall``: a ticket with a late step is left
    untouched (its breach is judged by a later run); the others take every step at once."""
    sla, mode = context.sla, context.clock.mode
    contacts, agents = context.world.contacts, [*context.world.rep_ids, None]
    reopens = context.adapter.has(Capability.TICKET_REOPEN)
    notes = context.adapter.has(Capability.TICKET_NOTES)
    now = context.now()
    next_midnight = context.calendar.day_start(now) + timedelta(days=1)  # in the buyer's time zone
    anchor = next_midnight.astimezone(now.tzinfo)
    events: list[tuple[datetime, int, int, str]] = []
    truths: list[TicketTruth] = []
    plan = _plan_tickets(context.seed, context.tickets)
    now = context.now()
    for n, (ticket, planned) in enumerate(plan):
        first = timedelta(minutes=sla.first_response_minutes[ticket.priority.value])
        resolve = timedelta(minutes=sla.resolution_minutes[ticket.priority.value])
        path = planned if reopens else WITHOUT_REOPEN.get(planned, planned)
        steps = _steps(path, first, resolve)
        if notes and (n % 3 != 1 or path in (TicketPath.CLOSE_NO_REPLY, TicketPath.REPLY_LATE)):
            steps.insert(0, (first / 4, "note"))
        truth = TicketTruth(ticket.key, "", ticket.priority, path, now, planned=planned)
        truths.append(truth)
        late = path in LATE_PATHS
        if mode is ClockMode.VIRTUAL:
            truth.opened_at = anchor + n * OPEN_EVERY
            events.append((truth.opened_at, n, 0, "open"))
            events += [(truth.opened_at + at, n, i + 1, act) for i, (at, act) in enumerate(steps)]
            continue
        if late and mode is ClockMode.BACKDATE:
            truth.opened_at = now - steps[-1][0]
        events.append((now, n, 0, "backdated" if truth.opened_at < now else "open"))
        if not (late and mode is ClockMode.WALL):
            events += [(now, n, i + 1, act) for i, (_, act) in enumerate(steps)]
    surveys = SurveyPlan(context.seed)
    for moment, n, step, action in sorted(events):
        context.advance_to(moment)
        truth, ticket = truths[n], plan[n][0]
        if action in ("open", "backdated"):
            _open(context, truth, ticket, contacts[ticket.contact_key], action == "backdated")
        else:
            _step(context, truth, action, agents[(n + step) % len(agents)], surveys)
    if surveys.later:
        context.advance_to(context.now() + SURVEY_LATE_BY)
        for truth, survey_id, score in surveys.later:
            context.adapter.answer_survey(survey_id, score)
            truth.scores.append(score)
    _settle_tickets(context, truths)
    return truths


def _open(context: StoryContext, truth: TicketTruth, ticket: Ticket, contact_id: str, backdate: bool) -> None:
    """Open the ticket for its requester, now or (``backdate``) at its planned opening time."""
    backdated = truth.opened_at if backdate else None
    if not backdate:
        truth.opened_at = context.now()
    truth.contact_id = contact_id
    truth.ticket_id = context.records.create(
        RecordKind.TICKET,
        ticket,
        ticket.key,
        lambda: context.adapter.create_ticket(ticket, contact_id, backdated),
    )


def _step(
    context: StoryContext, truth: TicketTruth, action: str, agent: str | None, surveys: SurveyPlan
) -> None:
    """One step of a ticket's path, by ``agent`` (None: the harness's own user)."""
    ticket_id, tag = truth.ticket_id, context.tag
    if action == "note":
        truth.noted = True
        context.adapter.note_ticket(ticket_id, f"Internal: checking the logs [{tag}]", agent)
    elif action == "reply":
        truth.replied_at = truth.replied_at or context.now()
        context.adapter.reply_ticket(ticket_id, f"We are looking into it [{tag}]", agent)
    elif action == "reopen":
        truth.reopened = True
        context.adapter.reopen_ticket(ticket_id)
    else:
        truth.closes.append(context.now())
        context.adapter.close_ticket(ticket_id)
        _answer_survey(context, truth, surveys)


def _answer_survey(context: StoryContext, truth: TicketTruth, surveys: SurveyPlan) -> None:
    """The requester answers the newest survey invitation at once, days later or never (``SurveyPlan``), if
    the CRM sent one."""
    if not context.adapter.has(Capability.NPS_SURVEY):
        return
    invites = sorted(context.adapter.ticket_surveys(truth.ticket_id), key=lambda invite: invite.sent_at)
    if len(invites) < len(truth.closes):
        return  # no invitation for this close: the survey check reports it
    choice, score = surveys.next()
    truth.answers.append(choice.value)
    newest = invites[len(truth.closes) - 1].vendor_id
    if choice is SurveyAnswer.AT_ONCE:
        context.adapter.answer_survey(newest, score)
        truth.scores.append(score)
    elif choice is SurveyAnswer.DAYS_LATER:
        surveys.later.append((truth, newest, score))


def _settle_tickets(context: TicketContext, truths: list[TicketTruth]) -> None:
    """Move the clock past every ticket's resolution target and survey delay (plus tolerance), so every
    ticket check can be judged at once in ``virtual`` mode, whatever runs after."""
    if not truths:
        return
    sla, delay = context.sla, context.survey_delay
    dues = [
        t.opened_at + timedelta(minutes=sla.resolution_minutes[t.priority.value]) + context.tolerance
        for t in truths
    ]
    dues += [t.closes[-1] + delay + context.tolerance for t in truths if t.closes]
    context.advance_to(max(dues) + STAGE_STEP)
