"""Rules of the lead -> contract scenario: ownership, follow-up tasks, silence alerts, won deals."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from poc_harness.adapter import CRMAdapter, Observed
from poc_harness.model import DealStage, utc_iso
from poc_harness.rules import Verdict, rule


def _seconds(params: dict[str, Any], name: str) -> timedelta:
    return timedelta(seconds=float(params[name]))


@rule("lead_owned")
def lead_owned(adapter: CRMAdapter, lead_id: str, params: dict[str, Any]) -> Verdict:
    """The lead has an owner, and the owner is one of the sales reps."""
    lead = adapter.get_lead(lead_id)
    reps: list[str] = params["reps"]
    passed = lead.owner_id is not None and (not reps or lead.owner_id in reps)
    return Verdict(
        passed,
        expected="an owner among the sales reps",
        observed=lead.owner_id or "no owner",
        extra={"owner": lead.owner_id},
    )


@rule("followups")
def followups(adapter: CRMAdapter, lead_id: str, params: dict[str, Any]) -> Verdict:
    """Exactly one automatic follow-up task per offset (days after arrival), each due within tolerance."""
    arrived = datetime.fromisoformat(params["arrived_at"])
    tolerance = _seconds(params, "tolerance_s")
    wanted = [arrived + timedelta(days=float(days)) for days in params["offsets_days"]]
    tasks = [task for task in adapter.lead_tasks(lead_id) if task.automatic]
    observed = sorted(task.due_at for task in tasks)
    unmatched = list(observed)
    missing = []
    for due in wanted:
        match = next((seen for seen in unmatched if abs(seen - due) <= tolerance), None)
        if match is None:
            missing.append(due)
        else:
            unmatched.remove(match)
    passed = not missing and not unmatched
    note = ""
    if missing:
        note = f"no task due at {', '.join(utc_iso(m) for m in missing)}"
    if unmatched:
        note = (
            note + "; " if note else ""
        ) + f"unexpected task(s) due at {', '.join(map(utc_iso, unmatched))}"
    return Verdict(
        passed, expected=[utc_iso(w) for w in wanted], observed=[utc_iso(o) for o in observed], note=note
    )


@rule("silence_alert")
def silence_alert(adapter: CRMAdapter, lead_id: str, params: dict[str, Any]) -> Verdict:
    """No silence alert before ``since`` + days - tolerance; one by the due time when ``must_exist``."""
    since = datetime.fromisoformat(params["since"])
    earliest = since + timedelta(days=float(params["days"])) - _seconds(params, "tolerance_s")
    alerts = sorted(alert.raised_at for alert in adapter.lead_alerts(lead_id))
    early = [moment for moment in alerts if moment < earliest]
    on_time = [moment for moment in alerts if moment >= earliest]
    must_exist = bool(params["must_exist"])
    passed = not early and (bool(on_time) or not must_exist)
    if early:
        note = f"alert raised at {utc_iso(early[0])}, before {utc_iso(earliest)}"
    elif must_exist and not on_time:
        note = "no silence alert raised"
    else:
        note = ""
    expected = f"{'an' if must_exist else 'no'} alert, none before {utc_iso(earliest)}"
    return Verdict(passed, expected=expected, observed=[utc_iso(a) for a in alerts] or "no alert", note=note)


@rule("deal_history")
def deal_history(adapter: CRMAdapter, deal_id: str, params: dict[str, Any]) -> Verdict:
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
        extra = {"not_observed": ["deal's lead"]}
    if lead.status.lower() not in ("converted", "qualified", "won"):
        problems.append(f"lead status is {lead.status!r} after conversion")
    if deal.amount != int(params["amount"]):
        estimate = params.get("estimate")
        was = " (the lead's estimate)" if estimate is not None and deal.amount == int(estimate) else ""
        problems.append(f"amount {deal.amount}{was} instead of the negotiated {params['amount']}")
    return Verdict(
        not problems,
        expected=[s.value for s in wanted],
        observed=[s.value for s in stages],
        note="; ".join(problems),
        extra=extra,
    )
