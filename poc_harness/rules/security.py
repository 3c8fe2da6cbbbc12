"""Rules of the security suite: a lead's title after the access probe, the audit log's entry for a
write the harness made, the audit log's retention, and the SAML service-provider metadata."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from poc_harness.adapter import CRMAdapter, RecordKind
from poc_harness.errors import CapabilityMissing
from poc_harness.model import AuditAction, utc_iso
from poc_harness.rules import Verdict, rule
from poc_harness.saml import inspect_sp_metadata


@rule("lead_title")
def lead_title(adapter: CRMAdapter, lead_id: str, params: dict[str, Any]) -> Verdict:
    """The lead's title is ``title`` (a change that was refused left it as it was)."""
    lead = adapter.get_lead(lead_id)
    if lead.title is None:
        raise CapabilityMissing(f"the {adapter.name} adapter does not read a lead's title")
    return Verdict(lead.title == params["title"], expected=params["title"], observed=lead.title)


@rule("audit_entry")
def audit_entry(adapter: CRMAdapter, record_id: str, params: dict[str, Any]) -> Verdict:
    """The audit log shows the write: its action on the record, by the actor, at its time ± tolerance."""
    action, actor = AuditAction(params["action"]), params["actor"]
    at, tolerance = datetime.fromisoformat(params["at"]), timedelta(seconds=float(params["tolerance_s"]))
    entries = adapter.audit_entries(RecordKind(params["kind"]), record_id, at - tolerance)
    same = [entry for entry in entries if entry.action is action]
    match = next(
        (entry for entry in same if entry.actor_id == actor and abs(entry.at - at) <= tolerance), None
    )
    expected = f"{action.value} by {actor} at {utc_iso(at)} ± {tolerance.total_seconds():g} s"
    observed = [f"{e.action.value} by {e.actor_id} at {utc_iso(e.at)}" for e in entries]
    note = ""
    if match is None:
        note = f"no {action.value} entry" if not same else f"{action.value} entry with another actor or time"
    return Verdict(match is not None, expected=expected, observed=observed or "no entries", note=note)


@rule("audit_retention")
def audit_retention(adapter: CRMAdapter, _: str, params: dict[str, Any]) -> Verdict:
    """The vendor's settings keep the audit log at least ``min_days`` days."""
    settings = adapter.audit_settings()
    wanted = int(params["min_days"])
    return Verdict(
        settings.retention_days >= wanted,
        expected=f">= {wanted} days",
        observed=f"{settings.retention_days} days",
        extra={"export_formats": settings.export_formats},
    )


@rule("saml_sp_metadata")
def saml_sp_metadata(adapter: CRMAdapter, _: str, params: dict[str, Any]) -> Verdict:
    """The SAML 2.0 SP metadata is valid, names an entityID and an HTTP-POST consumer over https."""
    report = inspect_sp_metadata(adapter.saml_sp_metadata())
    return Verdict(
        report.valid,
        expected="valid SAML 2.0 SP metadata: entityID, HTTP-POST assertion consumer service over https",
        observed="valid" if report.valid else "; ".join(report.problems),
        extra=report.evidence(),
    )
