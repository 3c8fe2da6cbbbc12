"""Rules of the integrations suite: webhooks (signed, about the right record, retried under the same
event id), the DWH export reconciled with the ledger, and a call logged through the API on the lead's
timeline (a read-back: it proves no VoIP connector).

The webhook rules judge the receiver's evidence filed with the expectation: per delivery its event
id, attempt, the status the receiver answered, whether it verified, and, only for a verified one,
what its payload says (``notice``).  An unverified payload never counts as evidence.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from poc_harness.contract.adapter import CRMAdapter, RecordKind
from poc_harness.contract.model import utc_iso
from poc_harness.probes import warehouse
from poc_harness.rules import Judgement, rule

SHOWN = 3


def _about(params: dict[str, Any]) -> list[dict[str, Any]]:
    """The verified deliveries whose payload names the expected event and record."""
    wanted = {"event": params["event"], "record_id": params["record_id"]}
    return [d for d in params["deliveries"] if d["verified"] and d.get("notice") == wanted]


def _none_arrived(params: dict[str, Any], expected: str) -> Judgement:
    return Judgement(
        False,
        expected=expected,
        observed="no delivery",
        note=f"no webhook delivery arrived within {params['wait_s']:g} s of creating the lead",
    )


@rule("webhook_signed")
def webhook_signed(adapter: CRMAdapter, subject: str, params: dict[str, Any]) -> Judgement:
    """Every delivery the receiver got verified: signed with the shared secret, timestamp fresh."""
    deliveries = params["deliveries"]
    expected = "every delivery signed with the shared secret, with a fresh timestamp"
    if not deliveries:
        return _none_arrived(params, expected)
    failed = [d for d in deliveries if not d["verified"]]
    reasons = sorted({d["reason"] for d in failed})
    note = f"{len(failed)} of {len(deliveries)} deliveries failed verification: {'; '.join(reasons)}"
    return Judgement(
        not failed,
        expected=expected,
        observed=f"{len(deliveries) - len(failed)} of {len(deliveries)} verified",
        note=note if failed else "",
    )


@rule("webhook_names_record")
def webhook_names_record(adapter: CRMAdapter, subject: str, params: dict[str, Any]) -> Judgement:
    """A verified delivery reports the event the harness caused, about the record it created."""
    deliveries = params["deliveries"]
    expected = f"{params['event']} about {params['record_id']}"
    if not deliveries:
        return _none_arrived(params, expected)
    seen = [d["notice"] for d in deliveries if d["verified"] and d.get("notice")]
    if _about(params):
        return Judgement(True, expected=expected, observed=expected)
    if not seen:
        note = "no delivery verified, and an unverified payload is not trusted"
    else:
        note = "the verified payloads name other events or records"
    shown = [f"{n['event']} about {n['record_id']}" for n in seen[:SHOWN]]
    return Judgement(False, expected=expected, observed=shown or "nothing trusted", note=note)


@rule("webhook_retried")
def webhook_retried(adapter: CRMAdapter, subject: str, params: dict[str, Any]) -> Judgement:
    """After the receiver answered the first delivery 500, the vendor delivered the same event again,
    under the same event id, and the retry verified."""
    expected = "a retry after the 500, under the same event id"
    if not params["deliveries"]:
        return _none_arrived(params, expected)
    ours = _about(params)
    if not ours:
        return Judgement(
            False,
            expected=expected,
            observed="nothing trusted",
            note=f"no verified delivery about {params['record_id']}: unverified deliveries prove no retry",
        )
    attempts: dict[str, list[int]] = defaultdict(list)
    for delivery in ours:
        attempts[str(delivery["event_id"])].append(int(delivery["answered"]))
    retried = [event for event, answers in attempts.items() if len(answers) >= 2 and answers[0] >= 500]
    observed = {event: answers for event, answers in attempts.items()}
    if retried:
        return Judgement(True, expected=expected, observed=observed)
    if len(attempts) > 1:
        note = f"each of the {len(attempts)} deliveries came with a new event id: a retry must keep it"
    else:
        note = f"no retry within {params['wait_s']:g} s of the 500"
    return Judgement(False, expected=expected, observed=observed, note=note)


@rule("dwh_export")
def dwh_export(adapter: CRMAdapter, tag: str, params: dict[str, Any]) -> Judgement:
    """The vendor's bulk export of the run's records, loaded into Parquet and read back, has exactly the
    ledger's records per kind (by vendor id) and the ledger's sum of lead estimated values."""
    folder = Path(params["dir"])
    expected_rows = {kind: len(ids) for kind, ids in params["kinds"].items()}
    observed_rows: dict[str, int] = {}
    value_sum: float | None = None
    problems: list[str] = []
    files = []
    for kind, wanted in params["kinds"].items():
        path = folder / f"{kind}.parquet"
        table = warehouse.load(adapter.export_records(RecordKind(kind), tag), path, f"{kind} records")
        files.append(str(path))
        loaded = warehouse.ids(table)
        observed_rows[kind] = table.num_rows
        missing = sorted(set(wanted) - set(loaded))
        extra = sorted(set(loaded) - set(wanted))
        if missing:
            problems.append(f"{kind}: {len(missing)} missing (e.g. {', '.join(missing[:SHOWN])})")
        if extra:
            problems.append(f"{kind}: {len(extra)} not in the ledger (e.g. {', '.join(extra[:SHOWN])})")
        if len(loaded) != len(set(loaded)):
            problems.append(f"{kind}: {len(loaded) - len(set(loaded))} exported twice")
        if kind == RecordKind.LEAD.value:
            value_sum = warehouse.column_sum(table, "estimated_value")
    want_sum = float(params["lead_value_sum"])
    if RecordKind.LEAD.value in params["kinds"] and value_sum != want_sum:
        shown = "no numeric estimated_value column" if value_sum is None else f"{value_sum:,.0f}"
        problems.append(f"sum of lead estimated_value {shown} instead of {want_sum:,.0f}")
    return Judgement(
        not problems,
        expected={"rows": expected_rows, "lead_value_sum": want_sum},
        observed={"rows": observed_rows, "lead_value_sum": value_sum},
        note="; ".join(problems),
        extra={"files": files},
    )


@rule("call_logged")
def call_logged(adapter: CRMAdapter, lead_id: str, params: dict[str, Any]) -> Judgement:
    """The call the harness logged through the vendor's API is on the lead's timeline exactly once, with
    the same number, direction and duration, started within the tolerance.  A read-back of our own write:
    it proves the CRM keeps a logged call, never that a VoIP connector works (see the connector rule)."""
    started = datetime.fromisoformat(params["started_at"])
    tolerance = timedelta(seconds=float(params["tolerance_s"]))
    expected = {
        "number": params["number"],
        "direction": params["direction"],
        "duration_seconds": params["duration_seconds"],
        "started_at": utc_iso(started),
    }
    calls = adapter.lead_calls(lead_id)
    same = [c for c in calls if c.number == params["number"] and c.direction.value == params["direction"]]
    observed = [
        {
            "number": c.number,
            "direction": c.direction.value,
            "duration_seconds": c.duration_seconds,
            "started_at": utc_iso(c.started_at),
        }
        for c in same
    ] or f"{len(calls)} call(s), none from {params['number']}"
    if len(same) != 1:
        note = f"{len(same)} {params['direction']} calls from {params['number']} on the lead, not one"
        return Judgement(False, expected=expected, observed=observed, note=note)
    call, wrong = same[0], []
    if call.duration_seconds != params["duration_seconds"]:
        wrong.append(f"duration {call.duration_seconds} s instead of {params['duration_seconds']} s")
    if abs(call.started_at - started) > tolerance:
        wrong.append(f"started at {utc_iso(call.started_at)} instead of {utc_iso(started)}")
    return Judgement(not wrong, expected=expected, observed=observed, note="; ".join(wrong))
