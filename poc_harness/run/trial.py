"""A trial run against one vendor: configuration, adapter, ledger, clock, seeded data and checks.

The run's *timeline* is canonical: on first use of the world (or of any check) the trial seeds the
dataset, runs every story in one fixed order (the lead arrivals and their activities, conversions,
the forecast, the week's activity, the tickets) and moves the virtual clock to one settle moment past
every story's due times.  So a check judges the same CRM state whichever suites ran before it.

A check files expectations (rule, subject, parameters, due time) in the ledger and
then *settles*: every due expectation of that check for this vendor, from this run or
an earlier one, is judged now; the rest stays pending for a later run.
"""

from __future__ import annotations

import os
import random
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, TypeVar

from fixtures.factories import Dataset, build_dataset
from poc_harness.config import MIN_ACCEPTANCE_RECORDS, PocConfig
from poc_harness.contract.adapter import Capability, CRMAdapter, RecordKind, build_adapter
from poc_harness.contract.model import Lead
from poc_harness.contract.observed import note_gaps, raise_gaps
from poc_harness.errors import (
    CapabilityMissing,
    ConfigError,
    HarnessError,
    NotConfigured,
    NotExercised,
    RunRefused,
    VendorDown,
    VendorError,
    VendorUnreachable,
)
from poc_harness.rules import Judgement, load_rules
from poc_harness.run.buyer_calendar import BuyerCalendar
from poc_harness.run.clock import ClockMode
from poc_harness.run.earlier_run import earlier_run
from poc_harness.run.lead_plan import TRIAL_DAYS, plan_arrivals
from poc_harness.run.ledger import ExpectationRow, Ledger
from poc_harness.run.seeding import SeededWorld, Seeder
from poc_harness.run.stories import (
    LATE_BY,
    DealContext,
    DealTruth,
    ForecastContext,
    ForecastTruth,
    LeadTimelineContext,
    TicketContext,
    TicketTruth,
    TouchTruth,
    WeekContext,
    WeekTruth,
    activity_story,
    convert_deals,
    forecast_story,
    monday,
    silence_story,
    ticket_story,
)
from poc_harness.run.story_context import RunClock, RunRecords, StoryContext
from poc_harness.transport import outage

T = TypeVar("T")
C = TypeVar("C", bound=StoryContext)
VENDOR_ERROR = "vendor error"
"""What an expectation observed when a vendor call failed while it was judged (the vendor's fault)."""


def new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(2)}"


