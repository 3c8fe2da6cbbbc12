"""Rules of the lead -> contract scenario: ownership, assignment spread, follow-up tasks, silence alerts,
won deals."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from poc_harness.contract.adapter import CRMAdapter, Observed
from poc_harness.contract.model import DealStage, TaskView, utc_iso
from poc_harness.contract.observed import NOT_OBSERVED, not_observed
from poc_harness.rules import Judgement, rule
from poc_harness.run.buyer_calendar import BuyerCalendar


def _seconds(params: dict[str, Any], name: str) -> timedelta:
    return timedelta(seconds=float(params[name]))


@rule("lead_owned")
def lead_owned(adapter: CRMAdapter, lead_id: str, params: dict[str, Any]) -> Judgement:
    """The lead has an owner, one of the sales team's reps (``pool``), never the API user."""
    lead = adapter.get_lead(lead_id)
    pool: list[str] = params["pool"]
    owner = lead.owner_id
    if owner is None:
        note = "no owner: the lead was not assigned"
    elif owner == params.get("api_user"):
        note = f"owned by the API user {owner} that created it: not assigned to a rep"
    elif owner not in pool:
        note = f"owner {owner} is not one of the sales team's reps"
    else:
        note = ""
    return Judgement(
        not note,
        expected=f"an owner among the sales team ({len(pool)} reps)",
        observed=owner or "no owner",
        note=note,
        extra={"owner": owner},
    )


@rule("assignment_spread")
def assignment_spread(adapter: CRMAdapter, tag: str, params: dict[str, Any]) -> Judgement:
    """Leads spread by the buyer's rule: ``round_robin``, the counts of the active reps (this run's
    reps, and any pool rep that got a lead) differ by at most one; ``any``, any spread."""
    pool = set(params["pool"])
    counts = dict.fromkeys(params["run_reps"], 0)
    for lead_id in params["lead_ids"]:
        owner = adapter.get_lead(lead_id).owner_id
        if owner in pool:
            counts[owner] = counts.get(owner, 0) + 1
    spread = (max(counts.values()) - min(counts.values())) if counts else 0
    passed = params["rule"] == "any" or spread <= 1
    note = "" if passed else f"lead counts per rep differ by {spread} (round robin allows 1)"
    return Judgement(
        passed,
        expected=f"{params['rule']} assignment",
        observed=dict(sorted(counts.items())),
        note=note,
    )


@rule("followups")
def followups(adapter: CRMAdapter, lead_id: str, params: dict[str, Any]) -> Judgement:
    """Exactly one automatic follow-up task per offset (calendar or working days after arrival), each
    due within tolerance, linked to the lead and owned by the lead's owner."""
    arrived = datetime.fromisoformat(params["arrived_at"])
    tolerance = _seconds(params, "tolerance_s")
    calendar = BuyerCalendar(**params["calendar"])
    kind = params.get("days_kind", "calendar")
    wanted = [calendar.add_days(arrived, float(days), kind) for days in params["offsets_days"]]
    tasks = sorted((task for task in adapter.lead_tasks(lead_id) if task.automatic), key=lambda t: t.due_at)
    unmatched = list(tasks)
    matched: list[TaskView] = []
    missing = []
    for due in wanted:
        match = next((task for task in unmatched if abs(task.due_at - due) <= tolerance), None)
        if match is None:
            missing.append(due)
        else:
            unmatched.remove(match)
            matched.append(match)
    problems = []
    if missing:
        problems.append(f"no task due at {', '.join(utc_iso(m) for m in missing)}")
    if unmatched:
        problems.append(f"unexpected task(s) due at {', '.join(utc_iso(t.due_at) for t in unmatched)}")
    unlinked = [task.vendor_id for task in matched if task.lead_id != lead_id]
    if unlinked:
        problems.append(f"task(s) {', '.join(unlinked)} not linked to the lead")
    owner = adapter.get_lead(lead_id).owner_id
    if adapter.observes_task_owner:
        if owner is None:
            problems.append("the lead has no owner, so its follow-ups are no rep's")
        strangers = sorted({str(task.owner_id) for task in matched if task.owner_id != owner})
        if owner is not None and strangers:
            problems.append(f"task(s) owned by {', '.join(strangers)}, not the lead's owner {owner}")
    elif not problems:
        raise not_observed(adapter.name, ["follow-up task's owner"])
    return Judgement(
        not problems,
        expected={"due": [utc_iso(w) for w in wanted], "owner": owner, "lead": lead_id},
        observed=[
            {"due": utc_iso(task.due_at), "owner": task.owner_id, "lead": task.lead_id} for task in tasks
        ],
        note="; ".join(problems),
    )


