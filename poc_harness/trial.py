"""A trial run against one vendor: configuration, adapter, ledger, clock, seeded data and checks.

A check files expectations (rule, subject, parameters, due time) in the ledger and
then *settles*: every due expectation of that check for this vendor, from this run or
an earlier one, is judged now; the rest stays pending for a later run.
"""

from __future__ import annotations

import os
import random
import secrets
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from fixtures.factories import Dataset, build_dataset
from poc_harness import outage
from poc_harness.adapter import CRMAdapter, build_adapter
from poc_harness.clock import ClockMode
from poc_harness.config import MIN_ACCEPTANCE_RECORDS, PocConfig
from poc_harness.earlier_run import earlier_run
from poc_harness.errors import (
    CapabilityMissing,
    ConfigError,
    HarnessError,
    RunRefused,
    VendorDown,
    VendorError,
)
from poc_harness.ledger import ExpectationRow, Ledger
from poc_harness.model import Lead
from poc_harness.rules import Verdict, load_rules
from poc_harness.seeding import SeededWorld, Seeder
from poc_harness.stories import (
    ACTIVITY_DAY,
    SILENCE_DAYS,
    DealTruth,
    ForecastTruth,
    TicketTruth,
    WeekTruth,
    activity_story,
    convert_deals,
    forecast_story,
    silence_story,
    ticket_story,
)

FOLLOWUP_DAYS = (2.0, 5.0)


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
        """5 % won, 5 % lost, 10 % forecast pipeline, 10 % active on day 6, the rest left silent."""
        keys = [lead.key for lead in leads]
        random.Random(seed).shuffle(keys)
        tenth = max(2, len(keys) // 10)
        half = (tenth + 1) // 2
        return cls(
            won=keys[:half],
            lost=keys[half:tenth],
            forecast=keys[tenth : 2 * tenth],
            active=keys[2 * tenth : 3 * tenth],
            silent=keys[3 * tenth :],
        )


@dataclass
class Outcome:
    """What settling a check found: judged now, failed among them, still pending."""

    judged: list[tuple[ExpectationRow, Verdict]] = field(default_factory=list)
    pending: list[ExpectationRow] = field(default_factory=list)

    @property
    def failures(self) -> list[tuple[ExpectationRow, Verdict]]:
        return [(row, verdict) for row, verdict in self.judged if not verdict.passed]

    def summary(self, limit: int = 5) -> str:
        failed = self.failures
        lines = [f"{len(failed)} of {len(self.judged)} expectations failed"]
        for row, verdict in failed[:limit]:
            lines.append(
                f"- {row.rule} on {row.subject}: {verdict.note or 'mismatch'} "
                f"(expected {verdict.expected}, observed {verdict.observed})"
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
    def now(self) -> datetime:
        return self.adapter.now()

    def advance_to(self, moment: datetime) -> None:
        """In ``virtual`` mode, move the CRM's clock forward to ``moment``; otherwise time just passes."""
        if self.clock_mode is ClockMode.VIRTUAL:
            gap = moment - self.now()
            if gap > timedelta(0):
                self.adapter.advance_clock(gap)

    # --- data ---------------------------------------------------------------------------
    @cached_property
    def dataset(self) -> Dataset:
        return build_dataset(self.settings.records, self.settings.seed, self.settings.locale, self.tag)

    @cached_property
    def cohorts(self) -> LeadCohorts:
        return LeadCohorts.plan(self.dataset.leads, self.settings.seed)

    @cached_property
    def seeder(self) -> Seeder:
        return Seeder(self.adapter, self.ledger, self.run_id, self.tag, self.now)

    @cached_property
    def world(self) -> SeededWorld:
        """Seed the whole dataset once per run (first use), arrival times per the clock mode."""
        now = self.now()
        active = set(self.cohorts.active)
        silent_start = now - timedelta(days=SILENCE_DAYS) - 2 * self.tolerance
        active_start = now - timedelta(days=ACTIVITY_DAY)

        def arrival(lead: Lead) -> datetime | None:
            if self.clock_mode is not ClockMode.BACKDATE:
                return None
            return active_start if lead.key in active else silent_start

        return self.seeder.seed(self.dataset, arrival)

    # --- stories (what the harness does, once per run; the silence timeline always first) --
    @cached_property
    def silence(self) -> dict[str, datetime]:
        return silence_story(self)

    @cached_property
    def deals(self) -> list[DealTruth]:
        self.silence  # noqa: B018 - the silence timeline must run before the clock moves on
        return convert_deals(self)

    @cached_property
    def forecast(self) -> ForecastTruth:
        self.deals  # noqa: B018 - the won/lost cohorts close first, as the truth assumes
        return forecast_story(self)

    @cached_property
    def week(self) -> WeekTruth:
        self.silence  # noqa: B018
        return activity_story(self)

    @cached_property
    def tickets(self) -> list[TicketTruth]:
        self.silence  # noqa: B018
        return ticket_story(self)

    # --- checks -------------------------------------------------------------------------
    def check(self, check_id: str) -> Check:
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
            verdict = self._judge(row)
            trial.ledger.judge(row.id, verdict.passed, verdict.evidence(), trial.run_id, datetime.now(UTC))
            outcome.judged.append((row, verdict))
        outcome.pending = [
            row
            for row in trial.ledger.pending(trial.vendor, self.check_id)
            if row.run_id == trial.run_id or trial.adapter.persistent
        ]
        return outcome

    def _judge(self, row: ExpectationRow) -> Verdict:
        try:
            return self.trial.rules[row.rule](self.trial.adapter, row.subject, row.params)
        except CapabilityMissing as exc:
            return Verdict(False, expected=row.rule, observed="capability missing", note=f"finding: {exc}")
        except VendorError as exc:
            return Verdict(False, expected=row.rule, observed="vendor error", note=str(exc))
