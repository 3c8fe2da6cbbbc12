"""Rules of the ticket -> resolution scenario: SLA breach flags, first-response time, NPS surveys."""

from __future__ import annotations

from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from poc_harness.contract.adapter import CRMAdapter, Observed
from poc_harness.contract.model import utc_iso
from poc_harness.contract.observed import NOT_OBSERVED
from poc_harness.rules import Judgement, rule
from poc_harness.rules.display import approx, percent, shown_right


def nps_exact(scores: list[int]) -> Fraction:
    """Net promoter score: % promoters (9-10) minus % detractors (0-6), exactly (7-8 are passives)."""
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    return percent(promoters - detractors, len(scores))




@rule("sla_flags")
def sla_flags(adapter: CRMAdapter, ticket_id: str, params: dict[str, Any]) -> Judgement:
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
    return Judgement(not wrong, expected=expected, observed=observed, note=note)


@rule("first_response_time")
def first_response_time(adapter: CRMAdapter, ticket_id: str, params: dict[str, Any]) -> Judgement:
    """The CRM's first response is the ledger's first public reply (± tolerance); a ticket nobody replied
    to has none (an internal note or the close is not a response)."""
    ticket = adapter.get_ticket(ticket_id)
    if params.get("replied_at") is None:
        shown = ticket.first_response_at
        return Judgement(
            shown is None,
            expected="no first response (no public reply)",
            observed=utc_iso(shown) if shown else None,
            note=f"first response recorded at {utc_iso(shown)} without a public reply" if shown else "",
        )
    truth = datetime.fromisoformat(params["replied_at"]) - datetime.fromisoformat(params["opened_at"])
    expected = round(truth.total_seconds() / 60, 2)
    if ticket.first_response_at is None:
        return Judgement(False, expected=expected, observed=None, note="the CRM recorded no first response")
    seen = ticket.first_response_at - ticket.created_at
    passed = abs(seen - truth) <= timedelta(seconds=float(params["tolerance_s"]))
    note = "" if passed else f"first response {seen} after opening, the ledger says {truth}"
    return Judgement(passed, expected=expected, observed=round(seen.total_seconds() / 60, 2), note=note)


def _closes(params: dict[str, Any]) -> list[datetime]:
    """Every close of the ticket (``closed_at``: an expectation filed before reopens were planned)."""
    given = params.get("closes")
    if given is None:
        given = [params["closed_at"]] if params.get("closed_at") else []
    return [datetime.fromisoformat(moment) for moment in given]


@rule("survey_on_close")
def survey_on_close(adapter: CRMAdapter, ticket_id: str, params: dict[str, Any]) -> Judgement:
    """Each close sends exactly one NPS invitation, within the delay, to the ticket's requester (a reopened
    ticket closed again gets one more); a ticket never closed gets none.  A recipient the adapter cannot
    read is *not observed*: the rest is judged, the recipient is not passed as proven."""
    invites = sorted(adapter.ticket_surveys(ticket_id), key=lambda invite: invite.sent_at)
    sent = [invite.sent_at for invite in invites]
    closes = _closes(params)
    delay = timedelta(seconds=float(params["delay_s"]))
    tolerance = timedelta(seconds=float(params["tolerance_s"]))
    problems = []
    if len(sent) != len(closes):
        problems.append(f"{len(sent)} survey(s) for {len(closes)} close(s)")
    else:
        problems += [
            f"survey {utc_iso(s)} not between close {utc_iso(c)} and {utc_iso(c + delay)}"
            for s, c in zip(sent, closes, strict=True)
            if not c - tolerance <= s <= c + delay
        ]
    requester, extra = params.get("contact_id"), {}
    required = adapter.observes(Observed.SURVEY_RECIPIENT)
    shown = [i for i in invites if required or i.contact_id is not None]
    wrong = sorted({str(i.contact_id) for i in shown if requester and i.contact_id != requester})
    if wrong:
        problems.append(f"survey sent to {', '.join(wrong)}, not the requester {requester}")
    if len(shown) < len(invites) or (invites and not requester):
        extra = {NOT_OBSERVED: ["survey recipient"]}
    expected = {"surveys": len(closes), "by": [utc_iso(c + delay) for c in closes], "to": requester}
    observed = {"sent": [utc_iso(s) for s in sent], "to": sorted({str(i.contact_id) for i in invites})}
    note = "; ".join(problems)
    return Judgement(not problems, expected=expected, observed=observed, note=note, extra=extra)


@rule("nps")
def nps(adapter: CRMAdapter, tag: str, params: dict[str, Any]) -> Judgement:
    """The CRM's NPS counts the answered surveys only and equals the NPS of the recorded scores, exactly
    as the CRM displays it (display rounding is not a tolerance)."""
    scores: list[int] = params["scores"]
    figure = adapter.report_nps(tag)
    exact = nps_exact(scores)
    expected = {"responses": len(scores), "nps": approx(exact)}
    observed = {"responses": figure.responses, "nps": figure.nps}
    problems = []
    if figure.responses != len(scores):
        problems.append(f"{figure.responses} responses counted, {len(scores)} surveys were answered")
    if not shown_right(figure.nps, exact):
        problems.append(f"NPS {figure.nps} is not {float(exact):.4f} as displayed")
    if not scores:
        problems.append("no survey could be answered: no NPS to check")
    return Judgement(not problems, expected=expected, observed=observed, note="; ".join(problems))
