"""PoC scenario 3, CEO reporting: the CRM's own management reports (conversion rate, first response
time, weekly sales activity, SLA compliance, forecast) against the truth the harness knows because it
made the data; at least three must be ready and right.  Each report's latency is measured too.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from poc_harness.contract.adapter import Capability, RecordKind
from poc_harness.plugin import check_id_of, verify
from poc_harness.run.ledger import ExpectationRow
from poc_harness.run.trial import Check, Trial

LATENCY_SAMPLES = 5
MANAGEMENT_REPORTS = {
    "conversion_rate_report": "conversion rate",
    "first_response_time_report": "first response time",
    "weekly_sales_activity_report": "weekly sales activity",
    "sla_compliance_report": "SLA compliance",
    "forecast_accuracy": "forecast",
}
REQUIRED_READY = 3


def _latency(check: Check, call: Callable[[], Any]) -> None:
    """Time the report call a few times; p50/p95 go to the ledger. A vendor error is left to the check."""
    samples = []
    for _ in range(LATENCY_SAMPLES):
        started = time.perf_counter()
        try:
            call()
        except Exception:
            return
        samples.append(1000 * (time.perf_counter() - started))
    samples.sort()
    p95 = samples[max(0, math.ceil(0.95 * len(samples)) - 1)]
    check.observe(
        "latency_ms",
        {"p50": round(samples[len(samples) // 2], 2), "p95": round(p95, 2), "samples": len(samples)},
    )


def _judge_report(
    trial: Trial, check: Check, rule: str, params: dict[str, Any], call: Callable[[], Any]
) -> None:
    """File the report's expectation, time the report, and judge it now."""
    check.expect(rule, trial.tag, params, due_at=trial.now())
    _latency(check, call)
    verify(check.settle())


def _period(trial: Trial) -> tuple[datetime, datetime]:
    """From a day before the first lead arrived to a day from now: the whole run."""
    return min(trial.world.arrivals.values()) - timedelta(days=1), trial.now() + timedelta(days=1)


@pytest.mark.severity("major")
@pytest.mark.criterion("reporting")
@pytest.mark.requires(Capability.REPORTS)
def test_conversion_rate_report(trial: Trial, check: Check) -> None:
    """Read while open, won and lost deals all exist: only won deals count, over every lead."""
    deals = trial.deals + trial.forecast.deals
    start, end = _period(trial)
    params = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "leads": len(trial.world.leads),
        "won": sum(d.won for d in deals),
    }
    check.observe(
        "deals_at_read",
        {
            "won": sum(d.won for d in deals),
            "open": sum(d.open for d in deals),
            "lost": sum(not d.won and not d.open for d in deals),
        },
    )
    _judge_report(
        trial,
        check,
        "report_conversion",
        params,
        lambda: trial.adapter.report_conversion(start, end, trial.tag),
    )


@pytest.mark.severity("major")
@pytest.mark.criterion("reporting")
@pytest.mark.requires(Capability.REPORTS)
@pytest.mark.covers(Capability.TICKET_NOTES)
def test_first_response_time_report(trial: Trial, check: Check) -> None:
    """Over the tickets with a public reply (a ticket closed without one has no first response)."""
    answered = [t for t in trial.tickets if t.replied_at is not None]
    minutes = [(t.replied_at - t.opened_at).total_seconds() / 60 for t in answered if t.replied_at]
    start, end = _period(trial)
    params = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "minutes": minutes,
        "tolerance_s": trial.settings.response_tolerance_seconds,
    }
    _judge_report(
        trial,
        check,
        "report_first_response",
        params,
        lambda: trial.adapter.report_first_response(start, end, trial.tag),
    )


@pytest.mark.severity("major")
@pytest.mark.criterion("reporting")
@pytest.mark.requires(Capability.REPORTS)
def test_weekly_sales_activity_report(trial: Trial, check: Check) -> None:
    """Calls, meetings and e-mails per rep who logged them (notes, also logged, are not counted) and tasks
    per rep who completed them (not the lead's owner)."""
    week = trial.week
    reps, notes = week.with_activities(trial.ledger.records(trial.run_id, RecordKind.ACTIVITY.value))
    check.observe("notes_logged_not_counted", notes)
    params = {"week_start": week.week_start.isoformat(), "reps": reps}
    _judge_report(
        trial,
        check,
        "report_weekly_activity",
        params,
        lambda: trial.adapter.report_weekly_activity(week.week_start, trial.tag),
    )


@pytest.mark.severity("major")
@pytest.mark.criterion("reporting")
@pytest.mark.requires(Capability.SLA)
@pytest.mark.covers(Capability.TICKET_REOPEN, Capability.TICKET_NOTES)
def test_sla_compliance_report(trial: Trial, check: Check) -> None:
    """Tickets closed (and still closed), and those of them that breached neither target, exactly."""
    closed = [t for t in trial.tickets if t.closed_at is not None]
    start, end = _period(trial)
    sla = trial.config.sla
    met = [
        t
        for t in closed
        if not any(
            t.breaches(
                timedelta(minutes=sla.first_response_minutes[t.priority.value]),
                timedelta(minutes=sla.resolution_minutes[t.priority.value]),
            )
        )
    ]
    params = {"start": start.isoformat(), "end": end.isoformat(), "tickets": len(closed), "met": len(met)}
    _judge_report(
        trial,
        check,
        "report_sla_compliance",
        params,
        lambda: trial.adapter.report_sla_compliance(start, end, trial.tag),
    )


@pytest.mark.severity("major")
@pytest.mark.criterion("reporting")
@pytest.mark.requires(Capability.FORECAST)
def test_forecast_accuracy(trial: Trial, check: Check) -> None:
    """Against the pipeline when it was read (committed deals closing in the period plus what was won in
    it; not uncommitted, lost or later deals) and within ±10 % of what was then won."""
    truth = trial.forecast
    check.observe("pipeline_roles", truth.roles)
    params = {
        "start": truth.start.isoformat(),
        "end": truth.end.isoformat(),
        "forecast_amount": truth.forecast_amount,
        "expected_at_read": truth.expected_at_read,
        "actual_won": truth.actual_won(trial.deals + truth.deals),
        "tolerance_pct": trial.settings.forecast_tolerance_pct,
    }
    _judge_report(
        trial,
        check,
        "report_forecast",
        params,
        lambda: trial.adapter.report_forecast(truth.start, truth.end, trial.tag),
    )


def _ready(rows: list[ExpectationRow]) -> bool:
    return bool(rows) and all(row.status == "passed" for row in rows)


@pytest.mark.severity("critical")
@pytest.mark.criterion("reporting")
def test_three_management_reports_ready(trial: Trial, check: Check, request: pytest.FixtureRequest) -> None:
    """Acceptance criterion: at least three management reports are provided and right (from this run's
    report checks, which run before this one)."""
    module = check_id_of(request.node).split("::")[0]
    ready = {
        title: _ready(trial.ledger.expectations(trial.run_id, f"{module}::{name}"))
        for name, title in MANAGEMENT_REPORTS.items()
    }
    check.observe("management_reports", ready)
    count = sum(ready.values())
    if count < REQUIRED_READY:
        missing = ", ".join(title for title, ok in ready.items() if not ok)
        pytest.fail(
            f"{count} of {len(ready)} management reports ready and right (at least {REQUIRED_READY} "
            f"required); not ready: {missing}",
            pytrace=False,
        )
