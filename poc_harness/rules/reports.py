"""Rules of the CEO reporting scenario: the CRM's management reports against the ledger's truth.

Counts must match exactly; a rate must be the exact rate rounded to the decimals the CRM shows it with
(display rounding is not a tolerance); times within ``tolerance_s``; the forecast equal to the pipeline
the harness knew when it was read, and within ``tolerance_pct`` % of the amount actually won.
"""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

from poc_harness.contract.adapter import CRMAdapter
from poc_harness.rules import Judgement, rule
from poc_harness.rules.display import approx, percent, shown_right

CURRENCY_ROUNDING = 0.5  # an amount shown in whole currency units


def _period(params: dict[str, Any]) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(params["start"]), datetime.fromisoformat(params["end"])


def _rate_verdict(counts: dict[str, int], part: str, whole: str, figure: dict[str, Any]) -> Judgement:
    """Counts exact; ``rate_pct`` the exact ``part`` / ``whole`` rate as the CRM displays it."""
    exact = percent(counts[part], counts[whole])
    expected = {**counts, "rate_pct": approx(exact, 4)}
    wrong = [
        f"{name} {figure[name]} instead of {want}" for name, want in counts.items() if figure[name] != want
    ]
    if not shown_right(figure["rate_pct"], exact):
        wrong.append(f"rate_pct {figure['rate_pct']} is not {float(exact):.4f} % as displayed")
    return Judgement(not wrong, expected=expected, observed=figure, note="; ".join(wrong))


def _compare(expected: dict[str, Any], observed: dict[str, Any], tolerances: dict[str, float]) -> list[str]:
    wrong = []
    for name, want in expected.items():
        seen = observed[name]
        allowed = tolerances.get(name, 0.0)
        if abs(float(seen) - float(want)) > allowed:
            wrong.append(f"{name} {seen} instead of {want}" + (f" (±{allowed})" if allowed else ""))
    return wrong


def _verdict(expected: dict[str, Any], observed: dict[str, Any], tolerances: dict[str, float]) -> Judgement:
    wrong = _compare(expected, observed, tolerances)
    return Judgement(not wrong, expected=expected, observed=observed, note="; ".join(wrong))


@rule("report_conversion")
def report_conversion(adapter: CRMAdapter, tag: str, params: dict[str, Any]) -> Judgement:
    """Leads in the period and how many of them were won (open and lost deals are not), exactly."""
    figure = adapter.report_conversion(*_period(params), tag)
    counts = {"leads": int(params["leads"]), "won": int(params["won"])}
    return _rate_verdict(counts, "won", "leads", figure.model_dump())


@rule("report_first_response")
def report_first_response(adapter: CRMAdapter, tag: str, params: dict[str, Any]) -> Judgement:
    minutes: list[float] = params["minutes"]
    figure = adapter.report_first_response(*_period(params), tag)
    expected = {
        "tickets": len(minutes),
        "mean_minutes": round(statistics.fmean(minutes), 2) if minutes else 0.0,
        "median_minutes": round(statistics.median(minutes), 2) if minutes else 0.0,
    }
    tolerance = float(params["tolerance_s"]) / 60
    return _verdict(expected, figure.model_dump(), {"mean_minutes": tolerance, "median_minutes": tolerance})


@rule("report_weekly_activity")
def report_weekly_activity(adapter: CRMAdapter, tag: str, params: dict[str, Any]) -> Judgement:
    figure = adapter.report_weekly_activity(datetime.fromisoformat(params["week_start"]), tag)
    kinds = ("call", "meeting", "email", "tasks_done")
    expected = {rep: {k: counts.get(k, 0) for k in kinds} for rep, counts in params["reps"].items()}
    observed = {rep: {k: getattr(counts, k) for k in kinds} for rep, counts in figure.reps.items()}
    observed = {rep: counts for rep, counts in observed.items() if any(counts.values())}
    wrong = [
        f"rep {rep}: {observed.get(rep)} instead of {want}"
        for rep, want in expected.items()
        if observed.get(rep) != want
    ]
    wrong += [
        f"rep {rep} not in the ledger: {counts}" for rep, counts in observed.items() if rep not in expected
    ]
    return Judgement(
        not wrong and bool(expected),
        expected=expected,
        observed=observed,
        note="; ".join(wrong) if expected else "no activity was logged",
    )


@rule("report_sla_compliance")
def report_sla_compliance(adapter: CRMAdapter, tag: str, params: dict[str, Any]) -> Judgement:
    """Tickets closed in the period and how many met both targets, exactly."""
    figure = adapter.report_sla_compliance(*_period(params), tag)
    counts = {"tickets": int(params["tickets"]), "met": int(params["met"])}
    return _rate_verdict(counts, "met", "tickets", figure.model_dump())


@rule("report_forecast")
def report_forecast(adapter: CRMAdapter, tag: str, params: dict[str, Any]) -> Judgement:
    """The forecast, as read, equals the pipeline the harness knew at that moment (committed deals closing
    in the period plus what was already won in it, at negotiated amounts); it is within ±tolerance % of
    the amount actually won; and the CRM now reports that won amount itself."""
    actual = float(params["actual_won"])
    forecast = float(params["forecast_amount"])
    at_read = params.get("expected_at_read")
    figure = adapter.report_forecast(*_period(params), tag)
    error_pct = 100.0 * (forecast - actual) / actual if actual else float("inf")
    problems = []
    if at_read is not None and abs(forecast - float(at_read)) > CURRENCY_ROUNDING:
        problems.append(f"forecast {forecast:,.2f} read when the pipeline implied {float(at_read):,.2f}")
    if abs(error_pct) > float(params["tolerance_pct"]):
        problems.append(f"forecast {forecast:,.0f} is {error_pct:+.1f} % off the actual won {actual:,.0f}")
    if abs(figure.won_amount - actual) > CURRENCY_ROUNDING:
        problems.append(f"the CRM reports {figure.won_amount:,.0f} won, the ledger {actual:,.0f}")
    return Judgement(
        not problems,
        expected={"at_read": at_read, "actual_won": actual, "max_error_pct": params["tolerance_pct"]},
        observed={"forecast": forecast, "error_pct": round(error_pct, 2), "won_reported": figure.won_amount},
        note="; ".join(problems),
    )
