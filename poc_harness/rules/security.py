"""Rules of the security suite: one cell of the access-control matrix (and what a write it allowed or
refused left behind), an endpoint refusing a request without valid credentials, the role an anonymous
sign-up got, the audit log's entry for a write the harness made, the audit log's retention, and the
SAML service-provider metadata."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from poc_harness.contract.adapter import PRIVILEGED_ROLES, CRMAdapter, RecordKind
from poc_harness.contract.model import AuditAction, utc_iso
from poc_harness.contract.observed import not_observed
from poc_harness.probes.saml import inspect_sp_metadata
from poc_harness.rules import Judgement, rule


@rule("lead_title")
def lead_title(adapter: CRMAdapter, lead_id: str, params: dict[str, Any]) -> Judgement:
    """The lead's title is ``title`` (a change that was refused left it as it was)."""
    lead = adapter.get_lead(lead_id)
    if lead.title is None:
        raise not_observed(adapter.name, ["lead's title"])
    return Judgement(lead.title == params["title"], expected=params["title"], observed=lead.title)


@rule("access_cell")
def access_cell(adapter: CRMAdapter, record_id: str, params: dict[str, Any]) -> Judgement:
    """The rep got what the cell expects (allowed on their own team's record, refused on another team's),
    and an update or delete took effect exactly when allowed (as the API user read the record back)."""
    cell = f"{params['kind']} x {params['operation']} on {params['team']} record"
    expected, observed, problems = params["expected"], params["observed"], []
    if observed != expected:
        problems.append(f"the rep was {observed}")
    applied, left = params.get("applied"), params.get("left", "")
    if applied is not None and applied != (expected == "allowed"):
        problems.append(f"the write {'took' if applied else 'did not take'} effect ({left})")
    note = f"{cell}: {'; '.join(problems)}" if problems else ""
    if not problems and applied is None and left:
        note = f"{cell}: {left}"  # what the write left could not be read back
    return Judgement(
        not problems,
        expected=expected,
        observed=observed + (f" ({left})" if left else ""),
        note=note,
        extra={"cell": cell},
    )


@rule("refused_without_credentials")
def refused_without_credentials(adapter: CRMAdapter, path: str, params: dict[str, Any]) -> Judgement:
    """The endpoint answers 401 or 403 to a request with no token, or with a made-up one."""
    token = None if params["credential"] == "no token" else f"poc-garbage-{secrets.token_urlsafe(18)}"
    status = adapter.call_anonymously(params["method"], path, token)
    where = f"{params['method']} {params['route']} with {params['credential']}"
    refused = status in (401, 403)
    return Judgement(
        refused,
        expected="HTTP 401 or 403",
        observed=f"HTTP {status}",
        note="" if refused else f"{where}: answered without valid credentials",
        extra={"request": where},
    )


@rule("self_registered_role")
def self_registered_role(adapter: CRMAdapter, user_id: str, params: dict[str, Any]) -> Judgement:
    """A user registered anonymously asking for a privileged role did not get one (or was not made)."""
    asked = params["requested"]
    role = adapter.user_role(user_id) if user_id else None
    observed = f"asked {asked}: " + ("the sign-up was refused" if role is None else f"got {role}")
    return Judgement(
        role not in PRIVILEGED_ROLES,
        expected=f"asked {asked}: refused, or a role other than {', '.join(sorted(PRIVILEGED_ROLES))}",
        observed=observed,
        note="" if role not in PRIVILEGED_ROLES else "anonymous sign-up made a privileged user",
    )


@rule("audit_entry")
def audit_entry(adapter: CRMAdapter, record_id: str, params: dict[str, Any]) -> Judgement:
    """The audit log shows the write: its action on the record, by the actor, at its time ± tolerance.
    The n-th write of one action on one record by one actor (``nth``) needs n such entries: an update
    and a conversion of the same lead are two entries, not one."""
    action, actor, nth = AuditAction(params["action"]), params["actor"], int(params.get("nth", 1))
    at, tolerance = datetime.fromisoformat(params["at"]), timedelta(seconds=float(params["tolerance_s"]))
    entries = adapter.audit_entries(RecordKind(params["kind"]), record_id, at - tolerance)
    same = [entry for entry in entries if entry.action is action]
    matches = [entry for entry in same if entry.actor_id == actor and abs(entry.at - at) <= tolerance]
    what = f"{params['what']}, {params['path']} write: " if params.get("what") else ""
    count = f"{nth} " if nth > 1 else ""
    expected = f"{what}{count}{action.value} by {actor} at {utc_iso(at)} ± {tolerance.total_seconds():g} s"
    observed = [f"{e.action.value} by {e.actor_id} at {utc_iso(e.at)}" for e in entries]
    note = ""
    if not matches:
        note = f"no {action.value} entry" if not same else f"{action.value} entry with another actor or time"
    elif len(matches) < nth:
        note = f"{len(matches)} {action.value} entries for {nth} writes"
    return Judgement(len(matches) >= nth, expected=expected, observed=observed or "no entries", note=note)


@rule("audit_retention")
def audit_retention(adapter: CRMAdapter, _: str, params: dict[str, Any]) -> Judgement:
    """The vendor's settings keep the audit log at least ``min_days`` days."""
    settings = adapter.audit_settings()
    wanted = int(params["min_days"])
    return Judgement(
        settings.retention_days >= wanted,
        expected=f">= {wanted} days",
        observed=f"{settings.retention_days} days",
        extra={"export_formats": settings.export_formats},
    )


@rule("saml_sp_metadata")
def saml_sp_metadata(adapter: CRMAdapter, _: str, params: dict[str, Any]) -> Judgement:
    """The SAML 2.0 SP metadata is valid, names an entityID and an HTTP-POST consumer over https."""
    report = inspect_sp_metadata(adapter.saml_sp_metadata())
    return Judgement(
        report.valid,
        expected="valid SAML 2.0 SP metadata: entityID, HTTP-POST assertion consumer service over https",
        observed="valid" if report.valid else "; ".join(report.problems),
        extra=report.evidence(),
    )