@dataclass(frozen=True)
class LeadCohorts:
    """Which seeded leads each part of the lead scenario uses (deterministic per seed)."""

    won: list[str]
    lost: list[str]
    forecast: list[str]
    active: list[str]
    silent: list[str]

    @classmethod
    def plan(cls, leads: list[Lead], seed: int) -> LeadCohorts:
        """5 % won, 5 % lost, 10 % forecast pipeline, 20 % active (one activity of each kind in turn,
        on day 1 to 6), the rest left silent."""
        keys = [lead.key for lead in leads]
        random.Random(seed).shuffle(keys)
        tenth = max(2, len(keys) // 10)
        half = (tenth + 1) // 2
        return cls(
            won=keys[:half],
            lost=keys[half:tenth],
            forecast=keys[tenth : 2 * tenth],
            active=keys[2 * tenth : 4 * tenth],
            silent=keys[4 * tenth :],
        )

    @property
    def unconverted(self) -> list[str]:
        """The leads the run never converts: their follow-ups stay on the lead at every vendor."""
        return self.active + self.silent


@dataclass
class Outcome:
    """What settling a check found: judged now, failed among them, still pending."""

    judged: list[tuple[ExpectationRow, Judgement]] = field(default_factory=list)
    pending: list[ExpectationRow] = field(default_factory=list)

    not_observed: list[tuple[ExpectationRow, str]] = field(default_factory=list)
    """Expectations the adapter could not see every field of (our gap): left pending, never failed."""
    not_configured: list[tuple[ExpectationRow, NotConfigured]] = field(default_factory=list)
    """Expectations the buyer's setup does not allow to judge yet (``NotConfigured``): left pending in the
    ledger, judged by a run after the setup step."""

    @property
    def failures(self) -> list[tuple[ExpectationRow, Judgement]]:
        return [(row, judgement) for row, judgement in self.judged if not judgement.passed]

    def summary(self, limit: int = 5) -> str:
        failed = self.failures
        lines = [f"{len(failed)} of {len(self.judged)} expectations failed"]
        for row, judgement in failed[:limit]:
            lines.append(
                f"- {row.rule} on {row.subject}: {judgement.note or 'mismatch'} "
                f"(expected {judgement.expected}, observed {judgement.observed})"
            )
        if len(failed) > limit:
            lines.append(f"- ... and {len(failed) - limit} more (see the ledger)")
        return "\n".join(lines)


class Trial:
    """Everything one run against one vendor needs; built once per pytest session."""

    def __init__(
        self, config: PocConfig, vendor: str, clock: ClockMode | None = None, resume: str | None = None
    ) -> None:
        """``resume`` names an earlier run (killed or failed) to finish: same run id, tag, seed, size
        and clock; what it created is reused, what it left unconfirmed is looked up, nothing is seeded
        twice."""
        self.config = config
        self.settings = config.harness
        self.vendor = vendor.partition(":")[0]
        self.adapter: CRMAdapter = build_adapter(config, vendor)
        self.adapter_name = config.vendor_table(vendor)[0]
        self.clock_mode = clock or self.adapter.default_clock
        self.ledger = Ledger(self.settings.ledger)
        self.tolerance = timedelta(minutes=self.settings.tolerance_minutes)
        self.started_at = datetime.now(UTC)
        self.run_id = new_run_id(self.started_at)
        self.tag = f"poc{self.run_id.replace('T', '').replace('-', '')}"
        self.resumed = resume is not None
        self.watch = outage.OutageWatch(self.vendor)
        self._closed = self._outage_noted = False
        if resume is not None:
            try:
                self._resume(resume)
            except ConfigError:
                self.adapter.close()
                self.ledger.close()
                raise
        self.rules = load_rules()
        outage.install(self.watch)

    def _resume(self, run_id: str) -> None:
        where = f"--resume {run_id}"
        run = earlier_run(self.adapter, self.ledger, run_id, self.vendor, where, "start a new run instead")
        if run.get("seeded_at"):
            raise RunRefused(
                f"{where}: that run is past seeding (complete at {run['seeded_at'][:19]} UTC; its stories "
                f"changed records at the vendor): start a new run, and clean this one up with "
                f"'poc-harness cleanup --vendor {self.vendor} --run {run_id}'"
            )
        self.run_id, self.tag = run_id, run["tag"]
        self.clock_mode = ClockMode(run["clock"])
        self.settings = self.settings.model_copy(
            update={"seed": run["seed"], "records": run["records"], "locale": run["locale"]}
        )

    def connect(self) -> str:
        """Take the vendor's lock, reach the vendor, then open the run in the ledger.  A vendor that does not
        answer leaves the run in the ledger with its outage, and raises ``VendorDown``."""
        self._lock()
        try:
            answered = self.adapter.check_connection()
        except (VendorDown, VendorError) as exc:
            if isinstance(exc, VendorError) and not outage.signals_down(exc):
                self.ledger.unlock(self.vendor, self.run_id)
                raise
            self._open_run()
            self.watch.failed(str(exc), unreachable=True)
            self.close("vendor down")
            raise VendorDown(f"vendor '{self.vendor}' is down before the run: {exc}") from None
        self._open_run()
        return answered

    def _lock(self) -> None:
        """One run at a time per vendor and ledger: refuse, naming the run that holds the lock."""
        here = socket.gethostname()
        holder = self.ledger.lock(self.vendor, self.run_id, os.getpid(), here, self.started_at)
        if holder is not None:
            raise RunRefused(
                f"vendor '{self.vendor}' is locked by run {holder['run_id']} (pid {holder['pid']} on "
                f"{holder['host']}, since {holder['at'][:19]} UTC): wait for it to finish; if that process "
                f"is gone, 'poc-harness unlock --vendor {self.vendor}' releases the lock"
            )

    def _open_run(self) -> None:
        self.ledger.start_run(
            self.run_id,
            self.vendor,
            self.adapter_name,
            self.tag,
            self.settings.seed,
            self.settings.records,
            self.settings.locale,
            self.clock_mode.value,
            self.started_at,
            self.adapter.endpoint(),
        )

    @property
    def acceptance(self) -> bool:
        """Only a run with at least 200 records counts for acceptance."""
        return self.settings.records >= MIN_ACCEPTANCE_RECORDS

    def metadata(self) -> dict[str, Any]:
        profile = getattr(self.adapter, "profile", None)
        label = self.vendor if profile in (None, "healthy") else f"{self.vendor}:{profile}"
        return {
            "vendor": self.vendor,
            "label": label,
            "adapter": self.adapter_name,
            "run_id": self.run_id,
            "tag": self.tag,
            "seed": self.settings.seed,
            "records": self.settings.records,
            "locale": self.settings.locale,
            "clock": self.clock_mode.value,
            "acceptance_run": self.acceptance,
            "profile": profile,
            "resumed": self.resumed,
        }

    def close(self, outcome: str) -> None:
        """Record the run's outage (if any) and outcome, release the vendor's lock; once."""
        if self._closed:
            return
        self._closed = True
        self.note_outage()
        self.ledger.finish_run(self.run_id, outcome, datetime.now(UTC))
        self.ledger.unlock(self.vendor, self.run_id)
        outage.install(None)
        self.adapter.close()
        self.ledger.close()

    def note_outage(self) -> outage.Outage | None:
        """The outage this run met, written to the ledger (once)."""
        seen = self.watch.outage
        if seen is not None and not self._outage_noted:
            self._outage_noted = True
            self.ledger.record_outage(
                self.run_id, self.vendor, seen.started_at, seen.ended_at, seen.what, seen.calls
            )
        return seen

    def past_seeding(self) -> bool:
        run = self.ledger.run(self.run_id)
        return bool(run and run.get("seeded_at"))

    # --- time -------------------------------------------------------------------------
    @property
    def clock(self) -> RunClock:
        return RunClock(self.adapter, self.clock_mode)

    def now(self) -> datetime:
        return self.clock.now()

    def advance_to(self, moment: datetime) -> None:
        """In ``virtual`` mode, move the CRM's clock forward to ``moment``; otherwise time just passes."""
        self.clock.advance_to(moment)

    # --- data ---------------------------------------------------------------------------
    @cached_property
    def dataset(self) -> Dataset:
        return build_dataset(self.settings.records, self.settings.seed, self.settings.locale, self.tag)

    @cached_property
    def cohorts(self) -> LeadCohorts:
        return LeadCohorts.plan(self.dataset.leads, self.settings.seed)

    @cached_property
    def calendar(self) -> BuyerCalendar:
        return self.settings.calendar()

    @property
    def silence_days(self) -> float:
        return self.settings.silence_days

    @cached_property
    def seeder(self) -> Seeder:
        return Seeder(self.adapter, self.ledger, self.run_id, self.tag, self.now)

    @cached_property
    def records(self) -> RunRecords:
        """The run's record writer, as the stories see it."""
        return RunRecords(self.seeder, self.ledger, self.run_id)

    @property
    def world(self) -> SeededWorld:
        """Everything seeded in this run; first use runs the whole canonical timeline (see the module).
        While the timeline runs, the stories see the world as seeded so far."""
        self.timeline()
        return self._world

    def arrival_plan(self) -> dict[str, datetime | None]:
        """When each lead arrives: over the trial's 14 days in ``virtual`` mode (from now on), in the
        past in ``backdate`` mode (early enough for every silence alert to be due), when seeded in
        ``wall`` mode (None)."""
        keys = [lead.key for lead in self.dataset.leads]
        if self.clock_mode is ClockMode.WALL:
            return dict.fromkeys(keys)
        anchor = self.now()
        if self.clock_mode is ClockMode.BACKDATE:
            anchor -= timedelta(days=TRIAL_DAYS + 1 + self.silence_days) + 2 * self.tolerance
        planned = plan_arrivals(keys, self.settings.seed, self.calendar, anchor)
        plan: dict[str, datetime | None] = dict(planned)
        if self.clock_mode is ClockMode.VIRTUAL:  # a resumed run: what arrived keeps its arrival
            arrived = self.ledger.records(self.run_id, RecordKind.LEAD.value)
            plan.update({r.key: r.created_at for r in arrived if r.vendor_id and r.created_at})
        return plan

    def seed_leads(self, keys: list[str], arrival: Callable[[Lead], datetime | None]) -> None:
        """Seed the leads ``keys`` now (one batch where the vendor takes batches) into the world."""
        wanted = set(keys)
        leads = [lead for lead in self.dataset.leads if lead.key in wanted]
        try:
            part = self.seeder.seed(self.dataset.model_copy(update={"leads": leads}), arrival)
        except VendorError as exc:
            self._seeding_error = exc  # no story goes on with a partial world
            raise
        self._world.leads.update(part.leads)
        self._world.arrivals.update(part.arrivals)

    # --- the canonical timeline ---------------------------------------------------------------
    _timeline_state = "not run"
    _timeline_error: BaseException | None = None
    _seeding_error: VendorError | None = None

    def timeline(self) -> None:
        """Seed, run every story in one fixed order, then move the clock to the settle moment (once)."""
        if self._timeline_error is not None:
            raise self._timeline_error
        if self._timeline_state != "not run":
            return
        self._timeline_state = "running"
        try:
            base = self.dataset.model_copy(update={"leads": []})
            self._world = self.seeder.seed(base, lambda lead: None)
            self._truths: dict[str, Any] = {}
            self._story_errors: dict[str, VendorError | NotExercised | NotConfigured] = {}
            self._story("silence", silence_story, self._lead_timeline_context)
            self._world.leads = {k.key: self._world.leads[k.key] for k in self.dataset.leads}
            # every lead has arrived: from here on the stories change records, so a killed run is not resumed
            self.ledger.mark_seeded(self.run_id, datetime.now(UTC))
            self._story("deals", convert_deals, self._deal_context)
            self._story("forecast", forecast_story, self._forecast_context)
            self._story("week", activity_story, self._week_context)
            self._count_touches_in_the_week()
            self._story("tickets", ticket_story, self._ticket_context)
            self.advance_to(self.now() + self._settle_margin())
        except BaseException as exc:
            self._timeline_error = exc
            raise
        self.settled_at = self.now()
        self._timeline_state = "done"

    def _count_touches_in_the_week(self) -> None:
        """The lead timeline's completed tasks that fall in the activity report's week belong in the week's
        truth too (its logged activities are in the ledger, which ``WeekTruth.with_activities`` reads)."""
        week, touches = self._truths.get("week"), self._truths.get("silence", {})
        if not isinstance(week, WeekTruth):
            return
        for touch in touches.values():
            if touch.actor and touch.kind == "task_done" and monday(touch.at) == week.week_start:
                week.add(touch.actor, "tasks_done")

    def _settle_margin(self) -> timedelta:
        """Past every due time a story's checks file: the slowest SLA target (and a late answer after
        it), the survey delay, the tolerance, and a minute."""
        sla = self.config.sla
        slowest = max([*sla.resolution_minutes.values(), *sla.first_response_minutes.values()])
        survey = self.settings.survey_delay_minutes
        return timedelta(minutes=slowest + survey + 1) + LATE_BY + self.tolerance

    def _story(self, name: str, story: Callable[[C], Any], context: Callable[[], C]) -> None:
        """Run one story; a vendor error (a capability it lacks, a failed call), a gap of ours (a
        capability the adapter does not implement) or a setup the buyer has not done yet (pending) is kept
        and raised to the checks that read this story's truth, the other stories go on.  An outage stops
        the run."""
        try:
            self._truths[name] = story(context())
        except VendorUnreachable:
            raise
        except (VendorError, NotExercised, NotConfigured) as exc:
            if exc is self._seeding_error:
                raise
            self._story_errors[name] = exc

    def _truth(self, name: str, kind: type[T]) -> T:
        self.timeline()
        if name in self._story_errors:
            raise self._story_errors[name]
        truth: T = self._truths[name]
        return truth

    # --- what each story sees ------------------------------------------------------------------
    def _context(self, kind: type[C], **own: Any) -> C:
        """A story's context: what every story uses, and the story's ``own`` part of the plan."""
        return kind(
            adapter=self.adapter,
            clock=self.clock,
            records=self.records,
            tag=self.tag,
            seed=self.settings.seed,
            world=self._world,
            **own,
        )

    def _lead_timeline_context(self) -> LeadTimelineContext:
        return self._context(
            LeadTimelineContext,
            active=self.cohorts.active,
            silent=self.cohorts.silent,
            arrivals=self.arrival_plan(),
            silence_days=self.silence_days,
            tolerance=self.tolerance,
            seed_leads=self.seed_leads,
        )

    def _deal_context(self) -> DealContext:
        cohorts = self.cohorts
        return self._context(DealContext, won=cohorts.won, lost=cohorts.lost, leads=self.dataset.leads)

    def _forecast_context(self) -> ForecastContext:
        cohorts = self.cohorts
        return self._context(
            ForecastContext,
            won=cohorts.won,
            lost=cohorts.lost,
            leads=self.dataset.leads,
            forecast=cohorts.forecast,
            deals=lambda: self.deals,
        )

    def _week_context(self) -> WeekContext:
        return self._context(WeekContext, converted=self.cohorts.won + self.cohorts.lost)

    def _ticket_context(self) -> TicketContext:
        return self._context(
            TicketContext,
            tickets=self.dataset.tickets,
            sla=self.config.sla,
            calendar=self.calendar,
            survey_delay=timedelta(minutes=self.settings.survey_delay_minutes),
            tolerance=self.tolerance,
        )

    # --- stories' truths (each story ran once, in the timeline) -------------------------------
    @property
    def silence(self) -> dict[str, TouchTruth]:
        """The active cohort's activities: which kind, when, by whom."""
        return self._truth("silence", dict)

    @property
    def deals(self) -> list[DealTruth]:
        return self._truth("deals", list)

    @property
    def forecast(self) -> ForecastTruth:
        return self._truth("forecast", ForecastTruth)

    @property
    def week(self) -> WeekTruth:
        return self._truth("week", WeekTruth)

    @property
    def tickets(self) -> list[TicketTruth]:
        return self._truth("tickets", list)

    def rep_pool(self) -> list[str]:
        """Who leads may be assigned to: the buyer's configured sales team, else the reps this run and
        earlier runs against this vendor created; never the API user the harness acts as."""
        team = self.adapter.options.sales_team
        if team is None:
            team = list(self._world.reps.values()) if self.adapter.has(Capability.USER_ADMIN) else []
            where = self.adapter.endpoint()
            team += self.ledger.vendor_ids_of_vendor(self.vendor, RecordKind.REP.value, where)
        api_user = self.api_user()
        return [rep for rep in dict.fromkeys(team) if rep != api_user]

    def api_user(self) -> str | None:
        """The vendor id of the user the harness acts as, where the adapter can tell."""
        if not self.adapter.has(Capability.AUDIT_LOG):
            return None
        try:
            return self.adapter.acting_user_id()
        except VendorError:
            return None

    # --- checks -------------------------------------------------------------------------
    def check(self, check_id: str) -> Check:
        """A check of this run; its body starts after the canonical timeline."""
        self.timeline()
        return Check(self, check_id)


class Check:
    """One check of a scenario: files expectations, observations, and settles them."""

    def __init__(self, trial: Trial, check_id: str) -> None:
        self.trial = trial
        self.check_id = check_id

    def expect(self, rule: str, subject: str, params: dict[str, Any], due_at: datetime) -> None:
        if rule not in self.trial.rules:
            raise HarnessError(f"no rule named {rule!r}")
        self.trial.ledger.expect(
            self.trial.run_id, self.trial.vendor, self.check_id, rule, subject, params, due_at
        )

    def observe(self, name: str, value: Any) -> None:
        self.trial.ledger.observe(self.trial.run_id, self.check_id, name, value, datetime.now(UTC))

    def settle(self) -> Outcome:
        trial = self.trial
        now = trial.now()
        due = trial.ledger.due_expectations(trial.vendor, self.check_id, now)
        if not trial.adapter.persistent:
            due = [row for row in due if row.run_id == trial.run_id]
        outcome = Outcome()
        for row in due:
            try:
                judgement = self._judge(row)
            except NotExercised as exc:  # our gap: not measured, never the vendor's
                outcome.not_observed.append((row, str(exc)))
                continue
            except NotConfigured as exc:  # the buyer's setup not done yet: left pending in the ledger
                outcome.not_configured.append((row, exc))
                continue
            evidence = judgement.evidence()
            trial.ledger.judge(row.id, judgement.passed, evidence, trial.run_id, datetime.now(UTC))
            outcome.judged.append((row, judgement))
            note_gaps(outcome, row, judgement, trial.adapter.name)
        outcome.pending = [
            row
            for row in trial.ledger.pending(trial.vendor, self.check_id)
            if row.run_id == trial.run_id or trial.adapter.persistent
        ]
        if outcome.not_configured and not outcome.failures:  # pending with the setup step
            _, error = outcome.not_configured[0]
            raise NotConfigured(f"{len(outcome.not_configured)} expectation(s) left pending, e.g. {error}")
        raise_gaps(outcome)
        return outcome

    def _judge(self, row: ExpectationRow) -> Judgement:
        try:
            return self.trial.rules[row.rule](self.trial.adapter, row.subject, row.params)
        except CapabilityMissing as exc:
            return Judgement(False, expected=row.rule, observed="capability missing", note=f"finding: {exc}")
        except VendorError as exc:
            return Judgement(False, expected=row.rule, observed=VENDOR_ERROR, note=str(exc))
