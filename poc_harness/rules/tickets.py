"""Rules of the ticket -> resolution scenario: SLA breach flags, first-response time, NPS surveys."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from poc_harness.adapter import CRMAdapter
from poc_harness.model import utc_iso
from poc_harness.rules import Verdict, rule


def nps_of(scores: list[int]) -> float:
    """Net promoter score: % promoters (9-10) minus % detractors (0-6)."""
    if not scores:
        return 0.0
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    return 100.0 * (promoters - detractors) / len(scores)


@rule("sla_flags")
def sla_flags(adapter: CRMAdapter, ticket_id: str, params: dict[str, Any]) -> Verdict:
    """The ticket's breach flags say what the ledger knows: late answers breached, timely ones not."""
    ticket = adapter.get_ticket(ticket_id)
    expected = {"first_response_breached": params["first_breached"]}
    if params.get("resolution_breached") is not None:
        expected["resolution_breached"] = params["resolution_breached"]
    observed = {name: getattr(ticket, name) for name in expected}
    wrong = [name for name in expected if expected[name] != observed[name]]
    note = (
        f"{ticket.priority.value} ticket: " + ", ".join(f"{n} is {observed[n]}" for n in wrong)
        if wrong
        else ""
    )
    return Verdict(not wrong, expected=expected, observed=observed, note=note)


@rule("first_response_time")
def first_response_time(adapter: CRMAdapter, ticket_id: str, params: dict[str, Any]) -> Verdict:
    """The CRM's first-response time equals the ledger's (reply time minus opening time) within tolerance."""
    ticket = adapter.get_ticket(ticket_id)
    truth = datetime.fromisoformat(params["replied_at"]) - datetime.fromisoformat(params["opened_at"])
    expected = round(truth.total_seconds() / 60, 2)
    if ticket.first_response_at is None:
        return Verdict(False, expected=expected, observed=None, note="the CRM recorded no first response")
    seen = ticket.first_response_at - ticket.created_at
    passed = abs(seen - truth) <= timedelta(seconds=float(params["tolerance_s"]))
    note = "" if passed else f"first response {seen} after opening, the ledger says {truth}"
    return Verdict(passed, expected=expected, observed=round(seen.total_seconds() / 60, 2), note=note)


@rule("survey_on_close")
def survey_on_close(adapter: CRMAdapter, ticket_id: str, params: dict[str, Any]) -> Verdict:
    """A closed ticket got exactly one NPS invitation within the delay; an open one got none."""
    invites = adapter.ticket_surveys(ticket_id)
    sent = sorted(invite.sent_at for invite in invites)
    if params["closed_at"] is None:
        return Verdict(
            not invites,
            expected="no survey (ticket not closed)",
            observed=[utc_iso(s) for s in sent],
            note="survey sent for a ticket that is not closed" if invites else "",
        )
    closed = datetime.fromisoformat(params["closed_at"])
    latest = closed + timedelta(seconds=float(params["delay_s"]))
    earliest = closed - timedelta(seconds=float(params["tolerance_s"]))
    in_window = [s for s in sent if earliest <= s <= latest]
    passed = len(sent) == 1 and len(in_window) == 1
    note = "" if passed else f"{len(sent)} survey(s), {len(in_window)} between close and {utc_iso(latest)}"
    return Verdict(
        passed, expected=f"one survey by {utc_iso(latest)}", observed=[utc_iso(s) for s in sent], note=note
    )


@rule("nps")
def nps(adapter: CRMAdapter, tag: str, params: dict[str, Any]) -> Verdict:
    """The CRM's NPS equals the one computed from the responses the harness recorded."""
    scores: list[int] = params["scores"]
    figure = adapter.report_nps(tag)
    expected = {"responses": len(scores), "nps": round(nps_of(scores), 2)}
    observed = {"responses": figure.responses, "nps": figure.nps}
    passed = figure.responses == len(scores) and abs(figure.nps - expected["nps"]) <= float(
        params["tolerance"]
    )
    return Verdict(
        passed and bool(scores),
        expected=expected,
        observed=observed,
        note="" if scores else "no survey could be answered: no NPS to check",
    )