@rule("silence_alert")
def silence_alert(adapter: CRMAdapter, lead_id: str, params: dict[str, Any]) -> Judgement:
    """Exactly one silence alert, ``days`` after the last activity (or the arrival), no earlier and no
    later than the tolerance; none before (activity of any kind by any rep resets the timer)."""
    since = datetime.fromisoformat(params["since"])
    due = since + timedelta(days=float(params["days"]))
    latest = due + _seconds(params, "tolerance_s")
    alerts = sorted(alert.raised_at for alert in adapter.lead_alerts(lead_id))
    early = [moment for moment in alerts if moment < due]
    on_time = [moment for moment in alerts if due <= moment <= latest]
    late = [moment for moment in alerts if moment > latest]
    problems = []
    if early:
        problems.append(f"alert raised at {utc_iso(early[0])}, before {utc_iso(due)}")
    if len(on_time) > 1:
        problems.append(f"{len(on_time)} alerts for one silence, not one")
    if late:
        problems.append(f"alert raised late at {utc_iso(late[0])}, after {utc_iso(latest)}")
    if not alerts:
        problems.append("no silence alert raised")
    elif not on_time and not problems:
        problems.append("no alert in the window")
    return Judgement(
        not problems,
        expected=f"one alert between {utc_iso(due)} and {utc_iso(latest)}",
        observed=[utc_iso(a) for a in alerts] or "no alert",
        note="; ".join(problems),
        extra={"after": params.get("after", "arrival")},
    )


@rule("deal_history")
def deal_history(adapter: CRMAdapter, deal_id: str, params: dict[str, Any]) -> Judgement:
    """The deal reached its final stage, kept every stage in order, carries the negotiated amount (not the
    lead's estimate) and is linked to its lead: required where the adapter reads the link
    (``observes``), judged wherever a link is shown, *not observed* (never passed as proven) otherwise."""
    deal = adapter.get_deal(deal_id)
    lead = adapter.get_lead(params["lead_id"])
    wanted = [DealStage(stage) for stage in params["stages"]]
    stages = [change.stage for change in deal.history]
    times = [change.at for change in deal.history]
    problems, extra = [], {}
    if deal.stage != wanted[-1]:
        problems.append(f"stage is {deal.stage.value}, not {wanted[-1].value}")
    if stages != wanted:
        problems.append(f"history {[s.value for s in stages]} instead of {[s.value for s in wanted]}")
    if times != sorted(times):
        problems.append("history timestamps out of order")
    if deal.lead_id is not None or adapter.observes(Observed.DEAL_LEAD):
        if deal.lead_id != params["lead_id"]:
            problems.append(f"deal linked to lead {deal.lead_id}, not {params['lead_id']}")
    else:
        extra = {NOT_OBSERVED: ["deal's lead"]}
    if lead.status.lower() not in ("converted", "qualified", "won"):
        problems.append(f"lead status is {lead.status!r} after conversion")
    if deal.amount != int(params["amount"]):
        estimate = params.get("estimate")
        was = " (the lead's estimate)" if estimate is not None and deal.amount == int(estimate) else ""
        problems.append(f"amount {deal.amount}{was} instead of the negotiated {params['amount']}")
    return Judgement(
        not problems,
        expected=[s.value for s in wanted],
        observed=[s.value for s in stages],
        note="; ".join(problems),
        extra=extra,
    )
